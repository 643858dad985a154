//! The engine against a live cluster (any Kubernetes; no mesh needed).
//!
//! `MESH_E2E_KUBECONFIG=~/.kube/config cargo test -p mesh-kube --test integration e2e:: -- --ignored`
//!
//! It works in its own namespace (`mesh-e2e-kube-<pid>`), which it creates and deletes.

use mesh_core::{Change, Error, MeshKind, ObjectRef, Plan, Precondition, Write, WriteAction};
use mesh_kube::KubeEngine;
use serde_json::json;

/// This run's namespace. The test environment runs no namespace controller, so a deleted namespace
/// stays `Terminating`; a name of its own per run keeps the suite re-runnable on one server.
fn ns() -> &'static str {
    static NS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NS.get_or_init(|| format!("mesh-e2e-kube-{}", std::process::id()))
}

async fn engine() -> KubeEngine {
    KubeEngine::new(
        mesh_kube::testing::live_client().await,
        MeshKind::Istio,
        "mesh-e2e",
    )
}

fn plan(writes: Vec<Write>) -> Plan {
    let change = Change::EnableMtls {
        namespace: ns().parse().unwrap(),
    };
    let mut plan = Plan::for_change(MeshKind::Istio, &change);
    plan.writes = writes;
    plan
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn apply_replace_conflict_and_delete_on_a_live_cluster() {
    let engine = engine().await;
    let namespace = ObjectRef::new("v1", "Namespace", None, ns());
    let cm = ObjectRef::new("v1", "ConfigMap", Some(ns()), "mesh-e2e");
    engine
        .apply(&plan(vec![
            Write::new(WriteAction::Apply, namespace.clone(), Some(json!({}))),
            Write::new(
                WriteAction::Apply,
                cm.clone(),
                Some(json!({ "data": { "a": "1" } })),
            ),
        ]))
        .await
        .expect("apply");
    let current = engine.get(&cm).await.unwrap().expect("the ConfigMap exists");
    assert!(mesh_kube::is_owned(&current));
    let rv = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();

    // A replace guarded by a stale version is a conflict, found in the dry run.
    let stale = Write::new(
        WriteAction::Replace,
        cm.clone(),
        Some(json!({ "data": { "a": "2" } })),
    )
    .guarded(Precondition::Version(format!("{rv}0")));
    assert!(matches!(
        engine.apply(&plan(vec![stale])).await,
        Err(Error::Conflict { .. })
    ));
    let fresh = Write::new(
        WriteAction::Replace,
        cm.clone(),
        Some(json!({ "data": { "a": "2" } })),
    )
    .guarded(Precondition::Version(rv));
    engine.apply(&plan(vec![fresh])).await.expect("replace");

    // Another field manager's apply of the same field conflicts, naming us.
    let other = KubeEngine::new(engine.client().clone(), MeshKind::Istio, "someone-else");
    let err = other
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            cm.clone(),
            Some(json!({ "data": { "a": "3" } })),
        )]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Conflict { owner, .. } if owner.contains("mesh-e2e")),
        "{err}"
    );

    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Delete,
            namespace.clone(),
            None,
        )]))
        .await
        .expect("delete");
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn missing_crds_and_served_versions_on_a_live_cluster() {
    let engine = engine().await;
    let widget = ObjectRef::new("example.invalid/v1", "Widget", Some(ns()), "w");
    assert!(matches!(
        engine.get(&widget).await,
        Err(Error::NotConfigured { .. })
    ));
    assert!(
        engine
            .served_versions("example.invalid", "widgets")
            .await
            .unwrap()
            .is_empty()
    );
}

/// The twin of the in-memory `Snapshot`'s server-side apply rule on the real API server: writes
/// applied by two field managers leave the same `data` on both, so the double plans against what
/// the server would hold.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn the_snapshot_applies_as_the_real_api_server_does() {
    let engine = engine().await;
    let namespace = ObjectRef::new("v1", "Namespace", None, ns());
    let cm = ObjectRef::new("v1", "ConfigMap", Some(ns()), "mesh-e2e-managers");
    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            namespace,
            Some(json!({})),
        )]))
        .await
        .expect("namespace");
    let as_manager = |manager: &str, data: serde_json::Value| {
        Write::new(WriteAction::Apply, cm.clone(), Some(json!({ "data": data }))).managed_by(manager)
    };
    let writes = [
        as_manager("mesh-e2e-a", json!({ "a1": "1", "a2": "2" })),
        as_manager("mesh-e2e-b", json!({ "b": "1" })),
        as_manager("mesh-e2e-a", json!({ "a1": "1" })),
    ];
    let mut snapshot = mesh_kube::Snapshot::default();
    for w in &writes {
        engine.apply(&plan(vec![w.clone()])).await.expect("apply");
        snapshot.apply_write(w).unwrap();
    }
    let real = engine.get(&cm).await.unwrap().expect("the ConfigMap exists");
    assert_eq!(real["data"], json!({ "a1": "1", "b": "1" }), "the real server");
    assert_eq!(snapshot.get(&cm).unwrap()["data"], real["data"], "the snapshot");
    engine
        .apply(&plan(vec![Write::new(WriteAction::Delete, cm.clone(), None)]))
        .await
        .expect("delete");
}
