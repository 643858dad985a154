//! The meshes under test (Istio on mesh-kube's fake API server, Consul on a loopback
//! `FakeConsul`), read back through one [`Fixture`] interface, and the plumbing that keeps real
//! network I/O off the paused tokio clock.
//!
//! Why off the clock: a paused runtime that parks with a timer pending jumps straight to that
//! timer, even while a real socket is about to answer. An HTTP client's timers (request timeout,
//! pool) would then fire early or move the rollout's clock, and the analysis windows would drift.
//! Calls that touch a socket therefore run on a separate real-time runtime from a blocking task,
//! which keeps the paused clock still until they return.

use std::sync::{Arc, OnceLock};

use mesh::{
    ApplyReport, BoxFuture, Capabilities, Change, DynStateStore, Mesh, MeshBackend, MeshKind, MtlsStatus,
    Namespace, Plan, Result, ServiceDefinition, ServiceId, ServiceMetrics, StateKey, StateStore, StoredState,
    TimeRange, TrafficSplit,
    istio::{Config, IstioBackend},
    telemetry::{Telemetry, prometheus::PrometheusClient},
};
use mesh_consul::{ConsulVersion, testing::FakeConsul};
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use mesh_rollout::MetricsSource;
use serde_json::Value;

/// The real-time runtime that does the network I/O.
pub(crate) fn io_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Runs `f` on [`io_runtime`] from a blocking task.
pub(crate) async fn off_clock<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    tokio::task::spawn_blocking(move || io_runtime().block_on(f))
        .await
        .expect("I/O task")
}

/// The mesh's own metrics path (`Mesh::get_service_metrics`, hence `Telemetry` and its
/// `PrometheusClient`), off the paused clock.
pub(crate) struct RealTimeMetrics(pub(crate) Mesh);

impl MetricsSource for RealTimeMetrics {
    fn metrics<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        let (mesh, service) = (self.0.clone(), service.clone());
        Box::pin(off_clock(async move {
            mesh.get_service_metrics(&service, range).await
        }))
    }
}

/// A backend whose every call runs off the paused clock.
pub(crate) struct OffClock<B>(pub(crate) Arc<B>);

impl<B: MeshBackend> MeshBackend for OffClock<B> {
    fn kind(&self) -> MeshKind {
        self.0.kind()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        let (b, change) = (self.0.clone(), change.clone());
        off_clock(async move { b.plan(&change).await }).await
    }

    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let (b, plan) = (self.0.clone(), plan.clone());
        off_clock(async move { b.apply(&plan).await }).await
    }

    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let (b, namespace) = (self.0.clone(), namespace.clone());
        off_clock(async move { b.mtls_status(&namespace).await }).await
    }

    fn state_store(&self) -> Option<&dyn DynStateStore> {
        self.0.state_store().map(|_| self as &dyn DynStateStore)
    }
}

/// The backend's state store, off the paused clock (only handed out when the backend has one).
impl<B: MeshBackend> StateStore for OffClock<B> {
    async fn read_state(&self, key: &StateKey) -> Result<Option<StoredState>> {
        let (b, key) = (self.0.clone(), key.clone());
        off_clock(async move { store(&*b).read_state_dyn(&key).await }).await
    }

    async fn write_state(&self, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
        let (b, key, value) = (self.0.clone(), key.clone(), value.to_owned());
        let expected = expected.map(str::to_owned);
        off_clock(async move {
            store(&*b)
                .write_state_dyn(&key, &value, expected.as_deref())
                .await
        })
        .await
    }

    async fn delete_state(&self, key: &StateKey, expected: &str) -> Result<()> {
        let (b, key, expected) = (self.0.clone(), key.clone(), expected.to_owned());
        off_clock(async move { store(&*b).delete_state_dyn(&key, &expected).await }).await
    }
}

fn store<B: MeshBackend>(backend: &B) -> &dyn DynStateStore {
    backend
        .state_store()
        .expect("OffClock hands out a store only when its backend has one")
}

