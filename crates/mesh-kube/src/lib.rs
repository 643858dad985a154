//! The Kubernetes engine shared by the Istio and Linkerd backends of `mesh`.
//!
//! # Overview
//! - [`schema`]: offline validation of any object against the pinned upstream CRD schemas
//!   (structural checks and CEL rules), what `meshctl validate` offers users.
//!
//! # Features
//! - `testing`: a scripted in-memory Kubernetes API server for backend tests.

pub mod schema;
