//! The backend against mesh-kube's fake Kubernetes API server: request sequences, write counts,
//! the ExternalWorkload `/status` write, ServiceProfile detection, user rules across weight
//! changes, per-concept field managers, version detection, and objects written under the old
//! `mesh.io/` key prefix.

use crate::support;

use mesh_core::*;
use mesh_kube::{
    KubeEngine,
    testing::{FakeApiServer, Fault, Match},
};
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
    server.insert(json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "prod" } }));
    server
}

fn backend(server: &FakeApiServer, config: Config) -> LinkerdBackend {
    LinkerdBackend::new(
        KubeEngine::new(server.client(), MeshKind::Linkerd, "mesh"),
        config,
    )
}

fn lines(server: &FakeApiServer) -> Vec<String> {
    server.requests().iter().map(|r| r.line()).collect()
}

fn write_lines(server: &FakeApiServer) -> Vec<String> {
    server
        .writes()
        .iter()
        .map(|r| format!("{} {}", r.line(), r.field_manager().unwrap_or("-")))
        .collect()
}

const SVC: &str = "/api/v1/namespaces/prod/services";
const ROUTE: &str = "/apis/policy.linkerd.io/v1beta3/namespaces/prod/httproutes/reviews";

#[tokio::test]
async fn a_canary_reads_then_dry_runs_then_writes_three_objects() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    let report = linkerd.execute(&canary()).await.unwrap();
    assert_eq!(report.event.name(), "traffic.weight.updated");
    assert_eq!(
        lines(&server),
        [
            format!("GET {SVC}/reviews"),
            "GET /apis/linkerd.io/v1alpha2/namespaces/prod/serviceprofiles/reviews.prod.svc.cluster.local"
                .into(),
            format!("GET {SVC}/reviews-v1"),
            format!("GET {SVC}/reviews-v2"),
            format!("GET {ROUTE}"),
            format!("PATCH {SVC}/reviews-v1 (dry run)"),
            format!("PATCH {SVC}/reviews-v2 (dry run)"),
            format!("PATCH {ROUTE} (dry run)"),
            format!("PATCH {SVC}/reviews-v1"),
            format!("PATCH {SVC}/reviews-v2"),
            format!("PATCH {ROUTE}"),
        ]
    );
    assert!(server.writes().iter().all(|w| w.field_manager() == Some("mesh")));
    let route = server
        .object(&objects::http_route(&reviews(), "policy.linkerd.io/v1beta3"))
        .unwrap();
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 10);
    // Running it again reads and writes nothing.
    server.clear_requests();
    linkerd.execute(&canary()).await.unwrap();
    assert!(server.writes().is_empty(), "{:?}", write_lines(&server));
}

#[tokio::test]
async fn a_users_route_rules_survive_a_weight_change() {
    let server = server();
    let user_rule = json!({
        "matches": [{ "path": { "type": "PathPrefix", "value": "/admin" } }],
        "backendRefs": [{ "name": "reviews", "port": 9080 }],
    });
    server.insert(json!({
        "apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "parentRefs": [{ "group": "core", "kind": "Service", "name": "reviews", "port": 9080 }], "rules": [user_rule.clone()] },
    }));
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    linkerd.execute(&canary()).await.unwrap();
    server.clear_requests();
    linkerd.execute(&split(&[("v1", 10), ("v2", 90)])).await.unwrap();
    // Only the route changes, by a guarded replace.
    assert_eq!(write_lines(&server), [format!("PUT {ROUTE} mesh")]);
    let route = server
        .object(&objects::http_route(&reviews(), "policy.linkerd.io/v1beta3"))
        .unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(objects::contains(&rules[0], &user_rule), "{:#}", rules[0]);
    assert_eq!(rules[1]["backendRefs"][1]["weight"], 90);
}

