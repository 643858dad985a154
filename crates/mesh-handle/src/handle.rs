//! The cheap-to-clone `Mesh` handle.

use std::sync::Arc;

use mesh_core::{
    ApplyReport, AuthorizationPolicy, Capabilities, Change, CircuitBreaker, DestinationPolicy,
    DynMeshBackend, DynObservability, DynStateStore, Error, Fault, FaultId, Feature, MeshBackend, MeshKind,
    MtlsStatus, Namespace, Plan, Registration, Result, RetryPolicy, ServiceDefinition, ServiceGraph,
    ServiceId, ServiceMetrics, ServiceName, ServiceRoutes, StateKey, StoredState, TimeRange, TimedEvent,
    Trace, TrafficSplit,
};
use tokio::sync::{Semaphore, SemaphorePermit, broadcast};

use crate::{ConnectOptions, Events};
use tracing::Instrument as _;

/// How many events a slow subscriber may fall behind before it starts losing the oldest ones.
/// Operations never wait for subscribers.
const EVENT_BUFFER: usize = 1024;

/// A handle on one mesh. Cloning is cheap and clones share the backend and the event stream.
///
/// It composes the backend's contracts: the operations go to its [`MeshBackend`], the state to
/// its [`StateStore`](mesh_core::StateStore) ([`MeshBackend::state_store`]), and metrics, traces
/// and the graph to the telemetry sources it was given (`Mesh::with_telemetry`), else to the
/// backend's own [`Observability`](mesh_core::Observability). What none of them serves is a
/// typed error: [`Error::Unsupported`] for state, [`Error::NotConfigured`] for telemetry.
#[derive(Clone)]
pub struct Mesh {
    backend: Arc<dyn DynMeshBackend>,
    events: broadcast::Sender<TimedEvent>,
    #[cfg(feature = "telemetry")]
    telemetry: Option<Arc<mesh_telemetry::Telemetry>>,
    /// Bounds the control-plane operations in flight through this handle and its clones.
    in_flight: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl Mesh {
    /// Wraps any backend.
    pub fn from_backend(backend: impl MeshBackend) -> Self {
        Self::from_dyn(Arc::new(backend))
    }

    /// Wraps a backend chosen at run time.
    pub fn from_dyn(backend: Arc<dyn DynMeshBackend>) -> Self {
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            backend,
            events,
            #[cfg(feature = "telemetry")]
            telemetry: None,
            in_flight: None,
        }
    }

    /// At most `limit` control-plane operations (a plan, an apply, an execute, a state read,
    /// write or delete) in flight at once through this handle and its clones (at least one);
    /// the others wait before they start, so their request timeouts do not run while they wait.
    /// A process that drives thousands of rollouts whose stages fall due together sends them
    /// to the control plane a bounded number at a time, instead of all at once.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use mesh_handle::{Change, Mesh, MeshKind};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mesh = Mesh::fake(MeshKind::Istio).with_max_in_flight(2);
    /// let changes = ["team-a", "team-b", "team-c"]
    ///     .map(|ns| Change::EnableMtls { namespace: ns.parse().unwrap() });
    /// assert!(mesh.execute_all(changes, 3).await.iter().all(Result::is_ok));
    /// # });
    /// # }
    /// ```
    #[must_use]
    pub fn with_max_in_flight(mut self, limit: usize) -> Self {
        self.in_flight = Some(Arc::new(Semaphore::new(limit.max(1))));
        self
    }

