//! Live end-to-end suite against a real cluster with Istio installed.
//!
//! `MESH_E2E_KUBECONFIG=~/.kube/config cargo test -p mesh-istio --test integration e2e:: -- --ignored`
//!
//! It works in its own namespace (`mesh-e2e-istio-<pid>`), which it creates and deletes.

use crate::support;

use mesh_core::{Change, MeshBackend, MeshKind, MtlsMode, ObjectRef, Plan, Write, WriteAction};
use mesh_istio::{Config, IstioBackend, objects};
use mesh_kube::KubeEngine;
use serde_json::json;

/// This run's namespace. The test environment runs no namespace controller, so a deleted namespace
/// stays `Terminating`; a name of its own per run keeps the suite re-runnable on one server.
fn ns() -> &'static str {
    static NS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NS.get_or_init(|| format!("mesh-e2e-istio-{}", std::process::id()))
}

async fn client() -> kube::Client {
    mesh_kube::testing::live_client().await
}

/// A one-write plan, for setting up and tearing down what the scenarios need.
fn single(write: Write) -> Plan {
    let change = Change::EnableMtls {
        namespace: ns().parse().unwrap(),
    };
    let mut plan = Plan::for_change(MeshKind::Istio, &change);
    plan.push(write);
    plan
}

fn in_ns(change: Change) -> Change {
    support::in_namespace(&change, ns())
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn istio_end_to_end() {
    let client = client().await;
    let engine = KubeEngine::new(client.clone(), MeshKind::Istio, "mesh");
    let namespace = ObjectRef::new("v1", "Namespace", None, ns());
    engine
        .apply(&single(Write::new(
            WriteAction::Apply,
            namespace.clone(),
            Some(json!({"metadata": {"name": ns()}})),
        )))
        .await
        .expect("namespace");

    // A user-written VirtualService, applied by another field manager.
    let user = KubeEngine::new(client.clone(), MeshKind::Istio, "e2e-user");
    let vs_ref = objects::virtual_service(&format!("{}/reviews", ns()).parse().unwrap());
    let mut route = support::user_route();
    route["route"][0]["destination"]["subset"] = json!("v1");
    let user_vs = json!({"spec": {"hosts": ["reviews"], "http": [route.clone()]}});
    let dr_ref = objects::destination_rule(&format!("{}/reviews", ns()).parse().unwrap());
    let user_dr =
        json!({"spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}});
    user.apply(&single(Write::new(
        WriteAction::Apply,
        dr_ref.clone(),
        Some(user_dr),
    )))
    .await
    .expect("user DR");
    user.apply(&single(Write::new(
        WriteAction::Apply,
        vs_ref.clone(),
        Some(user_vs),
    )))
    .await
    .expect("user VS");

    let istio = IstioBackend::new(engine.clone(), Config::default());
    istio.execute(&in_ns(support::canary())).await.expect("canary");
    let vs = engine.get(&vs_ref).await.unwrap().unwrap();
    assert_eq!(
        vs["spec"]["http"][0]["name"], "jason-to-v3",
        "the user's route survives"
    );
    assert_eq!(vs["spec"]["http"][1]["route"][1]["weight"], 10);

    istio
        .execute(&in_ns(support::circuit_breaker()))
        .await
        .expect("circuit breaker");
    istio.execute(&in_ns(support::retries())).await.expect("retries");
    let report = istio
        .execute(&in_ns(support::latency_fault()))
        .await
        .expect("fault");
    let mesh_core::MeshEvent::FaultInjected { fault_id, .. } = report.event else {
        panic!("event")
    };
    istio
        .execute(&Change::RemoveFault { fault_id })
        .await
        .expect("remove fault");
    let after = engine.get(&vs_ref).await.unwrap().unwrap();
    assert_eq!(after["spec"]["http"].as_array().unwrap().len(), 2);

    istio.execute(&in_ns(support::mtls())).await.expect("mtls");
    let status = istio.mtls_status(&ns().parse().unwrap()).await.unwrap();
    assert_eq!(status.mode, MtlsMode::Strict);
    istio
        .execute(&in_ns(support::authz()))
        .await
        .expect("authorization");

    // Converged: planning the canary again writes nothing.
    assert!(istio.plan(&in_ns(support::canary())).await.unwrap().is_noop());

    engine
        .apply(&single(Write::new(WriteAction::Delete, namespace, None)))
        .await
        .expect("cleanup");
}
