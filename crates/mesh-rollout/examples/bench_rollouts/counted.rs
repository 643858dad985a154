//! The in-memory mesh, counting what would be API requests on a real server.

use std::sync::atomic::{AtomicUsize, Ordering};

use mesh::{
    ApplyReport, BoxFuture, Capabilities, Change, DynMeshBackend, DynObservability, DynStateStore, MeshKind,
    MtlsStatus, Namespace, Plan, Result, StateKey, StoredState, testing::FakeMesh,
};

/// [`FakeMesh`] with counters.
pub(crate) struct Counted {
    inner: FakeMesh,
    applies: AtomicUsize,
    state_reads: AtomicUsize,
    state_writes: AtomicUsize,
}

impl Counted {
    pub(crate) fn new(kind: MeshKind) -> Self {
        Self {
            inner: FakeMesh::new(kind),
            applies: AtomicUsize::new(0),
            state_reads: AtomicUsize::new(0),
            state_writes: AtomicUsize::new(0),
        }
    }

    /// `(object writes, state reads, state writes)` so far.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (
            self.applies.load(Ordering::Relaxed),
            self.state_reads.load(Ordering::Relaxed),
            self.state_writes.load(Ordering::Relaxed),
        )
    }
}

impl DynMeshBackend for Counted {
    fn kind(&self) -> MeshKind {
        DynMeshBackend::kind(&self.inner)
    }
    fn capabilities(&self) -> Capabilities {
        DynMeshBackend::capabilities(&self.inner)
    }
    fn plan_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<Plan>> {
        self.inner.plan_dyn(change)
    }
    fn apply_dyn<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<ApplyReport>> {
        self.applies.fetch_add(plan.writes.len(), Ordering::Relaxed);
        self.inner.apply_dyn(plan)
    }
    fn execute_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<ApplyReport>> {
        Box::pin(async move {
            let plan = self.plan_dyn(change).await?;
            self.apply_dyn(&plan).await
        })
    }
    fn mtls_status_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<MtlsStatus>> {
        self.inner.mtls_status_dyn(namespace)
    }
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        Some(self)
    }
    fn observability(&self) -> Option<&dyn DynObservability> {
        DynMeshBackend::observability(&self.inner)
    }
}

/// The in-memory state store, counting reads and writes.
impl DynStateStore for Counted {
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>> {
        self.state_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_state_dyn(key)
    }
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>> {
        self.state_writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write_state_dyn(key, value, expected)
    }
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>> {
        self.inner.delete_state_dyn(key, expected)
    }
}