#[tokio::test]
async fn external_workloads_get_their_ready_condition_through_status() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    linkerd.execute(&register_vm()).await.unwrap();
    let ew = "/apis/workload.linkerd.io/v1beta1/namespaces/prod/externalworkloads";
    assert_eq!(
        write_lines(&server),
        [
            format!("PATCH {ew}/ratings-10-0-0-5-9080 mesh"),
            format!("PATCH {ew}/ratings-10-0-0-5-9080/status mesh"),
            format!("PATCH {ew}/ratings-fd00--7-9080 mesh"),
            format!("PATCH {ew}/ratings-fd00--7-9080/status mesh"),
            format!("PATCH {SVC}/ratings mesh"),
        ]
    );
    let stored = server
        .object(&objects::external_workload("prod", "ratings-10-0-0-5-9080"))
        .unwrap();
    assert_eq!(
        stored["status"]["conditions"][0],
        json!({
            "type": "Ready", "status": "True", "reason": "RegisteredByMesh", "message": "registered through the mesh library",
        })
    );
    // Unregistering removes the workloads and the Service, nothing else.
    server.clear_requests();
    linkerd
        .execute(&Change::UnregisterService {
            service: "prod/ratings".parse().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(server.writes().iter().filter(|w| w.method == "DELETE").count(), 3);
}

#[tokio::test]
async fn a_service_profile_is_detected_and_nothing_is_written() {
    let server = server();
    server.insert(json!({
        "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
        "metadata": { "name": "reviews.prod.svc.cluster.local", "namespace": "prod" },
        "spec": { "routes": [{ "name": "GET /", "condition": { "method": "GET", "pathRegex": "/" } }] },
    }));
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    for change in [canary(), breaker(), retries()] {
        let err = linkerd.execute(&change).await.unwrap_err();
        assert!(
            matches!(err, Error::Unsupported { ref reason, .. } if reason.contains("ServiceProfile")),
            "{err:?}"
        );
    }
    assert!(server.writes().is_empty());
}

#[tokio::test]
async fn annotations_are_applied_by_their_own_field_manager_and_leave_the_service_alone() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    linkerd.execute(&register_k8s()).await.unwrap();
    let details: ServiceId = "prod/details".parse().unwrap();
    server.clear_requests();
    linkerd.execute(&breaker_of(&details, 5)).await.unwrap();
    assert_eq!(
        write_lines(&server),
        [format!("PATCH {SVC}/details mesh-circuit-breaker")]
    );
    retries_then_a_smaller_breaker_keep_each_managers_annotations(&linkerd, &details).await;
}

/// A circuit breaker on `service` that ejects after `n` consecutive failures.
pub(crate) fn breaker_of(service: &ServiceId, n: u32) -> Change {
    Change::ConfigureCircuitBreaker {
        service: service.clone(),
        circuit_breaker: CircuitBreaker {
            consecutive_errors: Some(n),
            ..Default::default()
        },
        callers: vec![],
    }
}