    /// A permit to start a control-plane operation, when the handle is bounded.
    async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        match &self.in_flight {
            // The semaphore is never closed.
            Some(s) => s.acquire().await.ok(),
            None => None,
        }
    }

    /// Reads metrics, traces and the graph from `telemetry` (Prometheus, a tracing backend,
    /// Kiali) with this mesh's dialect, instead of asking the backend.
    #[cfg(feature = "telemetry")]
    #[must_use]
    pub fn with_telemetry(mut self, telemetry: mesh_telemetry::Telemetry) -> Self {
        self.telemetry = Some(Arc::new(telemetry));
        self
    }

    /// The live backend of `kind`, configured the usual way: a kubeconfig or the in-cluster
    /// service account for Istio and Linkerd, the `CONSUL_HTTP_*` variables for Consul, and
    /// telemetry from `PROMETHEUS_URL`, `TRACING_URL`/`TRACING_KIND` and `KIALI_URL`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when the backend's feature is off or its configuration is missing.
    pub async fn connect(kind: MeshKind) -> Result<Self> {
        Self::connect_with(kind, &ConnectOptions::default()).await
    }

    /// [`Mesh::connect`] with settings: each backend's configuration, the emulation opt-ins and
    /// the telemetry sources ([`ConnectOptions`]).
    ///
    /// # Errors
    /// As [`Mesh::connect`].
    pub async fn connect_with(kind: MeshKind, options: &ConnectOptions) -> Result<Self> {
        Self::ensure_compiled_in(kind)?;
        let _ = options;
        #[cfg_attr(
            not(any(feature = "istio", feature = "linkerd", feature = "consul")),
            allow(unused_mut)
        )]
        let mut mesh: Option<Self> = None;
        #[cfg(feature = "istio")]
        if kind == MeshKind::Istio {
            let backend = mesh_istio::IstioBackend::try_default_with(options.istio.clone()).await?;
            mesh = Some(Self::from_backend(backend));
        }
        #[cfg(feature = "linkerd")]
        if kind == MeshKind::Linkerd {
            let backend = mesh_linkerd::LinkerdBackend::try_default(options.linkerd.clone()).await?;
            mesh = Some(Self::from_backend(backend));
        }
        #[cfg(feature = "consul")]
        if kind == MeshKind::Consul {
            let backend = options.consul_backend()?;
            mesh = Some(Self::from_backend(backend));
        }
        let mesh =
            mesh.ok_or_else(|| Error::not_configured(format!("the {kind} backend"), "enable its feature"))?;
        #[cfg(feature = "telemetry")]
        let mesh = {
            let telemetry = match &options.telemetry {
                Some(t) => t.clone(),
                None => mesh_telemetry::Telemetry::from_env()
                    .map_err(|e| Error::not_configured("telemetry", e.to_string()))?,
            };
            mesh.with_telemetry(telemetry)
        };
        Ok(mesh)
    }

    /// The live backend of whichever mesh is there: Consul when `CONSUL_HTTP_ADDR` is set, else
    /// Istio or Linkerd, from the CRDs the cluster of the usual Kubernetes configuration serves.
    /// Then as [`Mesh::connect_with`].
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when no mesh is found, or both Istio's and Linkerd's CRDs are
    /// served (name it then), or its backend's feature is off; as [`Mesh::connect_with`].
    pub async fn connect_auto(options: &ConnectOptions) -> Result<Self> {
        Self::connect_with(Self::detect().await?, options).await
    }

    /// Which mesh [`Mesh::connect_auto`] connects to.
    ///
    /// # Errors
    /// As [`Mesh::connect_auto`].
    pub async fn detect() -> Result<MeshKind> {
        if cfg!(feature = "consul") && std::env::var_os("CONSUL_HTTP_ADDR").is_some() {
            return Ok(MeshKind::Consul);
        }
        #[cfg(any(feature = "istio", feature = "linkerd"))]
        {
            let engine = mesh_kube::KubeEngine::try_default(MeshKind::Istio).await?;
            mesh_kube::detect::mesh_of_cluster(&engine).await
        }
        #[cfg(not(any(feature = "istio", feature = "linkerd")))]
        Err(Error::not_configured(
            "the mesh",
            "set CONSUL_HTTP_ADDR (with the `consul` feature), or enable `istio` or `linkerd`",
        ))
    }

    /// An in-memory mesh that behaves like `kind` with every feature native.
    #[cfg(feature = "testing")]
    pub fn fake(kind: MeshKind) -> Self {
        Self::from_backend(mesh_core::testing::FakeMesh::new(kind))
    }

    /// Checks that the backend for `kind` is compiled in.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] naming the cargo feature to enable.
    pub fn ensure_compiled_in(kind: MeshKind) -> Result<()> {
        let enabled = match kind {
            MeshKind::Istio => cfg!(feature = "istio"),
            MeshKind::Linkerd => cfg!(feature = "linkerd"),
            MeshKind::Consul => cfg!(feature = "consul"),
        };
        if enabled {
            Ok(())
        } else {
            Err(Error::not_configured(
                format!("the {kind} backend"),
                format!("enable the `{kind}` feature of the `mesh` crate"),
            ))
        }
    }

    /// Which mesh this is.
    pub fn kind(&self) -> MeshKind {
        self.backend.kind()
    }

    /// What the mesh supports.
    pub fn capabilities(&self) -> Capabilities {
        self.backend.capabilities()
    }

    /// A new subscription to the event stream: every event with its time, or only some names
    /// ([`Events::only`]). A subscriber that falls more than 1024 events behind gets
    /// `RecvError::Lagged` and skips ahead; it never slows an operation down.
    pub fn subscribe(&self) -> Events {
        Events::new(self.events.subscribe())
    }

    /// Plans `change` without writing anything.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] or [`Error::Unsupported`] before any read; backend errors from reads.
    pub async fn plan(&self, change: &Change) -> Result<Plan> {
        let span = tracing::info_span!("mesh.plan", mesh = %self.kind(), op = change.operation());
        let _permit = self.permit().await;
        self.backend.plan_dyn(change).instrument(span).await
    }

    /// Applies a plan and publishes its event.
    ///
    /// # Errors
    /// [`Error::PartiallyApplied`] when a write after the first fails; other backend errors.
    pub async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let span = tracing::info_span!("mesh.apply", mesh = %self.kind(), op = plan.change.operation(), writes = plan.writes.len());
        let _permit = self.permit().await;
        let report = self.backend.apply_dyn(plan).instrument(span).await?;
        Ok(self.publish(report))
    }

    /// Sends the event of a change that landed to every subscriber.
    fn publish(&self, report: ApplyReport) -> ApplyReport {
        if let Some(why) = &report.pending {
            tracing::debug!(event = report.event.name(), why, "nothing took effect; no event");
            return report;
        }
        // A send error only means nobody is subscribed.
        let _ = self.events.send(TimedEvent {
            at: std::time::SystemTime::now(),
            event: report.event.clone(),
        });
        tracing::debug!(
            event = report.event.name(),
            writes = report.applied.len(),
            "change applied"
        );
        report
    }

    /// Plans and applies `change` through the backend's own execute, so a concurrent edit that the
    /// backend can merge (it re-plans on a conflict) is merged instead of failing with
    /// [`Error::Conflict`]. Publishes the change's event.
    ///
    /// # Errors
    /// As [`Mesh::plan`] and [`Mesh::apply`].
    pub async fn execute(&self, change: Change) -> Result<ApplyReport> {
        let span = tracing::info_span!("mesh.execute", mesh = %self.kind(), op = change.operation());
        let _permit = self.permit().await;
        let report = self.backend.execute_dyn(&change).instrument(span).await?;
        Ok(self.publish(report))
    }

    /// Executes independent changes, at most `concurrency` at a time (at least one), each through
    /// [`Mesh::execute`]; the results come in the order of `changes`. A change never waits for
    /// one it does not follow in the queue beyond the bound, and one failure does not stop the
    /// others. Changes to the same object are still safe: the loser of a race re-plans.
    ///
    /// ```
    /// # #[cfg(feature = "testing")] {
    /// use mesh_handle::{Change, Mesh, MeshKind};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mesh = Mesh::fake(MeshKind::Istio);
    /// let changes = ["team-a", "team-b", "team-c"]
    ///     .map(|ns| Change::EnableMtls { namespace: ns.parse().unwrap() });
    /// let results = mesh.execute_all(changes, 2).await;
    /// assert_eq!(results.len(), 3);
    /// assert!(results.iter().all(Result::is_ok));
    /// # });
    /// # }
    /// ```
    pub async fn execute_all(
        &self,
        changes: impl IntoIterator<Item = Change>,
        concurrency: usize,
    ) -> Vec<Result<ApplyReport>> {
        use futures_util::StreamExt as _;
        futures_util::stream::iter(changes)
            .map(|change| self.execute(change))
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// `registerService`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn register_service(&self, definition: &ServiceDefinition) -> Result<Registration> {
        let plan = self.plan(&Change::RegisterService(definition.clone())).await?;
        let already_registered = plan.is_noop() && plan.pending.is_none();
        self.apply(&plan).await?;
        Ok(Registration {
            service_id: definition.id(),
            mesh: self.kind(),
            already_registered,
        })
    }

    /// `unregisterService`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the service is unknown; as [`Mesh::execute`].
    pub async fn unregister_service(&self, service: &ServiceId) -> Result<ApplyReport> {
        self.execute(Change::UnregisterService {
            service: service.clone(),
        })
        .await
    }

    /// `createVirtualService`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn create_virtual_service(&self, routes: &ServiceRoutes) -> Result<ApplyReport> {
        self.execute(Change::CreateVirtualService(routes.clone())).await
    }

    /// `createDestinationRule`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn create_destination_rule(&self, policy: &DestinationPolicy) -> Result<ApplyReport> {
        self.execute(Change::CreateDestinationRule(policy.clone())).await
    }

    /// `setTrafficWeight`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn set_traffic_weight(&self, service: &ServiceId, split: &TrafficSplit) -> Result<ApplyReport> {
        self.execute(Change::SetTrafficWeight {
            service: service.clone(),
            split: split.clone(),
        })
        .await
    }

    /// `configureCircuitBreaker`. On Consul, breakers are client-side: `callers` names the services
    /// whose outbound settings change (empty: derive them from intentions).
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn configure_circuit_breaker(
        &self,
        service: &ServiceId,
        circuit_breaker: &CircuitBreaker,
        callers: &[ServiceName],
    ) -> Result<ApplyReport> {
        self.execute(Change::ConfigureCircuitBreaker {
            service: service.clone(),
            circuit_breaker: circuit_breaker.clone(),
            callers: callers.to_vec(),
        })
        .await
    }

    /// `setRetryPolicy`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn set_retry_policy(&self, service: &ServiceId, policy: &RetryPolicy) -> Result<ApplyReport> {
        self.execute(Change::SetRetryPolicy {
            service: service.clone(),
            policy: policy.clone(),
        })
        .await
    }

    /// `enableMTLS(namespace)`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn enable_mtls(&self, namespace: &Namespace) -> Result<ApplyReport> {
        self.execute(Change::EnableMtls {
            namespace: namespace.clone(),
        })
        .await
    }

    /// Reads the mTLS state of a namespace.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let span = tracing::info_span!("mesh.mtls_status", mesh = %self.kind(), %namespace);
        self.backend.mtls_status_dyn(namespace).instrument(span).await
    }

    /// `createAuthorizationPolicy`.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn create_authorization_policy(&self, policy: &AuthorizationPolicy) -> Result<ApplyReport> {
        self.execute(Change::CreateAuthorizationPolicy(policy.clone()))
            .await
    }

    /// `injectFault`: returns the stateless id to remove it with.
    ///
    /// # Errors
    /// As [`Mesh::execute`].
    pub async fn inject_fault(&self, service: &ServiceId, fault: &Fault) -> Result<FaultId> {
        let change = Change::InjectFault {
            service: service.clone(),
            fault: fault.clone(),
        };
        let id = change.fault_id(self.kind())?;
        self.execute(change).await?;
        Ok(id)
    }

    /// `removeFault`.
    ///
    /// # Errors
    /// [`Error::NotFound`] when no such fault is on the control plane; as [`Mesh::execute`].
    pub async fn remove_fault(&self, fault_id: &FaultId) -> Result<ApplyReport> {
        self.execute(Change::RemoveFault {
            fault_id: fault_id.clone(),
        })
        .await
    }

    /// `getServiceMetrics`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a metrics source; backend errors.
    pub async fn get_service_metrics(&self, service: &ServiceId, range: TimeRange) -> Result<ServiceMetrics> {
        let span = tracing::info_span!("mesh.get_service_metrics", mesh = %self.kind(), %service);
        #[cfg(feature = "telemetry")]
        if let Some(t) = &self.telemetry {
            return t
                .get_service_metrics(self.kind(), service, range)
                .instrument(span)
                .await;
        }
        self.observability(METRICS_SOURCE)?
            .metrics_dyn(service, range)
            .instrument(span)
            .await
    }

    /// The value of a PromQL expression that yields one series at `at` (an instant query on the
    /// configured Prometheus), `None` when it yields none: what a rollout's custom metrics read.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a Prometheus; [`Error::InvalidInput`] when the query
    /// yields more than one series (aggregate it to one); backend errors.
    #[cfg(feature = "telemetry")]
    pub async fn query_metric(&self, promql: &str, at: std::time::SystemTime) -> Result<Option<f64>> {
        let prometheus = self
            .telemetry
            .as_ref()
            .and_then(|t| t.prometheus.as_ref())
            .ok_or_else(|| Error::not_configured("Prometheus", "set PROMETHEUS_URL or --prometheus-url"))?;
        let series = prometheus
            .query_vector(promql, at)
            .await
            .map_err(|e| e.into_core(self.kind()))?;
        match series.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.value.value)),
            many => Err(Error::invalid(
                "query",
                format!(
                    "yields {} series; aggregate it to one (sum, max, ...)",
                    many.len()
                ),
            )),
        }
    }

    /// `getServiceTraces`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a tracing backend; backend errors.
    pub async fn get_service_traces(&self, service: &ServiceId, limit: usize) -> Result<Vec<Trace>> {
        let span = tracing::info_span!("mesh.get_service_traces", mesh = %self.kind(), %service, limit);
        #[cfg(feature = "telemetry")]
        if let Some(t) = &self.telemetry {
            return t
                .get_service_traces(self.kind(), service, limit)
                .instrument(span)
                .await;
        }
        self.observability(TRACING_BACKEND)?
            .traces_dyn(service, limit)
            .instrument(span)
            .await
    }

    /// Up to `limit` traces through `service` that started within `range` (a lookback of your
    /// own; [`Mesh::get_service_traces`] looks back over the telemetry's default hour). Without a
    /// telemetry source, the backend's own traces, as [`Mesh::get_service_traces`].
    ///
    /// # Errors
    /// As [`Mesh::get_service_traces`].
    pub async fn get_service_traces_in(
        &self,
        service: &ServiceId,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Trace>> {
        let span = tracing::info_span!("mesh.get_service_traces", mesh = %self.kind(), %service, limit);
        #[cfg(feature = "telemetry")]
        if let Some(t) = &self.telemetry {
            return t
                .get_service_traces_in(self.kind(), service, range, limit)
                .instrument(span)
                .await;
        }
        let _ = range;
        self.observability(TRACING_BACKEND)?
            .traces_dyn(service, limit)
            .instrument(span)
            .await
    }

    /// `getServiceGraph`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a metrics source; backend errors.
    pub async fn get_service_graph(&self, namespace: &Namespace) -> Result<ServiceGraph> {
        let span = tracing::info_span!("mesh.get_service_graph", mesh = %self.kind(), %namespace);
        #[cfg(feature = "telemetry")]
        if let Some(t) = &self.telemetry {
            return t.get_service_graph(self.kind(), namespace).instrument(span).await;
        }
        self.observability(METRICS_SOURCE)?
            .graph_dyn(namespace)
            .instrument(span)
            .await
    }

    /// Reads state kept on the control plane (rollout progress, locks).
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the backend keeps no state; backend errors.
    pub async fn read_state(&self, key: &StateKey) -> Result<Option<StoredState>> {
        let _permit = self.permit().await;
        self.state_store()?.read_state_dyn(key).await
    }

    /// Writes state with compare-and-swap (`expected`: the version read, `None`: must not exist).
    ///
    /// # Errors
    /// [`Error::Conflict`] when another writer got there first; backend errors.
    pub async fn write_state(&self, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
        let _permit = self.permit().await;
        self.state_store()?.write_state_dyn(key, value, expected).await
    }

    /// Deletes state if it is still at `expected`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when it changed; [`Error::NotFound`] when it is gone.
    pub async fn delete_state(&self, key: &StateKey, expected: &str) -> Result<()> {
        let _permit = self.permit().await;
        self.state_store()?.delete_state_dyn(key, expected).await
    }

    /// The backend's state store, or [`Error::Unsupported`] when it keeps none.
    fn state_store(&self) -> Result<&dyn DynStateStore> {
        self.backend.state_store().ok_or_else(|| {
            Error::unsupported(self.kind(), Feature::StateStore, "this backend keeps no state")
        })
    }

    /// The backend's own observability, or [`Error::NotConfigured`] naming the telemetry
    /// `source` to configure.
    fn observability(&self, source: (&str, &str)) -> Result<&dyn DynObservability> {
        let (what, hint) = source;
        self.backend
            .observability()
            .ok_or_else(|| Error::not_configured(what, hint))
    }
}

/// What a mesh without telemetry lacks for metrics and the graph, and how to configure it.
const METRICS_SOURCE: (&str, &str) = ("metrics source", "configure a Prometheus URL (PROMETHEUS_URL)");
/// What a mesh without telemetry lacks for traces, and how to configure it.
const TRACING_BACKEND: (&str, &str) = ("tracing backend", "configure a tracing URL (TRACING_URL)");
