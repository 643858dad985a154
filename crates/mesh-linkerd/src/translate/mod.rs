//! Pure translation from `mesh-core` types to Linkerd and Kubernetes objects (`serde_json::Value`).
//!
//! One file per concept. Nothing here reads or writes the cluster: the planner reads what a change
//! needs and passes it in.

pub mod authorization;
pub mod circuit_breaker;
pub mod fault;
pub mod http_route;
pub mod mtls;
pub mod register;
pub mod retry;
pub mod smi;
pub mod subsets;
