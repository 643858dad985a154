//! The contract on the Kubernetes backends (Istio, Linkerd) over the real API server of the test
//! environment (`cargo xtask testenv up`).
//!
//! Each harness starts from a clean `default` namespace (the suite's service is
//! `default/reviews`). The writes that reached the server are read from the API server's own
//! audit log (`MESH_TESTENV_AUDIT_LOG`): every create, update, patch and delete by the tests'
//! identity that was not a dry run and succeeded. A real server cannot fail a write on demand, so
//! the partial-failure case stays with the double.

use mesh::{Mesh, MeshKind, WriteAction};
use mesh_kube::{KubeEngine, schema::SchemaSet};
use serde_json::Value;

use super::kube_harness::{base_services, consistent, mesh_on};
use crate::support::{
    self, Harness,
    live_kube::{audit_end, landed_writes_since, send},
};

use crate::support::ONE_AT_A_TIME;

struct LiveKube {
    kind: MeshKind,
    client: kube::Client,
    /// Where this harness's part of the audit log starts.
    audit_from: u64,
}

/// The collection path of every namespaced kind the backends may write, in `default`.
fn collections() -> Vec<String> {
    let mut paths: Vec<String> = SchemaSet::bundled()
        .versions()
        .filter(|v| !v.group.is_empty() && v.namespaced && v.served && v.storage)
        .map(|v| format!("/apis/{}/{}/namespaces/default/{}", v.group, v.version, v.plural))
        .collect();
    paths.sort();
    paths.dedup();
    paths.push("/api/v1/namespaces/default/configmaps".to_owned());
    paths
}

impl LiveKube {
    async fn new(kind: MeshKind) -> Self {
        let client = mesh_kube::testing::live_client().await;
        // A clean `default`: every object of every kind the suite may have written before.
        for path in collections() {
            send(&client, http::Method::DELETE, &path, None).await;
        }
        let services = send(
            &client,
            http::Method::GET,
            "/api/v1/namespaces/default/services",
            None,
        )
        .await;
        for svc in services
            .as_ref()
            .and_then(|s| s["items"].as_array())
            .into_iter()
            .flatten()
        {
            let name = svc["metadata"]["name"].as_str().unwrap_or_default();
            if name != "kubernetes" {
                let path = format!("/api/v1/namespaces/default/services/{name}");
                send(&client, http::Method::DELETE, &path, None).await;
            }
        }
        for service in base_services() {
            send(
                &client,
                http::Method::POST,
                "/api/v1/namespaces/default/services",
                Some(&service),
            )
            .await;
        }
        let audit_from = audit_end();
        Self {
            kind,
            client,
            audit_from,
        }
    }

    async fn objects_of(&self, kind: &str) -> Vec<Value> {
        let set = SchemaSet::bundled();
        let paths: Vec<String> = match kind {
            "Service" => vec!["/api/v1/namespaces/default/services".to_owned()],
            _ => set
                .versions()
                .filter(|v| !v.group.is_empty() && v.kind == kind && v.served && v.storage)
                .map(|v| format!("/apis/{}/{}/namespaces/default/{}", v.group, v.version, v.plural))
                .collect(),
        };
        let mut out = Vec::new();
        for path in paths {
            if let Some(list) = send(&self.client, http::Method::GET, &path, None).await {
                out.extend(list["items"].as_array().cloned().unwrap_or_default());
            }
        }
        out
    }
}

impl Harness for LiveKube {
    fn mesh(&self) -> Mesh {
        let engine = KubeEngine::new(self.client.clone(), self.kind, mesh_kube::DEFAULT_FIELD_MANAGER);
        mesh_on(self.kind, engine)
    }

    fn writes(&self) -> Vec<(WriteAction, String)> {
        landed_writes_since(self.audit_from)
            .iter()
            .filter_map(|e| {
                // The server's audit log names the client (it once sent no User-Agent).
                assert_eq!(e["userAgent"], mesh_kube::USER_AGENT, "{e}");
                let verb = e["verb"].as_str()?;
                let action = match verb {
                    "delete" | "deletecollection" => WriteAction::Delete,
                    _ => WriteAction::Apply,
                };
                Some((action, format!("{verb} {}", e["requestURI"].as_str()?)))
            })
            .collect()
    }

