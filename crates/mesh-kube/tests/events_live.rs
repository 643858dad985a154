//! Real-server twin of `events.rs`: the same Events recorded on the test environment's API
//! server (Kubernetes 1.33), found through `events.k8s.io/v1`, and found again the way
//! `kubectl describe` looks for an object's Events: `core/v1` Events selected by the object's
//! kind, name, namespace and uid.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-kube --test integration events_live:: -- --ignored`

use serde_json::Value;

use crate::{
    events::{declaration, records_events_about_an_object},
    live_server::{delete_namespace, insert_as, namespace},
};

/// Twin of `events::records_events_about_an_object_on_the_double`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG (cargo xtask testenv up)"]
async fn records_events_about_an_object_on_the_real_server() {
    let engine = crate::live_server::engine(mesh_core::MeshKind::Istio, "mesh").await;
    let ns = namespace(&engine, "events").await;
    let client = engine.client().clone();
    let stored = insert_as(&client, "kubectl-create", declaration(&ns)).await;
    let uid = stored["metadata"]["uid"].as_str().unwrap().to_owned();
    records_events_about_an_object(client.clone(), &ns, &uid).await;

    // As `kubectl describe configmap api-rollout` asks for them.
    let selector = format!(
        "involvedObject.kind=ConfigMap,involvedObject.name=api-rollout,involvedObject.namespace={ns},involvedObject.uid={uid}"
    );
    let described = client
        .request::<Value>(
            http::Request::get(format!(
                "/api/v1/namespaces/{ns}/events?fieldSelector={}",
                selector.replace('=', "%3D").replace(',', "%2C")
            ))
            .body(Vec::new())
            .unwrap(),
        )
        .await
        .unwrap();
    let mut shown: Vec<(String, String, u64)> = described["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
                e["series"]["count"].as_u64().or(e["count"].as_u64()).unwrap_or(1),
            )
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            ("Normal".to_owned(), "StageApplied".to_owned(), 1),
            ("Warning".to_owned(), "AnalysisFailed".to_owned(), 2)
        ],
        "{described:#}"
    );
    delete_namespace(&engine, &ns).await;
}
