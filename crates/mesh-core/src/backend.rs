//! The backend contract every mesh implements, and its object-safe shim.
//!
//! The contract is small, in the spirit of tower's `Service`: what every mesh does (its kind and
//! capabilities, plan, apply, execute, its mTLS status). What only some backends do is a contract
//! of its own: [`StateStore`](crate::StateStore) (state kept on the control plane with
//! compare-and-swap) and [`Observability`](crate::Observability) (metrics, traces, the graph). A
//! backend hands them out through [`MeshBackend::state_store`] and
//! [`MeshBackend::observability`], and `Mesh` composes them with the telemetry sources it is
//! given, so that no backend carries a body it cannot fill.
//!
//! # The contract
//! 1. [`MeshBackend::plan`] validates the whole [`Change`] before anything else, may read the
//!    control plane, and writes nothing. Bad input is an
//!    [`Error::InvalidInput`](crate::Error::InvalidInput); a feature the mesh lacks is an
//!    [`Error::Unsupported`](crate::Error::Unsupported).
//! 2. Every prefix of a plan is safe ([`Plan::check_safe_prefixes`]): no route ever points at a
//!    subset, Service or resolver that does not exist yet.
//! 3. [`MeshBackend::apply`] writes in plan order. If write *k* fails it returns
//!    [`Error::PartiallyApplied`](crate::Error::PartiallyApplied) listing exactly writes `1..k`.
//! 4. Re-running the same change converges: planning it again after it landed yields a plan whose
//!    application leaves the control plane unchanged.

use std::{future::Future, pin::Pin};

use crate::{
    ApplyReport, Capabilities, Change, DynObservability, DynStateStore, MeshKind, MtlsStatus, Namespace,
    Plan, Result,
};

/// A boxed, `Send` future, as the object-safe shim returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One mesh's implementation of every operation.
pub trait MeshBackend: Send + Sync + 'static {
    /// Which mesh this is.
    fn kind(&self) -> MeshKind;

    /// What this mesh (at its detected or configured version) supports.
    fn capabilities(&self) -> Capabilities;

    /// Turns a change into an ordered plan of writes. Writes nothing.
    fn plan(&self, change: &Change) -> impl Future<Output = Result<Plan>> + Send;

    /// Applies a plan in order.
    fn apply(&self, plan: &Plan) -> impl Future<Output = Result<ApplyReport>> + Send;

    /// Plans and applies `change`.
    fn execute(&self, change: &Change) -> impl Future<Output = Result<ApplyReport>> + Send {
        async move {
            let plan = self.plan(change).await?;
            self.apply(&plan).await
        }
    }

    /// Reads the mTLS state of a namespace: every mesh has one to report.
    fn mtls_status(&self, namespace: &Namespace) -> impl Future<Output = Result<MtlsStatus>> + Send;

    /// The state store this mesh keeps on its control plane, when it keeps one: a backend that
    /// also implements [`StateStore`](crate::StateStore) (or holds one) returns it here, and `Mesh` reads and writes
    /// state through it. `None` (the default) means the mesh keeps no state.
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        None
    }

    /// Metrics, traces and the graph that the backend answers itself (an in-memory mesh). The
    /// real meshes answer none: their telemetry is read from Prometheus and a tracing backend,
    /// which `Mesh` composes with the backend. `None` (the default) means the backend answers none.
    fn observability(&self) -> Option<&dyn DynObservability> {
        None
    }
}

/// The object-safe form of [`MeshBackend`], for choosing the mesh at run time. Every
/// `T: MeshBackend` implements it.
pub trait DynMeshBackend: Send + Sync + 'static {
    /// See [`MeshBackend::kind`].
    fn kind(&self) -> MeshKind;
    /// See [`MeshBackend::capabilities`].
    fn capabilities(&self) -> Capabilities;
    /// See [`MeshBackend::plan`].
    fn plan_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<Plan>>;
    /// See [`MeshBackend::apply`].
    fn apply_dyn<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<ApplyReport>>;
    /// See [`MeshBackend::execute`]: the backend's own plan-and-apply, which re-plans on a
    /// conflict where the backend knows how to merge a concurrent edit.
    fn execute_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<ApplyReport>>;
    /// See [`MeshBackend::mtls_status`].
    fn mtls_status_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<MtlsStatus>>;
    /// See [`MeshBackend::state_store`].
    fn state_store(&self) -> Option<&dyn DynStateStore>;
    /// See [`MeshBackend::observability`].
    fn observability(&self) -> Option<&dyn DynObservability>;
}

impl<T: MeshBackend> DynMeshBackend for T {
    fn kind(&self) -> MeshKind {
        MeshBackend::kind(self)
    }
    fn capabilities(&self) -> Capabilities {
        MeshBackend::capabilities(self)
    }
    fn plan_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<Plan>> {
        Box::pin(self.plan(change))
    }
    fn apply_dyn<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<ApplyReport>> {
        Box::pin(self.apply(plan))
    }
    fn execute_dyn<'a>(&'a self, change: &'a Change) -> BoxFuture<'a, Result<ApplyReport>> {
        Box::pin(self.execute(change))
    }
    fn mtls_status_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<MtlsStatus>> {
        Box::pin(self.mtls_status(namespace))
    }
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        MeshBackend::state_store(self)
    }
    fn observability(&self) -> Option<&dyn DynObservability> {
        MeshBackend::observability(self)
    }
}