pub(crate) fn telemetry(prometheus: &PrometheusClient) -> Telemetry {
    Telemetry {
        prometheus: Some(prometheus.clone()),
        ..Telemetry::default()
    }
}

/// A mesh under test and its control-plane double, read back in mesh-neutral terms.
pub(crate) trait Fixture: Send + Sync {
    /// The namespace the data set uses for this mesh.
    fn namespace(&self) -> &'static str;
    /// A new handle on the double, as a freshly started process would have (new HTTP client).
    fn mesh(&self, prometheus: &PrometheusClient) -> Mesh;
    /// Puts `name` in its state before a rollout: v1 serves everything, through the mesh's own
    /// objects (and, on Consul, both versions are registered).
    fn seed<'a>(&'a self, mesh: &'a Mesh, name: &'a str) -> BoxFuture<'a, ()>;
    /// The object that routes `name`'s traffic (VirtualService spec, service-splitter entry),
    /// without server-assigned fields.
    fn route(&self, name: &str) -> Value;
    /// The object that defines the versions (DestinationRule spec, service-resolver entry).
    fn subsets(&self, name: &str) -> Value;
    /// The route's weights, e.g. `[("v1", 90), ("v2", 10)]`.
    fn weights(&self, name: &str) -> Vec<(String, i64)>;
    /// Every write that landed since the last [`Fixture::clear`], in order: `route`, `subsets`,
    /// `state`, or a description of anything else.
    fn writes(&self) -> Vec<String>;
    /// Forgets the recorded requests.
    fn clear(&self);

    /// `namespace/name`.
    fn service(&self, name: &str) -> String {
        format!("{}/{name}", self.namespace())
    }
}

pub(crate) fn seed_split<'a>(mesh: &'a Mesh, service: String) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        mesh.execute(Change::SetTrafficWeight {
            service: service.parse().unwrap(),
            split: TrafficSplit::all_to("v1".parse().unwrap()),
        })
        .await
        .unwrap();
    })
}

/// The weights of the mesh's own route in a VirtualService `spec`.
pub(crate) fn istio_weights(spec: &Value) -> Vec<(String, i64)> {
    let route = spec["http"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "mesh-default")
        .expect("the mesh's route");
    route["route"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["destination"]["subset"].as_str().unwrap().to_owned(),
                d["weight"].as_i64().unwrap_or(100),
            )
        })
        .collect()
}

/// What a write to `path` is, in the fixture's terms (`route`, `subsets`, `state`).
pub(crate) fn istio_write(path: &str) -> Option<String> {
    let kind = if path.contains("/virtualservices") {
        "route"
    } else if path.contains("/destinationrules") {
        "subsets"
    } else if path.contains("/configmaps") {
        "state"
    } else {
        return None;
    };
    Some(kind.to_owned())
}

/// Istio: `IstioBackend` over mesh-kube's in-process fake API server (no sockets, so no clock
/// trouble).
pub(crate) struct Istio(pub(crate) FakeApiServer);

impl Istio {
    fn object(&self, r: &mesh::ObjectRef) -> Value {
        self.0.object(r).unwrap_or_else(|| panic!("{r} missing"))
    }
}

impl Fixture for Istio {
    fn namespace(&self) -> &'static str {
        "prod"
    }

    fn mesh(&self, prometheus: &PrometheusClient) -> Mesh {
        let engine = KubeEngine::new(self.0.client(), MeshKind::Istio, "mesh");
        Mesh::from_backend(IstioBackend::new(engine, Config::default())).with_telemetry(telemetry(prometheus))
    }

    fn seed<'a>(&'a self, mesh: &'a Mesh, name: &'a str) -> BoxFuture<'a, ()> {
        seed_split(mesh, self.service(name))
    }

    fn route(&self, name: &str) -> Value {
        let id = self.service(name).parse().unwrap();
        self.object(&mesh::istio::objects::virtual_service(&id))["spec"].clone()
    }

    fn subsets(&self, name: &str) -> Value {
        let id = self.service(name).parse().unwrap();
        self.object(&mesh::istio::objects::destination_rule(&id))["spec"].clone()
    }

    fn weights(&self, name: &str) -> Vec<(String, i64)> {
        istio_weights(&self.route(name))
    }

    fn writes(&self) -> Vec<String> {
        self.0
            .writes()
            .iter()
            .map(|w| istio_write(&w.path).unwrap_or_else(|| w.line()))
            .collect()
    }

    fn clear(&self) {
        self.0.clear_requests();
    }
}

