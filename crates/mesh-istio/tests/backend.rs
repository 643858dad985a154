//! The backend against mesh-kube's fake API server: exact request sequences, write counts,
//! user routes kept, conflicts re-planned, and after every failure a typed error and a safe state.

use crate::support;

use http::Method;
use mesh_core::{Change, Error, MeshBackend, MeshKind, MtlsMode, ObjectRef, StateStore, TrafficSplit};
use mesh_istio::{Config, IstioBackend, Snapshot, testing::check_consistent};
use mesh_kube::{
    KubeEngine,
    testing::{FakeApiServer, Fault, Match},
};
use serde_json::Value;
use support::*;

const DR: &str = "/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices";

fn backend(server: &FakeApiServer) -> IstioBackend {
    IstioBackend::new(
        KubeEngine::new(server.client(), MeshKind::Istio, "mesh"),
        Config::default(),
    )
}

fn lines(server: &FakeApiServer) -> Vec<String> {
    server.requests().iter().map(|r| r.line()).collect()
}

/// Every write request, dry runs included.
fn all_writes(server: &FakeApiServer) -> Vec<mesh_kube::testing::RecordedRequest> {
    server.requests().into_iter().filter(|r| r.is_write()).collect()
}

/// What the server holds, as a snapshot, checked for dangling subset references.
fn assert_consistent(server: &FakeApiServer) {
    let mut snap = Snapshot::default();
    for obj in server.objects() {
        let r = ObjectRef::new(
            obj["apiVersion"].as_str().unwrap(),
            obj["kind"].as_str().unwrap(),
            obj["metadata"]["namespace"].as_str(),
            obj["metadata"]["name"].as_str().unwrap(),
        );
        snap.insert(r, obj);
    }
    check_consistent(&snap).expect("no VirtualService routes to a missing subset");
}