/// After [`breaker_of`] `details` with 5 failures: retries, through another field manager, add
/// their annotations and leave the Service's spec alone; a breaker with fewer settings removes
/// exactly the annotations it no longer sets. The same on the double and on the real server
/// (`api_server_live`); the Service is read through the backend's engine.
pub(crate) async fn retries_then_a_smaller_breaker_keep_each_managers_annotations(
    linkerd: &LinkerdBackend,
    details: &ServiceId,
) {
    let service = || async {
        linkerd
            .engine()
            .get(&objects::service(details))
            .await
            .unwrap()
            .unwrap()
    };
    let retry = Change::SetRetryPolicy {
        service: details.clone(),
        policy: RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: vec![RetryOn::GatewayError],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    linkerd.execute(&retry).await.unwrap();
    let svc = service().await;
    let a = &svc["metadata"]["annotations"];
    assert_eq!(
        a["balancer.linkerd.io/failure-accrual-consecutive-max-failures"],
        "5"
    );
    assert_eq!(a["retry.linkerd.io/http"], "gateway-error");
    assert_eq!(
        svc["spec"]["ports"][0]["port"], 9080,
        "the registered spec is untouched"
    );
    assert_eq!(svc["spec"]["selector"]["app"], "details");
    let base_only = Change::ConfigureCircuitBreaker {
        service: details.clone(),
        circuit_breaker: CircuitBreaker {
            base_ejection_time: Some(std::time::Duration::from_secs(5)),
            ..Default::default()
        },
        callers: vec![],
    };
    linkerd.execute(&base_only).await.unwrap();
    let svc = service().await;
    let a = &svc["metadata"]["annotations"];
    assert!(
        a.get("balancer.linkerd.io/failure-accrual-consecutive-max-failures")
            .is_none(),
        "{a:#}"
    );
    assert_eq!(
        a["balancer.linkerd.io/failure-accrual-consecutive-min-penalty"],
        "5s"
    );
    assert_eq!(
        a["retry.linkerd.io/limit"], "2",
        "another manager's annotations stay"
    );
}

#[tokio::test]
async fn the_release_is_detected_from_served_crd_versions() {
    let v214 = server()
        .serving_only("servers", "policy.linkerd.io", &["v1alpha1", "v1beta1"])
        .without_crd("externalworkloads", "workload.linkerd.io")
        .without_crd("egressnetworks", "policy.linkerd.io");
    let linkerd = backend(&v214, Config::default());
    assert_eq!(linkerd.version().await.unwrap(), LinkerdVersion::V2_14);
    assert!(matches!(
        MeshBackend::capabilities(&linkerd).support(Feature::RegisterExternalWorkload),
        Support::Unsupported { .. }
    ));
    let err = MeshBackend::plan(&linkerd, &register_vm()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: Feature::RegisterExternalWorkload,
                ..
            }
        ),
        "{err:?}"
    );
    let full = backend(&server(), Config::default());
    assert_eq!(full.version().await.unwrap(), LinkerdVersion::V2_17);
    // Connecting detects up front, so the capability table describes the cluster at once.
    let old = server()
        .serving_only("servers", "policy.linkerd.io", &["v1beta1", "v1beta2"])
        .without_crd("egressnetworks", "policy.linkerd.io");
    let engine = KubeEngine::new(old.client(), MeshKind::Linkerd, "mesh");
    let connected = LinkerdBackend::connect(engine, Config::default()).await.unwrap();
    assert!(matches!(
        MeshBackend::capabilities(&connected).support(Feature::RetryAttempts),
        Support::Emulated { .. }
    ));
    // Without any Linkerd CRD there is nothing to talk to.
    let bare = FakeApiServer::new()
        .without_crd("servers", "policy.linkerd.io")
        .without_crd("externalworkloads", "workload.linkerd.io")
        .without_crd("egressnetworks", "policy.linkerd.io");
    let err = LinkerdBackend::connect(
        KubeEngine::new(bare.client(), MeshKind::Linkerd, "mesh"),
        Config::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotConfigured { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failure_part_way_reports_exactly_what_landed() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    let plan = MeshBackend::plan(&linkerd, &canary()).await.unwrap();
    server.fail_next(
        Match::method(http::Method::PATCH)
            .path_contains("reviews-v2")
            .real_writes_only(),
        Fault::invalid("spec.ports", "injected"),
    );
    match MeshBackend::apply(&linkerd, &plan).await {
        Err(Error::PartiallyApplied {
            applied,
            failed,
            total,
            ..
        }) => {
            assert_eq!(applied, vec![plan.writes[0].target.clone()]);
            assert_eq!(*failed, plan.writes[1].target);
            assert_eq!(total, 3);
        }
        other => panic!("expected PartiallyApplied, got {other:?}"),
    }
    // The landed prefix is safe: no route was written.
    assert!(
        server
            .object(&objects::http_route(&reviews(), "policy.linkerd.io/v1beta3"))
            .is_none()
    );
}

#[tokio::test]
async fn mtls_status_reads_the_namespace_annotation() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    let before = linkerd.mtls_status(&"prod".parse().unwrap()).await.unwrap();
    assert_eq!(before.mode, MtlsMode::Permissive);
    linkerd.execute(&mtls()).await.unwrap();
    assert_eq!(
        write_lines(&server),
        ["PATCH /api/v1/namespaces/prod mesh-inbound-policy"]
    );
    let after = linkerd.mtls_status(&"prod".parse().unwrap()).await.unwrap();
    assert_eq!(after.mode, MtlsMode::Strict);
    assert!(after.automatic && after.notes.iter().any(|n| n.contains("restart")));
}