/// What a write to `path` with `body` is, in the fixture's terms (`route`, `subsets`, `state`,
/// or the config entry's kind).
pub(crate) fn consul_write(path: &str, body: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    if path.starts_with("/v1/kv/") {
        return Some("state".to_owned());
    }
    let kind = (path == "/v1/config")
        .then(|| serde_json::from_str::<Value>(body).ok())
        .flatten()
        .and_then(|b| b["Kind"].as_str().map(str::to_owned))?;
    Some(match kind.as_str() {
        "service-splitter" => "route".to_owned(),
        "service-resolver" => "subsets".to_owned(),
        _ => kind,
    })
}

/// The weights of a service-splitter entry.
pub(crate) fn consul_weights(splitter: &Value) -> Vec<(String, i64)> {
    splitter["Splits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["ServiceSubset"].as_str().unwrap().to_owned(),
                s["Weight"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Registers v1 and v2 of `name`, then sends everything to v1.
pub(crate) fn consul_seed<'a>(mesh: &'a Mesh, namespace: &'a str, name: &'a str) -> BoxFuture<'a, ()> {
    Box::pin(async move {
        for version in ["v1", "v2"] {
            let definition = ServiceDefinition::builder(name, namespace, 8080)
                .unwrap()
                .version(version)
                .unwrap();
            mesh.execute(Change::RegisterService(definition)).await.unwrap();
        }
        seed_split(mesh, format!("{namespace}/{name}")).await;
    })
}

/// Consul: `ConsulBackend` over a loopback `FakeConsul` (CE 1.18), every call off the clock.
pub(crate) struct Consul(FakeConsul);

impl Consul {
    /// Starts the fake on the real-time runtime.
    pub(crate) async fn start() -> Self {
        Self(off_clock(FakeConsul::start(ConsulVersion::ce(1, 18, 1))).await)
    }

    fn entry(&self, kind: &str, name: &str) -> Value {
        let mut entry = self
            .0
            .entry(kind, name)
            .unwrap_or_else(|| panic!("{kind} {name} missing"));
        let fields = entry.as_object_mut().unwrap();
        fields.remove("CreateIndex");
        fields.remove("ModifyIndex");
        entry
    }
}

impl Fixture for Consul {
    fn namespace(&self) -> &'static str {
        "default"
    }

    fn mesh(&self, prometheus: &PrometheusClient) -> Mesh {
        Mesh::from_backend(OffClock(Arc::new(self.0.backend(None)))).with_telemetry(telemetry(prometheus))
    }

    fn seed<'a>(&'a self, mesh: &'a Mesh, name: &'a str) -> BoxFuture<'a, ()> {
        consul_seed(mesh, self.namespace(), name)
    }

    fn route(&self, name: &str) -> Value {
        self.entry("service-splitter", name)
    }

    fn subsets(&self, name: &str) -> Value {
        self.entry("service-resolver", name)
    }

    fn weights(&self, name: &str) -> Vec<(String, i64)> {
        consul_weights(&self.route(name))
    }

    fn writes(&self) -> Vec<String> {
        self.0
            .requests()
            .iter()
            .filter(|r| r.is_write() && r.status == 200 && r.answer != "false")
            .map(|r| consul_write(&r.path, &r.body).unwrap_or_else(|| r.line()))
            .collect()
    }

    fn clear(&self) {
        self.0.clear_log();
    }
}
