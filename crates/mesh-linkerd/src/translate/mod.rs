//! Pure translation from `mesh-core` types to Linkerd and Kubernetes objects (`serde_json::Value`).
//!
//! One file per concept. Nothing here reads or writes the cluster: the planner reads what a change
//! needs and passes it in.

pub(crate) mod authorization;
pub(crate) mod circuit_breaker;
pub(crate) mod fault;
pub(crate) mod http_route;
pub(crate) mod mtls;
pub(crate) mod register;
pub(crate) mod retry;
pub(crate) mod smi;
pub(crate) mod subsets;
