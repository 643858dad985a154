//! The contract on the Kubernetes backends (Istio, Linkerd) over the real API server of the test
//! environment (`cargo xtask testenv up`).
//!
//! Each harness starts from a clean `default` namespace (the suite's service is
//! `default/reviews`). The writes that reached the server are read from the API server's own
//! audit log (`MESH_TESTENV_AUDIT_LOG`): every create, update, patch and delete by the tests'
//! identity that was not a dry run and succeeded. A real server cannot fail a write on demand, so
//! the partial-failure case stays with the double.

use std::{
    io::{BufRead, BufReader, Seek, SeekFrom},
    time::Duration,
};

use mesh::{Mesh, MeshKind, WriteAction};
use mesh_kube::{KubeEngine, schema::SchemaSet};
use serde_json::Value;

use crate::{
    kube_harness::{base_services, consistent, mesh_on},
    support::{self, Harness},
};

/// The two live cases share the `default` namespace and the audit log: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The identity the test environment's kubeconfig authenticates as.
const TEST_USER: &str = "mesh-e2e";

struct LiveKube {
    kind: MeshKind,
    client: kube::Client,
    /// Where this harness's part of the audit log starts.
    audit_from: u64,
}

fn audit_log() -> String {
    std::env::var("MESH_TESTENV_AUDIT_LOG")
        .expect("MESH_TESTENV_AUDIT_LOG (printed by `cargo xtask testenv up`)")
}

async fn send(
    client: &kube::Client,
    method: http::Method,
    path: &str,
    body: Option<&Value>,
) -> Option<Value> {
    let mut request = http::Request::builder().method(method).uri(path);
    let bytes = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    match client.request_text(request.body(bytes).unwrap()).await {
        Ok(text) => serde_json::from_str(&text).ok(),
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 409 => None,
        Err(e) => panic!("{path}: {e}"),
    }
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
        let audit_from = settled_len(&audit_log());
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

/// The audit log's length once it stops growing: the API server writes an event after it
/// answers, so a write that just returned may not be in the file yet.
fn settled_len(path: &str) -> u64 {
    let len = || std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut last = len();
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = len();
        if now == last {
            return now;
        }
        last = now;
    }
}

impl Harness for LiveKube {
    fn mesh(&self) -> Mesh {
        let engine = KubeEngine::new(self.client.clone(), self.kind, mesh_kube::DEFAULT_FIELD_MANAGER);
        mesh_on(self.kind, engine)
    }

    fn writes(&self) -> Vec<(WriteAction, String)> {
        let path = audit_log();
        settled_len(&path);
        let mut file = std::fs::File::open(&path).expect("the audit log");
        file.seek(SeekFrom::Start(self.audit_from)).unwrap();
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
            .filter(|e| e["stage"] == "ResponseComplete" && e["user"]["username"] == TEST_USER)
            .filter(|e| e["responseStatus"]["code"].as_u64().is_some_and(|c| c < 300))
            .filter_map(|e| {
                let uri = e["requestURI"].as_str()?;
                if uri.contains("dryRun=") {
                    return None;
                }
                let action = match e["verb"].as_str()? {
                    "delete" | "deletecollection" => WriteAction::Delete,
                    "create" | "update" | "patch" => WriteAction::Apply,
                    _ => return None,
                };
                Some((action, format!("{} {uri}", e["verb"].as_str()?)))
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