#[tokio::test]
async fn the_abort_fault_round_trip_restores_the_stored_route() {
    let server = server();
    let config = Config::default()
        .version(LinkerdVersion::V2_20)
        .fault_error_backend("error-injector", 8080);
    let linkerd = backend(&server, config);
    linkerd.execute(&canary()).await.unwrap();
    let r = objects::http_route(&reviews(), "policy.linkerd.io/v1beta3");
    let before: Value = server.object(&r).unwrap();
    linkerd.execute(&abort()).await.unwrap();
    let faulted = server.object(&r).unwrap();
    assert_eq!(
        faulted["spec"]["rules"][0]["backendRefs"][2]["name"],
        "error-injector"
    );
    let id = abort().fault_id(MeshKind::Linkerd).unwrap();
    linkerd
        .execute(&Change::RemoveFault { fault_id: id })
        .await
        .unwrap();
    let after = server.object(&r).unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
}

#[tokio::test]
async fn state_is_kept_in_a_config_map_with_compare_and_swap() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    let key = StateKey::new(reviews(), "rollout").unwrap();
    state_is_kept_with_compare_and_swap(&linkerd, &key).await;
    assert!(server.object(&mesh_linkerd::state_object(&key)).is_none());
}

/// The state store's compare-and-swap on `key`, from nothing back to nothing: the same on the
/// double and on the real server (`api_server_live`).
pub(crate) async fn state_is_kept_with_compare_and_swap(linkerd: &LinkerdBackend, key: &StateKey) {
    // The backend keeps its state in the engine's store (`MeshBackend::state_store`).
    let store = linkerd.engine();
    assert_eq!(store.read_state(key).await.unwrap(), None);
    let v1 = store.write_state(key, "{\"step\":1}", None).await.unwrap();
    // A second create loses the race.
    assert!(matches!(
        store.write_state(key, "x", None).await,
        Err(Error::Conflict { .. })
    ));
    let v2 = store.write_state(key, "{\"step\":2}", Some(&v1)).await.unwrap();
    assert!(matches!(
        store.write_state(key, "stale", Some(&v1)).await,
        Err(Error::Conflict { .. })
    ));
    assert_eq!(
        store.read_state(key).await.unwrap().unwrap().value,
        "{\"step\":2}"
    );
    assert!(matches!(
        store.delete_state(key, &v1).await,
        Err(Error::Conflict { .. })
    ));
    store.delete_state(key, &v2).await.unwrap();
    assert_eq!(store.read_state(key).await.unwrap(), None);
}

#[tokio::test]
async fn route_acceptance_is_read_from_the_status_the_policy_controller_writes() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    assert_eq!(linkerd.route_accepted(&reviews()).await.unwrap(), None);
    linkerd.execute(&canary()).await.unwrap();
    assert_eq!(
        linkerd.route_accepted(&reviews()).await.unwrap(),
        None,
        "no status yet"
    );
}

/// Traces and metrics come from a configured source (`mesh-telemetry`, which `Mesh` composes with
/// the backend; without one, `Mesh` answers `NotConfigured`): the backend answers none itself, and
/// asks the cluster nothing for them.
#[tokio::test]
async fn traces_and_metrics_need_a_configured_source() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    assert!(MeshBackend::observability(&linkerd).is_none());
    assert!(MeshBackend::state_store(&linkerd).is_some());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn what_no_release_can_do_is_refused_before_detecting_the_release() {
    let server = server();
    let linkerd = backend(&server, Config::default());
    let err = MeshBackend::plan(&linkerd, &delay()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: Feature::FaultDelay,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(server.requests().is_empty(), "{:?}", lines(&server));
}

#[tokio::test]
async fn a_plan_mixing_objects_and_annotations_dry_runs_everything_before_writing() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    let Change::CreateDestinationRule(mut p) = subsets() else {
        unreachable!()
    };
    p.subsets.truncate(1);
    p.outlier_detection = Some(OutlierDetection {
        consecutive_errors: Some(3),
        ..Default::default()
    });
    linkerd.execute(&Change::CreateDestinationRule(p)).await.unwrap();
    let requests: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.line(), r.field_manager().unwrap_or("-")))
        .collect();
    assert_eq!(
        requests,
        [
            // Phase one: every write dry-run, each through its own field manager.
            format!("PATCH {SVC}/reviews-v1 (dry run) mesh"),
            format!("PATCH {SVC}/reviews (dry run) mesh-circuit-breaker"),
            // Phase two: each run of writes lands through the engine, one object at a time (a
            // single-object write is atomic: no second dry run; once, each was dry-run twice).
            format!("PATCH {SVC}/reviews-v1 mesh"),
            format!("PATCH {SVC}/reviews mesh-circuit-breaker"),
        ]
    );
    assert_eq!(server.writes().len(), 2);
}

