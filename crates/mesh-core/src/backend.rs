//! The backend contract every mesh implements, and its object-safe shim.
//!
//! # The contract
//! 1. [`MeshBackend::plan`] validates the whole [`Change`] before anything else, may read the
//!    control plane, and writes nothing. Bad input is an [`Error::InvalidInput`]; a feature the mesh
//!    lacks is an [`Error::Unsupported`].
//! 2. Every prefix of a plan is safe ([`Plan::check_safe_prefixes`]): no route ever points at a
//!    subset, Service or resolver that does not exist yet.
//! 3. [`MeshBackend::apply`] writes in plan order. If write *k* fails it returns
//!    [`Error::PartiallyApplied`] listing exactly writes `1..k`.
//! 4. Re-running the same change converges: planning it again after it landed yields a plan whose
//!    application leaves the control plane unchanged.

use std::{future::Future, pin::Pin};

use crate::{
    ApplyReport, Capabilities, Change, Error, Feature, MeshKind, MtlsStatus, Namespace, Plan, Result,
    ServiceGraph, ServiceId, ServiceMetrics, StateKey, StoredState, TimeRange, Trace,
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

    /// Reads the mTLS state of a namespace.
    fn mtls_status(&self, namespace: &Namespace) -> impl Future<Output = Result<MtlsStatus>> + Send {
        let _ = namespace;
        async move {
            Err(Error::unsupported(
                self.kind(),
                crate::Feature::MtlsStatus,
                "this backend cannot read mTLS status",
            ))
        }
    }

    /// Request metrics of a service over a window.
    fn get_service_metrics(
        &self,
        service: &ServiceId,
        range: TimeRange,
    ) -> impl Future<Output = Result<ServiceMetrics>> + Send {
        let _ = (service, range);
        async {
            Err(Error::not_configured(
                "metrics source",
                "configure a Prometheus URL (PROMETHEUS_URL)",
            ))
        }
    }

    /// Up to `limit` recent traces through a service.
    fn get_service_traces(
        &self,
        service: &ServiceId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Trace>>> + Send {
        let _ = (service, limit);
        async {
            Err(Error::not_configured(
                "tracing backend",
                "configure a tracing URL (TRACING_URL)",
            ))
        }
    }

    /// The observed service graph of a namespace.
    fn get_service_graph(&self, namespace: &Namespace) -> impl Future<Output = Result<ServiceGraph>> + Send {
        let _ = namespace;
        async {
            Err(Error::not_configured(
                "metrics source",
                "configure a Prometheus URL (PROMETHEUS_URL)",
            ))
        }
    }

    /// Reads state kept on the control plane (see [`StateKey`]).
    fn read_state(&self, key: &StateKey) -> impl Future<Output = Result<Option<StoredState>>> + Send {
        let _ = key;
        async move {
            Err(Error::unsupported(
                self.kind(),
                Feature::StateStore,
                "this backend keeps no state",
            ))
        }
    }

    /// Writes state with compare-and-swap: `expected` is the version read, `None` means "must not
    /// exist yet". Returns the new version. A lost race is [`Error::Conflict`].
    fn write_state(
        &self,
        key: &StateKey,
        value: &str,
        expected: Option<&str>,
    ) -> impl Future<Output = Result<String>> + Send {
        let _ = (key, value, expected);
        async move {
            Err(Error::unsupported(
                self.kind(),
                Feature::StateStore,
                "this backend keeps no state",
            ))
        }
    }

    /// Deletes state if it is still at `expected`. A lost race is [`Error::Conflict`].
    fn delete_state(&self, key: &StateKey, expected: &str) -> impl Future<Output = Result<()>> + Send {
        let _ = (key, expected);
        async move {
            Err(Error::unsupported(
                self.kind(),
                Feature::StateStore,
                "this backend keeps no state",
            ))
        }
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
    /// See [`MeshBackend::get_service_metrics`].
    fn metrics_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>>;
    /// See [`MeshBackend::get_service_traces`].
    fn traces_dyn<'a>(&'a self, service: &'a ServiceId, limit: usize) -> BoxFuture<'a, Result<Vec<Trace>>>;
    /// See [`MeshBackend::get_service_graph`].
    fn graph_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<ServiceGraph>>;
    /// See [`MeshBackend::read_state`].
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>>;
    /// See [`MeshBackend::write_state`].
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>>;
    /// See [`MeshBackend::delete_state`].
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>>;
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
    fn metrics_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Box::pin(self.get_service_metrics(service, range))
    }
    fn traces_dyn<'a>(&'a self, service: &'a ServiceId, limit: usize) -> BoxFuture<'a, Result<Vec<Trace>>> {
        Box::pin(self.get_service_traces(service, limit))
    }
    fn graph_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<ServiceGraph>> {
        Box::pin(self.get_service_graph(namespace))
    }
    fn read_state_dyn<'a>(&'a self, key: &'a StateKey) -> BoxFuture<'a, Result<Option<StoredState>>> {
        Box::pin(self.read_state(key))
    }
    fn write_state_dyn<'a>(
        &'a self,
        key: &'a StateKey,
        value: &'a str,
        expected: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(self.write_state(key, value, expected))
    }
    fn delete_state_dyn<'a>(&'a self, key: &'a StateKey, expected: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete_state(key, expected))
    }
}
