//! The contract on the Kubernetes backends (Istio, Linkerd) over mesh-kube's fake API server.

use mesh::{Mesh, MeshKind, WriteAction};
use mesh_kube::{
    KubeEngine,
    testing::{FakeApiServer, Fault, Match},
};
use serde_json::{Value, json};

use crate::support::{self, Harness};

struct Kube {
    kind: MeshKind,
    server: FakeApiServer,
    /// The injected failure: the request index from which it applies, and the path it matches.
    /// The fake records the refused request too; it did not land.
    refused: std::sync::Mutex<Option<(usize, &'static str)>>,
}

impl Kube {
    fn new(kind: MeshKind) -> Self {
        let server = FakeApiServer::new();
        for service in base_services() {
            server.insert(service);
        }
        server.clear_requests();
        Self {
            kind,
            server,
            refused: std::sync::Mutex::new(None),
        }
    }

    fn objects_of(&self, kind: &str) -> Vec<Value> {
        self.server
            .objects()
            .into_iter()
            .filter(|o| o["kind"] == kind)
            .collect()
    }
}

impl Harness for Kube {
    fn mesh(&self) -> Mesh {
        let engine = KubeEngine::new(self.server.client(), self.kind, mesh_kube::DEFAULT_FIELD_MANAGER);
        mesh_on(self.kind, engine)
    }

    fn writes(&self) -> Vec<(WriteAction, String)> {
        let refused = *self.refused.lock().unwrap();
        let mut skipped = false;
        self.server
            .writes()
            .iter()
            .filter(|r| !r.is_dry_run())
            .enumerate()
            .filter(|(i, r)| {
                let is_refused = refused.is_some_and(|(from, path)| *i >= from && r.path.contains(path));
                let skip = is_refused && !skipped;
                skipped |= skip;
                !skip
            })
            .map(|(_, r)| {
                let action = if r.method == "DELETE" {
                    WriteAction::Delete
                } else {
                    WriteAction::Apply
                };
                (action, r.line())
            })
            .collect()
    }

    fn fail_at_write(&self, n: usize) {
        assert_eq!(
            n, 2,
            "the Kubernetes harness fails the second write of the multi-write change"
        );
        // The multi-write change is a split to new versions: subsets (or per-version Services) land
        // first, then the route. A 422 is not retried, so the route write fails for good.
        let route = if self.kind == MeshKind::Istio {
            "virtualservices"
        } else {
            "/services/reviews-v2"
        };
        let from = self.server.writes().iter().filter(|r| !r.is_dry_run()).count();
        *self.refused.lock().unwrap() = Some((from, route));
        self.server.fail_next(
            Match::any().real_writes_only().path_contains(route),
            Fault::invalid("spec", "injected"),
        );
    }

    fn check_consistent(&self) -> Result<(), String> {
        consistent(self.kind, &|kind| self.objects_of(kind))
    }

    fn burst(&self) -> u32 {
        40
    }
}

#[cfg(feature = "istio")]
#[tokio::test]
async fn the_istio_backend_passes_the_contract() {
    support::run_all(|| async { Box::new(Kube::new(MeshKind::Istio)) as Box<dyn Harness> }).await;
}

#[cfg(feature = "linkerd")]
#[tokio::test]
async fn the_linkerd_backend_passes_the_contract() {
    support::run_all(|| async { Box::new(Kube::new(MeshKind::Linkerd)) as Box<dyn Harness> }).await;
}

/// The Services the suite's changes presume: the apex `reviews` (Linkerd routes name its port)
/// and the error backend Linkerd's abort emulation names.
pub(crate) fn base_services() -> [Value; 2] {
    [
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": "default"},
            "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}),
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "error-injector", "namespace": "default"},
            "spec": {"selector": {"app": "error-injector"}, "ports": [{"name": "http", "port": 8080}]}}),
    ]
}

/// The backend of `kind` over `engine`, configured as the suite expects.
pub(crate) fn mesh_on(kind: MeshKind, engine: KubeEngine) -> Mesh {
    match kind {
        #[cfg(feature = "istio")]
        MeshKind::Istio => Mesh::from_backend(mesh::istio::IstioBackend::new(
            engine,
            mesh::istio::Config::default(),
        )),
        #[cfg(feature = "linkerd")]
        MeshKind::Linkerd => {
            let config = mesh::linkerd::Config::default().fault_error_backend("error-injector", 8080);
            Mesh::from_backend(mesh::linkerd::LinkerdBackend::new(engine, config))
        }
        other => panic!("{other} is not a Kubernetes mesh in this build"),
    }
}

/// No route points at a subset (Istio) or a Service (Linkerd) that does not exist.
pub(crate) fn consistent(kind: MeshKind, objects_of: &dyn Fn(&str) -> Vec<Value>) -> Result<(), String> {
    match kind {
        MeshKind::Istio => {
            let subsets: Vec<String> = objects_of("DestinationRule")
                .iter()
                .flat_map(|dr| dr["spec"]["subsets"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s["name"].as_str().map(str::to_owned))
                .collect();
            for vs in objects_of("VirtualService") {
                for route in vs["spec"]["http"].as_array().into_iter().flatten() {
                    for r in route["route"].as_array().into_iter().flatten() {
                        let subset = r["destination"]["subset"].as_str().unwrap_or_default();
                        if !subset.is_empty() && !subsets.iter().any(|s| s == subset) {
                            return Err(format!(
                                "VirtualService routes to subset {subset}, which no DestinationRule defines"
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
        _ => {
            let services: Vec<String> = objects_of("Service")
                .iter()
                .filter_map(|s| s["metadata"]["name"].as_str().map(str::to_owned))
                .collect();
            for route in objects_of("HTTPRoute") {
                for rule in route["spec"]["rules"].as_array().into_iter().flatten() {
                    for b in rule["backendRefs"].as_array().into_iter().flatten() {
                        let name = b["name"].as_str().unwrap_or_default();
                        if !services.iter().any(|s| s == name) {
                            return Err(format!(
                                "HTTPRoute sends traffic to Service {name}, which does not exist"
                            ));
                        }
                    }
                }
            }
            Ok(())
        }
    }
}
