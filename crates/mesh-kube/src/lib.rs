//! The Kubernetes engine shared by the Istio and Linkerd backends of `mesh`.
//!
//! # Overview
//! - [`schema`]: offline validation of any object against the pinned upstream CRD schemas
//!   (structural checks and CEL rules), what `meshctl validate` offers users.
//! - [`render`]: a [`Plan`](mesh_core::Plan) as multi-document YAML, to a writer or a folder, with
//!   no cluster.
//! - Ownership marks ([`mark_owned`], [`object_for`]) and where each kind lives in the API
//!   ([`ResourceType`]).
//!
//! ```
//! use mesh_kube::schema::SchemaSet;
//! let obj = serde_json::json!({
//!     "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
//!     "metadata": { "name": "default", "namespace": "prod" },
//!     "spec": { "mtls": { "mode": "STRICT" } }
//! });
//! assert!(SchemaSet::bundled().validate(&obj).is_ok());
//! ```
//!
//! # Features
//! - `testing`: a scripted in-memory Kubernetes API server for backend tests.

mod ownership;
pub mod render;
mod resources;
pub mod schema;

pub use ownership::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, annotate, is_owned, mark_owned, object_for};
pub use resources::ResourceType;