    fn fail_at_write(&self, _n: usize) {
        unreachable!("a real API server cannot fail a write on demand (injects_faults is false)")
    }

    fn injects_faults(&self) -> bool {
        false
    }

    fn check_consistent(&self) -> Result<(), String> {
        let kind = self.kind;
        let objects = |k: &str| support::block(self.objects_of(k));
        consistent(kind, &objects)
    }

    fn burst(&self) -> u32 {
        20
    }
}

#[cfg(feature = "istio")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn the_istio_backend_passes_the_contract_on_a_real_api_server() {
    let _turn = ONE_AT_A_TIME.lock().await;
    support::run_all(|| async { Box::new(LiveKube::new(MeshKind::Istio).await) as Box<dyn Harness> }).await;
}

#[cfg(feature = "linkerd")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn the_linkerd_backend_passes_the_contract_on_a_real_api_server() {
    let _turn = ONE_AT_A_TIME.lock().await;
    support::run_all(|| async { Box::new(LiveKube::new(MeshKind::Linkerd).await) as Box<dyn Harness> }).await;
}

/// The real twin of `crates/mesh/tests/execute_uses_the_backends_execute.rs`: two changes to the
/// same VirtualService at once, through two `Mesh` handles (two operators), round after round.
/// Each one that loses the race re-plans on the server's 409 and lands; the route ends with both
/// (the weights of the one, the retries of the other). Through `Mesh`, one of two concurrent
/// changes once failed with `Conflict` every time.
#[cfg(feature = "istio")]
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
#[allow(clippy::print_stdout)] // the number of races provoked is the report
async fn concurrent_changes_to_one_route_all_land_on_a_real_api_server() {
    use mesh::{RetryOn, RetryPolicy, TrafficSplit};

    let _turn = ONE_AT_A_TIME.lock().await;
    let harness = LiveKube::new(MeshKind::Istio).await;
    let (first, second) = (harness.mesh(), harness.mesh());
    let service: mesh::ServiceId = "default/reviews".parse().unwrap();
    first
        .set_traffic_weight(
            &service,
            &TrafficSplit::try_from_pairs([("v1", 100), ("v2", 0)]).unwrap(),
        )
        .await
        .expect("the first split");
    let from = audit_end();
    const ROUNDS: u32 = 10;
    for round in 1..=ROUNDS {
        let canary = u8::try_from(round * 5).unwrap();
        let split = TrafficSplit::try_from_pairs([("v1", 100 - canary), ("v2", canary)]).unwrap();
        let retry = RetryPolicy {
            attempts: round,
            per_try_timeout: None,
            retry_on: vec![RetryOn::ServerError],
            retry_on_status: Vec::new(),
            overall_timeout: None,
        };
        let (a, b) = tokio::join!(
            first.set_traffic_weight(&service, &split),
            second.set_retry_policy(&service, &retry)
        );
        a.unwrap_or_else(|e| panic!("round {round}: the split failed: {e}"));
        b.unwrap_or_else(|e| panic!("round {round}: the retry policy failed: {e}"));
        let vs = send(
            &harness.client,
            http::Method::GET,
            "/apis/networking.istio.io/v1/namespaces/default/virtualservices/reviews",
            None,
        )
        .await
        .expect("the VirtualService");
        let http = &vs["spec"]["http"][0];
        assert_eq!(
            http["route"][1]["weight"],
            u64::from(canary),
            "round {round}: {vs:#}"
        );
        assert_eq!(http["retries"]["attempts"], round, "round {round}: {vs:#}");
    }
    let conflicts = support::live_kube::conflicts_since(from);
    println!(
        "{ROUNDS} rounds of two concurrent changes: all landed; the server answered 409 {conflicts} times"
    );
}
