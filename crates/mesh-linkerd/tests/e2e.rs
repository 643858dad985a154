//! Live end-to-end suite against a cluster running Linkerd 2.14+.
//!
//! Set `MESH_E2E_KUBECONFIG` to a kubeconfig file and run
//! `cargo test -p mesh-linkerd --test integration e2e:: -- --ignored`. The suite works in its own namespace,
//! `mesh-e2e-linkerd-<pid>`, and deletes it at the end.

use std::time::Duration;

use mesh_core::*;
use mesh_kube::KubeEngine;
use mesh_linkerd::{Config, LinkerdBackend, objects};
use serde_json::json;

/// This run's namespace. The test environment runs no namespace controller, so a deleted namespace
/// stays `Terminating`; a name of its own per run keeps the suite re-runnable on one server.
fn ns() -> &'static str {
    static NS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NS.get_or_init(|| format!("mesh-e2e-linkerd-{}", std::process::id()))
}

async fn engine() -> KubeEngine {
    KubeEngine::new(
        mesh_kube::testing::live_client().await,
        MeshKind::Linkerd,
        "mesh-e2e",
    )
}

/// The namespace and the Services the suite builds on, written through the engine itself.
async fn fixtures(engine: &KubeEngine) {
    let change = Change::EnableMtls {
        namespace: ns().parse().unwrap(),
    };
    let mut plan = Plan::for_change(MeshKind::Linkerd, &change);
    plan.push(Write::new(
        WriteAction::Apply,
        objects::namespace(ns()),
        Some(json!({ "metadata": { "annotations": { "linkerd.io/inject": "enabled" } } })),
    ));
    for (name, port) in [("reviews", 9080), ("error-injector", 8080)] {
        let id: ServiceId = format!("{}/{name}", ns()).parse().unwrap();
        plan.push(Write::new(
            WriteAction::Apply,
            objects::service(&id),
            Some(json!({ "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": port }] } })),
        ));
    }
    engine.apply(&plan).await.expect("fixtures");
}

#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn every_operation_on_a_live_linkerd() {
    let engine = engine().await;
    fixtures(&engine).await;
    let config = Config::default().fault_error_backend("error-injector", 8080);
    let linkerd = LinkerdBackend::new(engine.clone(), config);
    let version = linkerd.version().await.expect("Linkerd CRDs installed");
    let reviews: ServiceId = format!("{}/reviews", ns()).parse().unwrap();

    let canary = Change::SetTrafficWeight {
        service: reviews.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    };
    linkerd.execute(&canary).await.expect("canary");
    assert!(
        MeshBackend::plan(&linkerd, &canary).await.unwrap().is_noop(),
        "converged"
    );
    let route = engine
        .get(&objects::http_route(&reviews, "policy.linkerd.io/v1beta3"))
        .await
        .unwrap()
        .expect("HTTPRoute stored");
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 10);

    let breaker = Change::ConfigureCircuitBreaker {
        service: reviews.clone(),
        circuit_breaker: CircuitBreaker {
            consecutive_errors: Some(5),
            ..Default::default()
        },
        callers: vec![],
    };
    linkerd.execute(&breaker).await.expect("breaker");
    if version.has_retry_annotations() {
        let retry = Change::SetRetryPolicy {
            service: reviews.clone(),
            policy: RetryPolicy {
                attempts: 2,
                per_try_timeout: Some(Duration::from_millis(500)),
                retry_on: vec![RetryOn::GatewayError],
                retry_on_status: vec![],
                overall_timeout: Some(Duration::from_secs(5)),
            },
        };
        linkerd.execute(&retry).await.expect("retries");
    }
    let svc = engine.get(&objects::service(&reviews)).await.unwrap().unwrap();
    assert_eq!(
        svc["metadata"]["annotations"]["balancer.linkerd.io/failure-accrual"],
        "consecutive"
    );
    assert_eq!(
        svc["spec"]["ports"][0]["port"], 9080,
        "the user's Service spec is untouched"
    );

    let abort = Change::InjectFault {
        service: reviews.clone(),
        fault: Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: HttpStatus::new(503).unwrap(),
        },
    };
    let fault_id = abort.fault_id(MeshKind::Linkerd).unwrap();
    linkerd.execute(&abort).await.expect("inject");
    linkerd
        .execute(&Change::RemoveFault { fault_id })
        .await
        .expect("remove");
    let restored = engine
        .get(&objects::http_route(&reviews, "policy.linkerd.io/v1beta3"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored["spec"]["rules"], route["spec"]["rules"]);

    let allow = Change::CreateAuthorizationPolicy(AuthorizationPolicy {
        name: "allow-frontend".parse().unwrap(),
        namespace: ns().parse().unwrap(),
        target: Some("reviews".parse().unwrap()),
        action: AuthzAction::Allow,
        rules: vec![AuthzRule {
            from: vec![AuthzSource {
                principals: vec![format!("{}/frontend", ns()).parse().unwrap()],
                ..Default::default()
            }],
            to: vec![],
        }],
    });
    linkerd.execute(&allow).await.expect("authorization");
    linkerd
        .execute(&Change::EnableMtls {
            namespace: ns().parse().unwrap(),
        })
        .await
        .expect("mtls");
    let status = linkerd.mtls_status(&ns().parse().unwrap()).await.unwrap();
    assert_eq!(status.mode, MtlsMode::Strict);

    // Clean up: the namespace holds everything the suite wrote.
    let change = Change::UnregisterService { service: reviews };
    let mut cleanup = Plan::for_change(MeshKind::Linkerd, &change);
    cleanup.push(Write::new(WriteAction::Delete, objects::namespace(ns()), None));
    engine.apply(&cleanup).await.expect("cleanup");
}
