//! Objects written by releases that used the `mesh.io/` annotation prefix are still recognized
//! after the move to `meshctl.dev/`: owned route rules stay owned (not mistaken for a user's), and
//! a fault injected then is still found and removed.

mod support;

use mesh_core::*;
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use mesh_linkerd::{Config, LinkerdBackend, LinkerdVersion, objects};
use serde_json::{Value, json};
use support::*;

fn server() -> FakeApiServer {
    let server = FakeApiServer::new();
    for (name, port) in [("reviews", 9080), ("error-injector", 8080)] {
        server.insert(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": { "name": name, "namespace": "prod" },
            "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": port, "targetPort": port }] },
        }));
    }
    server
}

fn backend(server: &FakeApiServer) -> LinkerdBackend {
    let config = Config::default()
        .version(LinkerdVersion::V2_20)
        .fault_error_backend("error-injector", 8080);
    LinkerdBackend::new(
        KubeEngine::new(server.client(), MeshKind::Linkerd, "mesh"),
        config,
    )
}

/// Rewrites `obj` as an earlier release wrote it: every `meshctl.dev/` annotation under `mesh.io/`.
fn as_written_before(server: &FakeApiServer, r: &ObjectRef) {
    let mut obj = server.object(r).unwrap();
    let annotations = obj["metadata"]["annotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let renamed: serde_json::Map<String, Value> = annotations
        .into_iter()
        .map(|(k, v)| (k.replace("meshctl.dev/", "mesh.io/"), v))
        .collect();
    assert!(renamed.keys().any(|k| k.starts_with("mesh.io/")), "{renamed:?}");
    obj["metadata"]["annotations"] = Value::Object(renamed);
    server.insert(obj);
}

#[tokio::test]
async fn owned_rules_recorded_under_the_old_prefix_stay_owned() {
    let server = server();
    let linkerd = backend(&server);
    linkerd.execute(&canary()).await.unwrap();
    let r = objects::http_route(&reviews(), "policy.linkerd.io/v1beta3");
    as_written_before(&server, &r);
    linkerd.execute(&split(&[("v1", 10), ("v2", 90)])).await.unwrap();
    let route = server.object(&r).unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    // One rule, ours, re-weighted: the old one was not kept as if a user had written it.
    assert_eq!(rules.len(), 1, "{route:#}");
    assert_eq!(rules[0]["backendRefs"][1]["weight"], 90);
    assert!(
        mesh_kube::keys::annotation(&route, objects::OWNED_RULES_ANNOTATION).is_some(),
        "{route:#}"
    );
}

#[tokio::test]
async fn a_fault_injected_under_the_old_prefix_is_found_and_removed() {
    let server = server();
    let linkerd = backend(&server);
    linkerd.execute(&canary()).await.unwrap();
    let r = objects::http_route(&reviews(), "policy.linkerd.io/v1beta3");
    let before = server.object(&r).unwrap();
    linkerd.execute(&abort()).await.unwrap();
    as_written_before(&server, &r);
    // While it is active, route changes are refused, naming it.
    let err = linkerd
        .execute(&split(&[("v1", 50), ("v2", 50)]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mesh-fault-"), "{err}");
    let id = abort().fault_id(MeshKind::Linkerd).unwrap();
    linkerd
        .execute(&Change::RemoveFault { fault_id: id })
        .await
        .unwrap();
    let after = server.object(&r).unwrap();
    assert_eq!(after["spec"], before["spec"]);
    let annotations = after["metadata"]["annotations"].as_object().unwrap();
    assert!(
        !annotations.keys().any(|k| k.contains("mesh-fault-")),
        "{annotations:?}"
    );
}
