//! What a plan is computed against: objects read from the cluster, or simulated.

use std::future::Future;

use mesh_core::{ObjectRef, Result};
use mesh_kube::Snapshot;
use serde_json::Value;

/// Reads objects for planning. The backend reads through the Kubernetes engine; tests and the
/// offline renderer read a [`Snapshot`].
pub trait Reader: Sync {
    /// The object at `target`, or `None` when it does not exist.
    fn get(&self, target: &ObjectRef) -> impl Future<Output = Result<Option<Value>>> + Send;
}

impl Reader for Snapshot {
    fn get(&self, target: &ObjectRef) -> impl Future<Output = Result<Option<Value>>> + Send {
        let found = Snapshot::get(self, target).cloned();
        async move { Ok(found) }
    }
}
