//! The workspace's backend contract suite (`tests/support`), run on the Linkerd backend against
//! mesh-kube's fake API server.

#[path = "../../../tests/support/mod.rs"]
mod support;

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use mesh::{Change, Mesh, MeshKind, WriteAction};
use mesh_core::{
    ApplyReport, Capabilities, Error, MeshBackend, MtlsStatus, Namespace, Plan, Result, ServiceId,
};
use mesh_kube::{
    KubeEngine, ResourceType,
    testing::{FakeApiServer, Fault, Match},
};
use mesh_linkerd::{Config, LinkerdBackend, LinkerdVersion};
use serde_json::json;
use support::Harness;

/// The backend with a way to fail its n-th write, as the harness needs.
struct Scripted {
    inner: LinkerdBackend,
    server: FakeApiServer,
    writes_seen: AtomicUsize,
    fail_at: Mutex<Option<usize>>,
    /// The writes that landed (the server also records the requests it failed on purpose).
    log: Mutex<Vec<(WriteAction, String)>>,
}

impl MeshBackend for Scripted {
    fn kind(&self) -> MeshKind {
        MeshKind::Linkerd
    }
    fn capabilities(&self) -> Capabilities {
        MeshBackend::capabilities(&self.inner)
    }
    async fn plan(&self, change: &Change) -> Result<Plan> {
        MeshBackend::plan(&self.inner, change).await
    }
    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let seen = self.writes_seen.load(Ordering::SeqCst);
        let fail_at = *self.fail_at.lock().unwrap();
        if let Some(n) = fail_at
            && n > seen
            && n - seen <= plan.writes.len()
        {
            let w = &plan.writes[n - seen - 1];
            let rt = ResourceType::resolve(&w.target.api_version, &w.target.kind).expect("known type");
            let path = rt.object_path(w.target.namespace.as_deref(), &w.target.name);
            let method = if w.action == WriteAction::Delete {
                http::Method::DELETE
            } else {
                http::Method::PATCH
            };
            let method = if w.action == WriteAction::Replace {
                http::Method::PUT
            } else {
                method
            };
            self.server.fail_next(
                Match::method(method).path_contains(&path).real_writes_only(),
                Fault::invalid("metadata", "injected failure"),
            );
            *self.fail_at.lock().unwrap() = None;
        }
        let result = MeshBackend::apply(&self.inner, plan).await;
        let landed = match &result {
            Ok(r) => r.applied.len(),
            Err(Error::PartiallyApplied { applied, .. }) => applied.len(),
            Err(_) => 0,
        };
        self.writes_seen.fetch_add(landed, Ordering::SeqCst);
        let mut log = self.log.lock().unwrap();
        log.extend(
            plan.writes[..landed]
                .iter()
                .map(|w| (w.action, w.target.to_string())),
        );
        result
    }
    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        MeshBackend::mtls_status(&self.inner, namespace).await
    }
}

struct Linkerd(Arc<Scripted>);

impl Linkerd {
    fn new() -> Self {
        let server = FakeApiServer::new();
        for (name, port) in [("reviews", 9080), ("error-injector", 8080)] {
            server.insert(json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": { "name": name, "namespace": "default" },
                "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": port }] },
            }));
        }
        server.insert(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "default" } }));
        let config = Config::default()
            .version(LinkerdVersion::V2_20)
            .fault_error_backend("error-injector", 8080);
        let inner = LinkerdBackend::new(
            KubeEngine::new(server.client(), MeshKind::Linkerd, "mesh"),
            config,
        );
        Self(Arc::new(Scripted {
            inner,
            server,
            writes_seen: AtomicUsize::new(0),
            fail_at: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        }))
    }
}

impl Harness for Linkerd {
    fn mesh(&self) -> Mesh {
        Mesh::from_dyn(self.0.clone())
    }
    fn writes(&self) -> Vec<(WriteAction, String)> {
        self.0.log.lock().unwrap().clone()
    }
    fn fail_at_write(&self, n: usize) {
        *self.0.fail_at.lock().unwrap() = Some(self.0.writes_seen.load(Ordering::SeqCst) + n);
    }
    fn check_consistent(&self) -> std::result::Result<(), String> {
        let objects = self.0.server.objects();
        let services: Vec<(String, String)> = objects
            .iter()
            .filter(|o| o["kind"] == "Service")
            .map(|o| {
                (
                    o["metadata"]["namespace"].as_str().unwrap_or_default().to_owned(),
                    o["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        for route in objects.iter().filter(|o| o["kind"] == "HTTPRoute") {
            let ns = route["metadata"]["namespace"].as_str().unwrap_or_default();
            for rule in route["spec"]["rules"].as_array().into_iter().flatten() {
                for b in rule["backendRefs"].as_array().into_iter().flatten() {
                    let name = b["name"].as_str().unwrap_or_default();
                    if !services.contains(&(ns.to_owned(), name.to_owned())) {
                        return Err(format!(
                            "HTTPRoute {ns}/{} sends traffic to missing Service {name}",
                            route["metadata"]["name"]
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn the_linkerd_backend_passes_the_contract() {
    support::run_all(|| async { Box::new(Linkerd::new()) as Box<dyn Harness> }).await;
}

#[tokio::test]
async fn delay_faults_are_refused_by_name_before_any_write() {
    let h = Linkerd::new();
    let delay = Change::InjectFault {
        service: support::service(),
        fault: mesh::Fault::Delay {
            percent: mesh::Percent::new(10.0).unwrap(),
            duration: std::time::Duration::from_secs(3),
        },
    };
    support::unsupported_is_typed(&h, MeshKind::Linkerd, delay, mesh::Feature::FaultDelay).await;
    let _: ServiceId = support::service();
}