fn seed_user_objects(server: &FakeApiServer) {
    for obj in user_objects().objects().values() {
        let mut obj = (*obj).clone();
        obj["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        server.insert(obj);
    }
}

fn vs_object(server: &FakeApiServer) -> Value {
    server
        .object(&mesh_istio::objects::virtual_service(
            &"bookinfo/reviews".parse().unwrap(),
        ))
        .expect("virtual service")
}

#[tokio::test]
async fn canary_on_an_empty_cluster_is_two_reads_two_dry_runs_two_creates() {
    let server = FakeApiServer::new();
    let report = backend(&server).execute(&canary()).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert_eq!(report.event.name(), "traffic.weight.updated");
    assert_eq!(
        lines(&server),
        [
            format!("GET {DR}/reviews"),
            format!("GET {VS}/reviews"),
            format!("POST {DR} (dry run)"),
            format!("POST {VS} (dry run)"),
            format!("POST {DR}"),
            format!("POST {VS}"),
        ]
    );
    for w in all_writes(&server) {
        assert_eq!(w.field_manager(), Some("mesh"));
        assert_eq!(w.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            w.body.as_ref().unwrap()["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "mesh"
        );
    }
    let vs_body = server.writes()[1].body.clone().unwrap();
    assert_eq!(vs_body["spec"]["http"][0]["route"][1]["weight"], 10);
    assert_eq!(server.writes().len(), 2);
    assert_consistent(&server);
}

#[tokio::test]
async fn a_user_route_survives_a_weight_change() {
    let server = FakeApiServer::new();
    seed_user_objects(&server);
    backend(&server).execute(&canary()).await.unwrap();
    assert_eq!(
        lines(&server),
        [
            format!("GET {DR}/reviews"),
            format!("GET {VS}/reviews"),
            format!("PUT {DR}/reviews (dry run)"),
            format!("PUT {VS}/reviews (dry run)"),
            format!("PUT {DR}/reviews"),
            format!("PUT {VS}/reviews"),
        ]
    );
    let put = &server.writes()[1];
    assert_eq!(put.body.as_ref().unwrap()["metadata"]["resourceVersion"], "2");
    let vs = vs_object(&server);
    assert_eq!(vs["spec"]["http"][0], user_route());
    assert_eq!(vs["spec"]["http"][1]["name"], "mesh-default");
    assert_eq!(vs["metadata"]["annotations"]["owner"], "team-reviews");

    // Another weight change: only the VirtualService is written.
    server.clear_requests();
    let shift = Change::SetTrafficWeight {
        service: "bookinfo/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    backend(&server).execute(&shift).await.unwrap();
    assert_eq!(server.writes().len(), 1);
    assert_eq!(vs_object(&server)["spec"]["http"][0], user_route());
    assert_consistent(&server);
}

#[tokio::test]
async fn inject_then_remove_fault_leaves_other_routes_untouched() {
    let server = FakeApiServer::new();
    seed_user_objects(&server);
    let istio = backend(&server);
    istio.execute(&canary()).await.unwrap();
    istio.execute(&retries()).await.unwrap();
    let before = vs_object(&server)["spec"]["http"].clone();
    server.clear_requests();
    let report = istio.execute(&latency_fault()).await.unwrap();
    assert_eq!(server.writes().len(), 1, "a fault is one VirtualService write");
    assert!(report.warnings.iter().any(|w| w.contains("disables retries")));
    let mesh_core::MeshEvent::FaultInjected { fault_id, .. } = report.event else {
        panic!("unexpected event {:?}", report.event)
    };
    let during = vs_object(&server)["spec"]["http"].clone();
    assert_eq!(during[1]["name"], fault_id.marker());
    // A new process removes it with nothing but the id string.
    let fresh = backend(&server);
    let id = fault_id.to_string().parse().unwrap();
    fresh
        .execute(&Change::RemoveFault { fault_id: id })
        .await
        .unwrap();
    assert_eq!(vs_object(&server)["spec"]["http"], before);
    assert_consistent(&server);
}

#[tokio::test]
async fn fully_owned_objects_take_one_apply_and_no_read() {
    let server = FakeApiServer::new();
    let istio = backend(&server);
    istio.execute(&mtls()).await.unwrap();
    istio.execute(&authz()).await.unwrap();
    let pa = "/apis/security.istio.io/v1/namespaces/bookinfo/peerauthentications/default";
    let ap = "/apis/security.istio.io/v1/namespaces/bookinfo/authorizationpolicies/reviews-from-productpage";
    assert_eq!(
        lines(&server),
        // One object each: atomic, so no dry run first.
        [format!("PATCH {pa}"), format!("PATCH {ap}")]
    );
    for w in all_writes(&server) {
        assert_eq!(w.content_type.as_deref(), Some("application/apply-patch+yaml"));
        assert_eq!(w.query.get("force").map(String::as_str), Some("false"));
        assert_eq!(w.field_manager(), Some("mesh"));
    }
    let status = istio.mtls_status(&"bookinfo".parse().unwrap()).await.unwrap();
    assert_eq!(status.mode, MtlsMode::Strict);
    let other = istio.mtls_status(&"other".parse().unwrap()).await.unwrap();
    assert_eq!(other.mode, MtlsMode::Permissive);
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let server = FakeApiServer::new();
    let bad = Change::SetRetryPolicy {
        service: "bookinfo/reviews".parse().unwrap(),
        policy: mesh_core::RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    let err = backend(&server).plan(&bad).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn a_missing_crd_is_not_configured_and_writes_nothing() {
    let server = FakeApiServer::new().without_crd("virtualservices", "networking.istio.io");
    let err = backend(&server).execute(&canary()).await.unwrap_err();
    let Error::NotConfigured { what, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(what.contains("virtualservices.networking.istio.io"), "{what}");
    assert_eq!(server.writes().len(), 0);
}

#[tokio::test]
async fn a_conflict_on_the_virtual_service_is_planned_again() {
    let server = FakeApiServer::new();
    seed_user_objects(&server);
    let conflict = Fault::status(
        409,
        "Conflict",
        "the object has been modified; please apply your changes to the latest version",
    );
    server.fail_next(
        Match::method(Method::PUT)
            .path_contains("virtualservices")
            .real_writes_only(),
        conflict,
    );
    backend(&server).execute(&canary()).await.unwrap();
    let lines = lines(&server);
    assert_eq!(
        lines[6..],
        [
            format!("GET {DR}/reviews"),
            format!("GET {VS}/reviews"),
            format!("PUT {VS}/reviews"),
        ],
        "the second round re-reads both and writes only the VirtualService (one object: no dry run): {lines:#?}"
    );
    assert_eq!(vs_object(&server)["spec"]["http"][0], user_route());
    assert_consistent(&server);
}

#[tokio::test]
async fn conflicts_that_persist_end_in_a_typed_error_and_a_safe_state() {
    let server = FakeApiServer::new();
    seed_user_objects(&server);
    let conflict = Fault::status(409, "Conflict", "the object has been modified");
    server.fail_times(
        10,
        Match::method(Method::PUT)
            .path_contains("virtualservices")
            .real_writes_only(),
        conflict,
    );
    let err = backend(&server).execute(&canary()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    // 1 attempt + 3 re-plans, each ending at the VirtualService write.
    assert_eq!(server.pending_faults(), 6);
    assert_eq!(vs_object(&server)["spec"]["http"][0], user_route());
    assert_consistent(&server);
}

#[tokio::test]
async fn an_apply_conflict_names_the_other_manager_and_is_not_retried() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::PATCH)
            .path_contains("peerauthentications")
            .real_writes_only(),
        Fault::apply_conflict("kubectl-client-side-apply", ".spec.mtls.mode"),
    );
    let err = backend(&server).execute(&mtls()).await.unwrap_err();
    let Error::Conflict { owner, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(owner, "kubectl-client-side-apply");
    assert_eq!(
        all_writes(&server).len(),
        1,
        "one refused write (one object: no dry run), no retry"
    );
}

#[tokio::test]
async fn a_rejected_virtual_service_leaves_the_subsets_written_and_nothing_dangling() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::POST)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::invalid("spec.http[0].route", "admission webhook denied the request"),
    );
    let err = backend(&server).execute(&canary()).await.unwrap_err();
    let Error::PartiallyApplied {
        applied,
        failed,
        source,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].kind, "DestinationRule");
    assert_eq!(failed.kind, "VirtualService");
    assert!(matches!(**source, Error::InvalidInput { .. }), "{source:?}");
    assert_consistent(&server);
}

#[tokio::test(start_paused = true)]
async fn throttling_server_errors_timeouts_and_dropped_connections_are_retried() {
    for fault in [
        Fault::too_many_requests(2),
        Fault::internal_error(),
        Fault::Hang,
        Fault::Drop,
    ] {
        let server = FakeApiServer::new();
        server.fail_next(
            Match::method(Method::POST)
                .path_contains("virtualservices")
                .real_writes_only(),
            fault.clone(),
        );
        backend(&server)
            .execute(&canary())
            .await
            .unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
        assert_eq!(server.pending_faults(), 0);
        assert_eq!(vs_object(&server)["spec"]["http"][0]["route"][0]["weight"], 90);
        assert_consistent(&server);
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_that_keeps_failing_gives_a_typed_error_after_a_safe_prefix() {
    for fault in [
        Fault::internal_error(),
        Fault::too_many_requests(1),
        Fault::Hang,
        Fault::Drop,
    ] {
        let server = FakeApiServer::new();
        let only_vs = Match::method(Method::POST)
            .path_contains("virtualservices")
            .real_writes_only();
        server.fail_times(1000, only_vs, fault.clone());
        let err = backend(&server).execute(&canary()).await.unwrap_err();
        let Error::PartiallyApplied { applied, source, .. } = &err else {
            panic!("{fault:?}: {err:?}")
        };
        assert_eq!(applied.len(), 1, "{fault:?}");
        assert!(matches!(**source, Error::Backend { .. }), "{fault:?}: {source:?}");
        assert_consistent(&server);
    }
}

#[tokio::test]
async fn registration_of_a_plain_service_reads_once_and_writes_nothing() {
    let server = FakeApiServer::new();
    server.insert(serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {"ports": [{"port": 9080}]}
    }));
    let def = mesh_core::ServiceDefinition::builder("reviews", "bookinfo", 9080).unwrap();
    let report = backend(&server)
        .execute(&Change::RegisterService(def))
        .await
        .unwrap();
    assert!(report.applied.is_empty() && report.warnings.is_empty());
    assert_eq!(
        lines(&server),
        ["GET /api/v1/namespaces/bookinfo/services/reviews"]
    );
}

#[tokio::test]
async fn state_is_compare_and_swap_on_a_config_map() {
    let server = FakeApiServer::new();
    let key = mesh_core::StateKey::new("bookinfo/reviews".parse().unwrap(), "rollout").unwrap();
    state_is_compare_and_swap(&backend(&server), &key).await;
    let cm = "/api/v1/namespaces/bookinfo/configmaps/mesh-state-reviews-rollout";
    assert!(lines(&server).iter().any(|l| l == &format!("GET {cm}")));
}

/// The state store's compare-and-swap on `key`, from nothing back to nothing: the same on the
/// double and on the real server (`backend_live`).
pub(crate) async fn state_is_compare_and_swap(istio: &IstioBackend, key: &mesh_core::StateKey) {
    // The backend keeps its state in the engine's store (`MeshBackend::state_store`).
    let store = istio.engine();
    assert_eq!(store.read_state(key).await.unwrap(), None);
    let v1 = store.write_state(key, r#"{"step":1}"#, None).await.unwrap();
    let err = store.write_state(key, "again", None).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let v2 = store.write_state(key, r#"{"step":2}"#, Some(&v1)).await.unwrap();
    assert_ne!(v1, v2);
    let stale = store.write_state(key, "stale", Some(&v1)).await.unwrap_err();
    assert!(matches!(stale, Error::Conflict { .. }), "{stale:?}");
    let read = store.read_state(key).await.unwrap().unwrap();
    assert_eq!(
        (read.value.as_str(), read.version.as_str()),
        (r#"{"step":2}"#, v2.as_str())
    );
    assert!(matches!(
        store.delete_state(key, &v1).await.unwrap_err(),
        Error::Conflict { .. }
    ));
    store.delete_state(key, &v2).await.unwrap();
    assert!(matches!(
        store.delete_state(key, &v2).await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[tokio::test]
async fn a_conflict_found_by_the_dry_run_is_planned_again_before_any_write() {
    let server = FakeApiServer::new();
    seed_user_objects(&server);
    let conflict = Fault::status(409, "Conflict", "the object has been modified");
    server.fail_next(
        Match::method(Method::PUT)
            .path_contains("virtualservices")
            .dry_runs_only(),
        conflict,
    );
    backend(&server).execute(&canary()).await.unwrap();
    let lines = lines(&server);
    assert_eq!(lines.len(), 4 + 6, "{lines:#?}");
    assert_eq!(server.writes().len(), 2, "the aborted round wrote nothing");
    assert_eq!(vs_object(&server)["spec"]["http"][0], user_route());
}

#[tokio::test]
async fn register_and_unregister_a_vm_service() {
    let server = FakeApiServer::new();
    let istio = backend(&server);
    let def = mesh_core::ServiceDefinition::builder("legacy", "bookinfo", 8080)
        .unwrap()
        .endpoint(mesh_core::Endpoint::new("10.0.0.7", mesh_core::Port::new(8080).unwrap()).unwrap());
    let we_name = mesh_istio::objects::workload_entry_name(&def, &def.endpoints[0]);
    let se = "/apis/networking.istio.io/v1/namespaces/bookinfo/serviceentries/legacy";
    let we = format!("/apis/networking.istio.io/v1/namespaces/bookinfo/workloadentries/{we_name}");
    let svc = "/api/v1/namespaces/bookinfo/services/legacy";
    istio.execute(&Change::RegisterService(def)).await.unwrap();
    assert_eq!(
        lines(&server),
        [
            format!("GET {se}"),
            format!("GET {svc}"),
            format!("PATCH {we} (dry run)"),
            format!("PATCH {se} (dry run)"),
            format!("PATCH {we}"),
            format!("PATCH {se}"),
        ]
    );
    server.clear_requests();
    istio
        .execute(&Change::UnregisterService {
            service: "bookinfo/legacy".parse().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(
        lines(&server),
        [
            format!("GET {se}"),
            format!("GET {svc}"),
            format!("DELETE {se} (dry run)"),
            format!("DELETE {we} (dry run)"),
            format!("DELETE {se}"),
            format!("DELETE {we}"),
        ]
    );
    assert!(server.objects().is_empty());
}

#[tokio::test]
async fn circuit_breaker_then_retries_are_one_write_each() {
    let server = FakeApiServer::new();
    let istio = backend(&server);
    istio.execute(&circuit_breaker()).await.unwrap();
    assert_eq!(
        lines(&server),
        [
            format!("GET {DR}/reviews"),
            format!("GET {VS}/reviews"),
            format!("POST {DR}"),
        ]
    );
    let body = server.writes()[0].body.clone().unwrap();
    assert_eq!(
        body["spec"]["trafficPolicy"]["connectionPool"]["http"]["maxRetries"],
        3
    );
    server.clear_requests();
    istio.execute(&retries()).await.unwrap();
    assert_eq!(
        lines(&server),
        [
            format!("GET {DR}/reviews"),
            format!("GET {VS}/reviews"),
            format!("POST {VS}"),
        ]
    );
    assert_eq!(vs_object(&server)["spec"]["http"][0]["retries"]["attempts"], 3);
    // Re-running converges: reads only.
    server.clear_requests();
    istio.execute(&retries()).await.unwrap();
    assert!(server.requests().iter().all(|r| !r.is_write()));
}
