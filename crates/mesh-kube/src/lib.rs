//! The Kubernetes engine shared by the Istio and Linkerd backends of `mesh`.
//!
//! # Overview
//! - [`KubeEngine`]: reads objects and applies a [`Plan`](mesh_core::Plan) with server-side
//!   apply and a fixed field manager, a server-side dry run of every write first, retries with
//!   backoff ([`RetryPolicy`]), and typed errors: a missing CRD is `NotConfigured` naming the CRD
//!   and the mesh, an apply conflict is `Conflict` naming the other field manager, a failure
//!   part-way is `PartiallyApplied` with exactly what landed.
//! - [`schema`]: offline validation of any object against the pinned upstream CRD schemas
//!   (structural checks and CEL rules), what `meshctl validate` offers users.
//! - [`render`]: a plan as multi-document YAML, to a writer or a folder, with no cluster.
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
//! - `testing`: [`testing::FakeApiServer`], a scripted in-memory Kubernetes API server that
//!   records requests, for backend tests.

mod engine;
mod error;
mod ownership;
pub mod render;
mod request;
mod resources;
mod retry;
pub mod schema;
#[cfg(feature = "testing")]
pub mod testing;

pub use engine::{DEFAULT_FIELD_MANAGER, KubeEngine};
pub use error::KubeError;
pub use ownership::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, annotate, is_owned, mark_owned, object_for};
pub use resources::ResourceType;
pub use retry::RetryPolicy;
