//! The benchmark on a real Kubernetes API server (the test environment's): the Istio backend
//! over a client of `MESH_E2E_KUBECONFIG`, in a namespace of its own, with the requests counted
//! by the server itself (`apiserver_request_total` on its `/metrics`, before and after).

use mesh::{Mesh, MeshKind};

/// The resources a canary touches: its route, its subsets and its state.
const RESOURCES: [&str; 3] = ["virtualservices", "destinationrules", "configmaps"];

async fn send(
    client: &kube::Client,
    method: http::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> String {
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(body.map_or_else(Vec::new, |b| b.to_string().into_bytes()))
        .expect("a request");
    client
        .request_text(request)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The API server's count of requests on [`RESOURCES`], all verbs but the watch and list of
/// other clients.
pub(crate) async fn requests_served(client: &kube::Client) -> f64 {
    let text = send(client, http::Method::GET, "/metrics", None).await;
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| RESOURCES.iter().any(|r| l.contains(&format!("resource=\"{r}\""))))
        .filter(|l| !l.contains("verb=\"WATCH\"") && !l.contains("verb=\"LIST\""))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// A client, a namespace of its own (created) and the Istio backend over them, reading from
/// watched copies when `watch`.
pub(crate) async fn connect(watch: bool) -> (kube::Client, String, Mesh) {
    let client = mesh_kube::testing::live_client().await;
    let namespace = format!(
        "bench-{}{}",
        std::process::id(),
        if watch { "-watched" } else { "" }
    );
    send(
        &client,
        http::Method::POST,
        "/api/v1/namespaces",
        Some(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})),
    )
    .await;
    let engine =
        mesh_kube::KubeEngine::new(client.clone(), MeshKind::Istio, mesh_kube::DEFAULT_FIELD_MANAGER);
    let engine = if watch { engine.with_watch_cache() } else { engine };
    let mesh = Mesh::from_backend(mesh::istio::IstioBackend::new(engine, Default::default()));
    (client, namespace, mesh)
}

/// Deletes the benchmark's namespace.
pub(crate) async fn clean_up(client: &kube::Client, namespace: &str) {
    send(
        client,
        http::Method::DELETE,
        &format!("/api/v1/namespaces/{namespace}"),
        None,
    )
    .await;
}