#[tokio::test]
async fn unregister_works_without_the_optional_smi_crd() {
    let server = server().without_crd("trafficsplits", "split.smi-spec.io");
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    linkerd.execute(&register_k8s()).await.unwrap();
    let details: ServiceId = "prod/details".parse().unwrap();
    let split = Change::SetTrafficWeight {
        service: details.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 100)]).unwrap(),
    };
    linkerd.execute(&split).await.unwrap();
    linkerd
        .execute(&Change::UnregisterService {
            service: details.clone(),
        })
        .await
        .unwrap();
    assert!(server.object(&objects::service(&details)).is_none());
    // With the SMI opt-in, a missing CRD is a typed not-configured error naming it.
    let smi = backend(
        &server,
        Config::default().version(LinkerdVersion::V2_20).smi(true),
    );
    let err = smi.execute(&canary()).await.unwrap_err();
    assert!(
        matches!(err, Error::NotConfigured { ref what, .. } if what.contains("trafficsplits")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_lost_race_on_the_shared_route_is_planned_again() {
    let server = server();
    let linkerd = backend(&server, Config::default().version(LinkerdVersion::V2_20));
    linkerd.execute(&canary()).await.unwrap();
    // Another writer changes the route between our read and our replace, once.
    server.fail_next(
        Match::method(http::Method::PUT)
            .path_contains("httproutes/reviews")
            .real_writes_only(),
        Fault::status(
            409,
            "Conflict",
            "the object has been modified; please apply your changes to the latest version",
        ),
    );
    linkerd.execute(&split(&[("v1", 60), ("v2", 40)])).await.unwrap();
    let route = server
        .object(&objects::http_route(&reviews(), "policy.linkerd.io/v1beta3"))
        .unwrap();
    assert_eq!(route["spec"]["rules"][0]["backendRefs"][1]["weight"], 40);
    assert_eq!(server.pending_faults(), 0);
    // Without retries the conflict is the caller's, typed.
    let strict = backend(
        &server,
        Config::default()
            .version(LinkerdVersion::V2_20)
            .conflict_retries(0),
    );
    server.fail_next(
        Match::method(http::Method::PUT)
            .path_contains("httproutes/reviews")
            .real_writes_only(),
        Fault::status(409, "Conflict", "the object has been modified"),
    );
    let err = strict
        .execute(&split(&[("v1", 50), ("v2", 50)]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
}

// Objects written by releases that used the `mesh.io/` annotation prefix are still recognized
// after the move to `meshctl.dev/`: owned route rules stay owned (not mistaken for a user's),
// and a fault injected then is still found and removed.

fn fault_config() -> Config {
    Config::default()
        .version(LinkerdVersion::V2_20)
        .fault_error_backend("error-injector", 8080)
}

/// Rewrites the object `r` as an earlier release wrote it ([`with_the_old_prefix`]).
fn as_written_before(server: &FakeApiServer, r: &ObjectRef) {
    server.insert(with_the_old_prefix(server.object(r).unwrap()));
}

/// `obj` with every `meshctl.dev/` annotation under `mesh.io/`, as an earlier release wrote it.
pub(crate) fn with_the_old_prefix(mut obj: Value) -> Value {
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
    obj
}

#[tokio::test]
async fn owned_rules_recorded_under_the_old_prefix_stay_owned() {
    let server = server();
    let linkerd = backend(&server, fault_config());
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
    let linkerd = backend(&server, fault_config());
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
