//! The engine against a live cluster (any Kubernetes; no mesh needed).
//!
//! `MESH_E2E_KUBECONFIG=~/.kube/config cargo test -p mesh-kube --test e2e -- --ignored`
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
