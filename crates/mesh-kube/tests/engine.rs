//! The engine against the fake API server: exact request sequences, write counts, and every
//! failure mode (404 CRD missing, 409, 422, 429 + Retry-After, 500, timeouts, dropped
//! connections) with the typed error and the exact partially-applied prefix.

use std::time::Duration;

use http::Method;
use mesh_core::{
    Change, Dependency, Error, MeshKind, ObjectRef, Plan, Precondition, ServiceId, StateStore, Version,
    Write, WriteAction,
};
use mesh_kube::{
    KubeEngine, KubeError, RetryPolicy,
    testing::{FakeApiServer, Fault, Match},
};
use serde_json::{Value, json};

fn vs_ref() -> ObjectRef {
    ObjectRef::new(
        "networking.istio.io/v1",
        "VirtualService",
        Some("prod"),
        "reviews",
    )
}

fn dr_ref() -> ObjectRef {
    ObjectRef::new(
        "networking.istio.io/v1",
        "DestinationRule",
        Some("prod"),
        "reviews",
    )
}

fn subset(v: &str) -> Dependency {
    Dependency::Subset {
        service: "prod/reviews".parse::<ServiceId>().unwrap(),
        version: Version::new(v).unwrap(),
    }
}

fn dr_body() -> Value {
    json!({ "spec": { "host": "reviews.prod.svc.cluster.local",
                      "subsets": [{ "name": "v1", "labels": { "version": "v1" } },
                                  { "name": "v2", "labels": { "version": "v2" } }] } })
}

fn vs_body() -> Value {
    json!({ "spec": { "hosts": ["reviews.prod.svc.cluster.local"], "http": [{ "route": [
        { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v1" }, "weight": 90 },
        { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v2" }, "weight": 10 }
    ] }] } })
}

fn plan(writes: Vec<Write>) -> Plan {
    let change = Change::SetTrafficWeight {
        service: "prod/reviews".parse().unwrap(),
        split: mesh_core::TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    };
    let mut plan = Plan::for_change(MeshKind::Istio, &change);
    for w in writes {
        plan.push(w);
    }
    plan
}

/// DestinationRule (subsets) then VirtualService (routes): make-before-break.
fn canary_plan() -> Plan {
    plan(vec![
        Write::new(WriteAction::Apply, dr_ref(), Some(dr_body())).providing([subset("v1"), subset("v2")]),
        Write::new(WriteAction::Apply, vs_ref(), Some(vs_body())).requiring([subset("v1"), subset("v2")]),
    ])
}

fn engine(server: &FakeApiServer) -> KubeEngine {
    KubeEngine::new(server.client(), MeshKind::Istio, "mesh")
}

fn lines(server: &FakeApiServer) -> Vec<String> {
    server.requests().iter().map(|r| r.line()).collect()
}

const DR_PATH: &str = "/apis/networking.istio.io/v1/namespaces/prod/destinationrules/reviews";
const VS_PATH: &str = "/apis/networking.istio.io/v1/namespaces/prod/virtualservices/reviews";

#[tokio::test]
async fn apply_dry_runs_everything_then_writes_in_order() {
    let server = FakeApiServer::new();
    let report = engine(&server).apply(&canary_plan()).await.unwrap();
    assert_eq!(report.applied, vec![dr_ref(), vs_ref()]);
    assert_eq!(
        lines(&server),
        [
            format!("PATCH {DR_PATH} (dry run)"),
            format!("PATCH {VS_PATH} (dry run)"),
            format!("PATCH {DR_PATH}"),
            format!("PATCH {VS_PATH}"),
        ]
    );
    for r in server.requests() {
        assert_eq!(r.field_manager(), Some("mesh"));
        assert_eq!(r.query.get("force").map(String::as_str), Some("false"));
        assert_eq!(r.content_type.as_deref(), Some("application/apply-patch+yaml"));
        let body = r.body.unwrap();
        assert_eq!(body["apiVersion"], "networking.istio.io/v1");
        assert_eq!(body["metadata"]["namespace"], "prod");
        assert_eq!(body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "mesh");
    }
    // Fully owned objects: one apply each, no read. The documented minimum is the write count.
    assert_eq!(server.writes().len(), 2);
    let stored = server.object(&vs_ref()).unwrap();
    assert_eq!(stored["spec"]["http"][0]["route"][1]["weight"], 10);
    assert!(mesh_kube::is_owned(&stored));
}

/// The query parameters that keep the engine on its own request building rather than
/// kube-core's `Request` (ARCHITECTURE.md, "Kubernetes requests: kube's, and what stays ours"):
/// a create, replace or apply asks for `fieldValidation=Strict` (kube-core 5's `PostParams`
/// carries no field validation), an apply says `force=false`, and every dry run, a delete's
/// included, says `dryRun=All` in the query, where the API server's audit log and the double
/// see it (kube-core's `DeleteParams` puts it in the body).
#[tokio::test]
async fn writes_ask_for_strict_validation_and_dry_runs_say_so_in_the_query() {
    let server = FakeApiServer::new();
    let seed = plan(vec![Write::new(WriteAction::Apply, dr_ref(), Some(dr_body()))]);
    let version = engine(&server).apply_answered(&seed).await.unwrap().1[0]
        .as_ref()
        .unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    let seen = server.requests().len();
    let config_map = ObjectRef::new("v1", "ConfigMap", Some("prod"), "settings");
    let writes = vec![
        Write::new(
            WriteAction::Create,
            config_map,
            Some(json!({ "data": { "a": "b" } })),
        )
        .guarded(Precondition::MustNotExist),
        Write::new(WriteAction::Replace, dr_ref(), Some(dr_body())).guarded(Precondition::Version(version)),
        Write::new(WriteAction::Apply, vs_ref(), Some(vs_body())),
        Write::new(WriteAction::Delete, dr_ref(), None),
    ];
    engine(&server).apply(&plan(writes)).await.unwrap();
    let requests = &server.requests()[seen..];
    let methods: Vec<&str> = requests.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        ["POST", "PUT", "PATCH", "DELETE", "POST", "PUT", "PATCH", "DELETE"]
    );
    let query = |r: &mesh_kube::testing::RecordedRequest, key: &str| r.query.get(key).cloned();
    for (i, r) in requests.iter().enumerate() {
        let dry_run = (i < 4).then(|| "All".to_owned());
        assert_eq!(query(r, "dryRun"), dry_run, "{}", r.line());
        let strict = (r.method != "DELETE").then(|| "Strict".to_owned());
        assert_eq!(query(r, "fieldValidation"), strict, "{}", r.line());
    }
    assert_eq!(query(&requests[2], "force").as_deref(), Some("false"));
}

#[tokio::test]
async fn empty_plans_send_nothing() {
    let server = FakeApiServer::new();
    let report = engine(&server).apply(&plan(vec![])).await.unwrap();
    assert!(report.applied.is_empty());
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn unsafe_plans_are_refused_before_any_request() {
    let server = FakeApiServer::new();
    let mut p = canary_plan();
    p.writes.reverse();
    let err = engine(&server).apply(&p).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn replace_sends_the_resource_version_and_keeps_the_users_routes() {
    let server = FakeApiServer::new();
    let user = server.insert(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "hosts": ["reviews.prod.svc.cluster.local"],
                  "http": [{ "name": "users-own", "route": [{ "destination": { "host": "ratings" } }] }] }
    }));
    let engine = engine(&server);
    // The backend reads, modifies, and writes back guarded by the version it read.
    let mut current = engine.get(&vs_ref()).await.unwrap().unwrap();
    let rv = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(rv, user["metadata"]["resourceVersion"]);
    current["spec"]["http"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "mesh-split", "route": [{ "destination": { "host": "reviews" } }] }));
    let write =
        Write::new(WriteAction::Replace, vs_ref(), Some(current)).guarded(Precondition::Version(rv.clone()));
    server.clear_requests();
    engine.apply(&plan(vec![write])).await.unwrap();
    let reqs = server.requests();
    // One object: the write is atomic, so no dry run first.
    assert_eq!(lines(&server), [format!("PUT {VS_PATH}")]);
    assert_eq!(
        reqs[0].body.as_ref().unwrap()["metadata"]["resourceVersion"],
        rv.as_str()
    );
    let stored = server.object(&vs_ref()).unwrap();
    assert_eq!(stored["spec"]["http"][0]["name"], "users-own");
    assert_eq!(stored["spec"]["http"][1]["name"], "mesh-split");
}

#[tokio::test]
async fn a_stale_resource_version_is_a_conflict_and_writes_nothing() {
    let server = FakeApiServer::new();
    server.insert(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "hosts": ["reviews"] }
    }));
    let write = Write::new(WriteAction::Replace, vs_ref(), Some(vs_body()))
        .guarded(Precondition::Version("999".into()));
    let err = engine(&server).apply(&plan(vec![write])).await.unwrap_err();
    let Error::Conflict { owner, field, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(
        (owner.as_str(), field.as_str()),
        ("unknown", "metadata.resourceVersion")
    );
    // The one write was refused: the object is as it was.
    assert_eq!(
        server.object(&vs_ref()).unwrap()["spec"],
        json!({ "hosts": ["reviews"] })
    );
}

#[tokio::test]
async fn create_delete_and_status_writes() {
    let server = FakeApiServer::new();
    let pa = ObjectRef::new(
        "security.istio.io/v1",
        "PeerAuthentication",
        Some("prod"),
        "default",
    );
    let p = plan(create_status_and_delete(&pa, &dr_ref()));
    let report = engine(&server).apply(&p).await.unwrap();
    assert_eq!(report.applied.len(), 3);
    let pa_path = "/apis/security.istio.io/v1/namespaces/prod/peerauthentications";
    assert_eq!(lines(&server), create_status_and_delete_lines(pa_path, DR_PATH));
    assert_eq!(server.object(&pa).unwrap()["status"]["observedGeneration"], 1);
    // Creating it again is refused.
    let again = plan(vec![Write::new(
        WriteAction::Create,
        pa,
        Some(json!({ "spec": {} })),
    )]);
    let err = engine(&server).apply(&again).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
}

/// The plan of `create_delete_and_status_writes`: create `pa`, write its status, delete `dr` (which
/// is not there).
pub(crate) fn create_status_and_delete(pa: &ObjectRef, dr: &ObjectRef) -> Vec<Write> {
    vec![
        Write::new(
            WriteAction::Create,
            pa.clone(),
            Some(json!({ "spec": { "mtls": { "mode": "STRICT" } } })),
        ),
        Write::new(
            WriteAction::ApplyStatus,
            pa.clone(),
            Some(json!({ "status": { "observedGeneration": 1 } })),
        ),
        Write::new(WriteAction::Delete, dr.clone(), None),
    ]
}

/// The write requests of [`create_status_and_delete`], for the PeerAuthentications at `pa_path`
/// (the collection) and the DestinationRule at `dr_path`.
pub(crate) fn create_status_and_delete_lines(pa_path: &str, dr_path: &str) -> [String; 6] {
    [
        format!("POST {pa_path} (dry run)"),
        // The status of an object the plan creates is missing in the dry run: tolerated.
        format!("PATCH {pa_path}/default/status (dry run)"),
        format!("DELETE {dr_path} (dry run)"),
        format!("POST {pa_path}"),
        format!("PATCH {pa_path}/default/status"),
        // Deleting what is not there counts as deleted.
        format!("DELETE {dr_path}"),
    ]
}

#[tokio::test]
async fn a_missing_crd_names_the_crd_and_the_mesh() {
    let server = FakeApiServer::new().without_crd("virtualservices", "networking.istio.io");
    let engine = engine(&server);
    let err = engine.apply(&canary_plan()).await.unwrap_err();
    let Error::NotConfigured { what, hint } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, "CRD virtualservices.networking.istio.io");
    assert!(hint.contains("istio"), "{hint}");
    // The DR dry run passed; nothing was written.
    assert!(server.writes().is_empty());
    assert!(matches!(
        engine.get(&vs_ref()).await,
        Err(Error::NotConfigured { .. })
    ));
    // A missing object of a served type is just absent.
    assert_eq!(engine.get(&dr_ref()).await.unwrap(), None);
}

#[tokio::test]
async fn an_apply_conflict_part_way_names_the_manager_and_the_landed_prefix() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::PATCH)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::apply_conflict("kubectl-client-side-apply", ".spec.http"),
    );
    let err = engine(&server).apply(&canary_plan()).await.unwrap_err();
    let Error::PartiallyApplied {
        applied,
        failed,
        total,
        source,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((applied, *failed, total), (vec![dr_ref()], vs_ref(), 2));
    let Error::Conflict { owner, field, .. } = *source else {
        panic!("{source}")
    };
    assert_eq!(
        (owner.as_str(), field.as_str()),
        ("kubectl-client-side-apply", ".spec.http")
    );
    // Never forced, never retried.
    assert_eq!(server.writes().len(), 2);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.query.get("force").map(String::as_str) != Some("true"))
    );
}

#[tokio::test]
async fn an_object_the_server_refuses_fails_the_dry_run() {
    let server = FakeApiServer::new();
    let mut bad = vs_body();
    bad["spec"]["http"][0]["timeout"] = json!("500us");
    let p = plan(vec![
        Write::new(WriteAction::Apply, dr_ref(), Some(dr_body())),
        Write::new(WriteAction::Apply, vs_ref(), Some(bad)),
    ]);
    let err = engine(&server).apply(&p).await.unwrap_err();
    let Error::InvalidInput { field, reason } = &err else {
        panic!("{err}")
    };
    assert_eq!(field, "VirtualService prod/reviews: spec.http[0].timeout");
    assert!(reason.contains("is invalid"), "{reason}");
    assert!(server.writes().is_empty());
}

#[tokio::test]
async fn a_422_at_the_second_write_is_partially_applied() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::PATCH)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::invalid("spec.http", "admission webhook denied the request"),
    );
    let err = engine(&server).apply(&canary_plan()).await.unwrap_err();
    let Error::PartiallyApplied { applied, source, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(applied, vec![dr_ref()]);
    assert!(matches!(*source, Error::InvalidInput { .. }), "{source}");
    assert!(server.object(&vs_ref()).is_none());
}

#[tokio::test(start_paused = true)]
async fn too_many_requests_waits_for_retry_after() {
    let server = FakeApiServer::new();
    server.fail_next(
        Match::method(Method::PATCH)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::too_many_requests(7),
    );
    let start = tokio::time::Instant::now();
    engine(&server).apply(&canary_plan()).await.unwrap();
    assert!(start.elapsed() >= Duration::from_secs(7), "{:?}", start.elapsed());
    assert!(start.elapsed() < Duration::from_secs(8), "{:?}", start.elapsed());
    assert_eq!(server.writes().len(), 3);
    assert_eq!(server.pending_faults(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_time_budget_gives_up() {
    let server = FakeApiServer::new();
    server.fail_next(Match::any().dry_runs_only(), Fault::too_many_requests(3600));
    let err = engine(&server).apply(&canary_plan()).await.unwrap_err();
    let Error::Backend { source, .. } = &err else {
        panic!("{err}")
    };
    let Some(KubeError::RetriesExhausted { attempts: 1, .. }) = source.downcast_ref::<KubeError>() else {
        panic!("{source:?}")
    };
    assert!(server.writes().is_empty());
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_backoff() {
    let server = FakeApiServer::new();
    server.fail_times(2, Match::any().real_writes_only(), Fault::internal_error());
    engine(&server).apply(&canary_plan()).await.unwrap();
    assert_eq!(server.writes().len(), 4);
    assert!(server.object(&vs_ref()).is_some());
}

#[tokio::test(start_paused = true)]
async fn persistent_server_errors_at_the_second_write_stop_with_the_prefix() {
    let server = FakeApiServer::new();
    let policy = RetryPolicy::default();
    server.fail_times(
        policy.max_attempts as usize,
        Match::method(Method::PATCH)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::internal_error(),
    );
    let err = engine(&server)
        .with_retry(policy.clone())
        .apply(&canary_plan())
        .await
        .unwrap_err();
    let Error::PartiallyApplied { applied, source, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(applied, vec![dr_ref()]);
    let Error::Backend { source, .. } = *source else {
        panic!("{source}")
    };
    let exhausted = source.downcast_ref::<KubeError>().unwrap();
    let KubeError::RetriesExhausted { attempts, last, .. } = exhausted else {
        panic!("{exhausted}")
    };
    assert_eq!(*attempts, policy.max_attempts);
    assert!(matches!(**last, KubeError::Api { code: 500, .. }));
    // 1 DR write + 5 VS attempts.
    assert_eq!(server.writes().len(), 1 + policy.max_attempts as usize);
}

#[tokio::test(start_paused = true)]
async fn timeouts_are_retried() {
    let server = FakeApiServer::new();
    server.fail_next(Match::any().real_writes_only(), Fault::Hang);
    let start = tokio::time::Instant::now();
    engine(&server).apply(&canary_plan()).await.unwrap();
    assert!(start.elapsed() >= RetryPolicy::default().request_timeout);
    assert_eq!(server.writes().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn timeouts_without_retries_are_typed() {
    let server = FakeApiServer::new();
    server.fail_next(Match::any(), Fault::Hang);
    let err = engine(&server)
        .with_retry(RetryPolicy::none())
        .get(&vs_ref())
        .await
        .unwrap_err();
    let Error::Backend { source, .. } = &err else {
        panic!("{err}")
    };
    let Some(KubeError::RetriesExhausted { last, .. }) = source.downcast_ref::<KubeError>() else {
        panic!()
    };
    assert!(matches!(**last, KubeError::Timeout(_)));
}

#[tokio::test(start_paused = true)]
async fn dropped_connections_are_retried() {
    let server = FakeApiServer::new();
    server.fail_times(2, Match::any(), Fault::Drop);
    engine(&server).apply(&canary_plan()).await.unwrap();
    assert_eq!(server.requests().len(), 6);
    assert!(server.object(&vs_ref()).is_some());
}

#[tokio::test(start_paused = true)]
async fn dropped_connections_at_the_second_write_stop_with_the_prefix() {
    let server = FakeApiServer::new();
    server.fail_times(
        100,
        Match::method(Method::PATCH)
            .path_contains("virtualservices")
            .real_writes_only(),
        Fault::Drop,
    );
    let err = engine(&server).apply(&canary_plan()).await.unwrap_err();
    let Error::PartiallyApplied { applied, failed, .. } = err else {
        panic!("{err}")
    };
    assert_eq!((applied, *failed), (vec![dr_ref()], vs_ref()));
    assert!(server.object(&dr_ref()).is_some());
    assert!(server.object(&vs_ref()).is_none());
}

#[tokio::test]
async fn a_managers_apply_removes_only_its_own_dropped_fields() {
    let server = FakeApiServer::new();
    let engine = engine(&server);
    let with_policy = json!({ "spec": { "host": "reviews.prod.svc.cluster.local",
        "trafficPolicy": { "connectionPool": { "tcp": { "maxConnections": 10 } } } } });
    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            dr_ref(),
            Some(with_policy),
        )]))
        .await
        .unwrap();
    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            dr_ref(),
            Some(dr_body()),
        )]))
        .await
        .unwrap();
    let stored = server.object(&dr_ref()).unwrap();
    assert!(stored["spec"].get("trafficPolicy").is_none());
    assert_eq!(stored["spec"]["subsets"][1]["name"], "v2");
    assert_eq!(stored["metadata"]["generation"], 2);
}

#[tokio::test]
async fn list_filters_by_label() {
    let server = FakeApiServer::new();
    let engine = engine(&server);
    engine.apply(&canary_plan()).await.unwrap();
    server.insert(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "users", "namespace": "prod" }, "spec": { "hosts": ["users"] }
    }));
    let ours = engine
        .list(
            "networking.istio.io/v1",
            "VirtualService",
            Some("prod"),
            Some("app.kubernetes.io/managed-by=mesh"),
        )
        .await
        .unwrap();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["metadata"]["name"], "reviews");
    let all = engine
        .list("networking.istio.io/v1", "VirtualService", None, None)
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    let last = server.requests().pop().unwrap();
    assert_eq!(last.line(), "GET /apis/networking.istio.io/v1/virtualservices");
}

#[tokio::test]
async fn served_versions_reads_the_crd_or_discovery() {
    let server = FakeApiServer::new().serving_only("servers", "policy.linkerd.io", &["v1beta1", "v1beta2"]);
    let engine = KubeEngine::new(server.client(), MeshKind::Linkerd, "mesh");
    assert_eq!(
        engine
            .served_versions("policy.linkerd.io", "servers")
            .await
            .unwrap(),
        ["v1beta1", "v1beta2"]
    );
    assert_eq!(
        lines(&server),
        ["GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/servers.policy.linkerd.io"]
    );
    // Without permission to read CRDs, discovery answers.
    server.fail_next(
        Match::any().path_contains("customresourcedefinitions"),
        Fault::status(403, "Forbidden", "no"),
    );
    assert_eq!(
        engine
            .served_versions("policy.linkerd.io", "servers")
            .await
            .unwrap(),
        ["v1beta1", "v1beta2"]
    );
    // Not installed: no versions.
    let bare = FakeApiServer::new().without_crd("externalworkloads", "workload.linkerd.io");
    let engine = KubeEngine::new(bare.client(), MeshKind::Linkerd, "mesh");
    assert!(
        engine
            .served_versions("workload.linkerd.io", "externalworkloads")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn unknown_kinds_go_through_discovery() {
    let server = FakeApiServer::new();
    let engine = engine(&server);
    let widget = ObjectRef::new("example.com/v1", "Widget", Some("prod"), "w");
    let err = engine.get(&widget).await.unwrap_err();
    let Error::NotConfigured { what, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, "CRD widgets.example.com");
    assert_eq!(lines(&server), ["GET /apis/example.com/v1"]);
}

#[tokio::test]
async fn a_plan_that_recreates_an_object_passes_its_dry_run() {
    let server = FakeApiServer::new();
    let pa = ObjectRef::new(
        "security.istio.io/v1",
        "PeerAuthentication",
        Some("prod"),
        "default",
    );
    let body = json!({ "spec": { "mtls": { "mode": "STRICT" } } });
    server.insert(json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "prod" }, "spec": {}
    }));
    let p = plan(vec![
        Write::new(WriteAction::Delete, pa.clone(), None),
        Write::new(WriteAction::Create, pa.clone(), Some(body)),
    ]);
    engine(&server).apply(&p).await.unwrap();
    assert_eq!(server.object(&pa).unwrap()["spec"]["mtls"]["mode"], "STRICT");
    assert_eq!(server.writes().len(), 2);
}

#[tokio::test]
async fn with_field_ownership_an_apply_over_a_users_field_conflicts_and_writes_nothing() {
    let server = FakeApiServer::new().with_field_ownership();
    server.insert_as(
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": { "name": "reviews", "namespace": "prod" },
            "spec": { "hosts": ["reviews.prod.svc.cluster.local"],
                      "http": [{ "name": "users-own", "route": [{ "destination": { "host": "ratings" } }] }] }
        }),
        "kubectl-client-side-apply",
    );
    let p = plan(vec![Write::new(WriteAction::Apply, vs_ref(), Some(vs_body()))]);
    let err = engine(&server).apply(&p).await.unwrap_err();
    let Error::Conflict { owner, field, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (owner.as_str(), field.as_str()),
        ("kubectl-client-side-apply", ".spec.http")
    );
    assert_eq!(
        server.object(&vs_ref()).unwrap()["spec"]["http"][0]["name"],
        "users-own"
    );
    // Our own fields are ours to change: applying twice with new values does not conflict.
    let fresh = FakeApiServer::new().with_field_ownership();
    let engine = engine(&fresh);
    engine.apply(&canary_plan()).await.unwrap();
    let mut changed = vs_body();
    changed["spec"]["http"][0]["route"][0]["weight"] = json!(50);
    changed["spec"]["http"][0]["route"][1]["weight"] = json!(50);
    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            vs_ref(),
            Some(changed),
        )]))
        .await
        .unwrap();
}

#[tokio::test]
async fn references_without_a_namespace_use_the_clients_default() {
    let server = FakeApiServer::new();
    let pa = ObjectRef::new("security.istio.io/v1", "PeerAuthentication", None, "default");
    let p = plan(vec![Write::new(
        WriteAction::Apply,
        pa.clone(),
        Some(json!({ "spec": {} })),
    )]);
    engine(&server).apply(&p).await.unwrap();
    assert_eq!(
        server.writes()[0].path,
        "/apis/security.istio.io/v1/namespaces/default/peerauthentications/default"
    );
    assert!(engine(&server).get(&pa).await.unwrap().is_some());
}

#[tokio::test]
async fn status_goes_through_the_status_subresource_only() {
    let server = FakeApiServer::new();
    let engine = engine(&server);
    let mut with_status = dr_body();
    with_status["status"] = json!({ "observedGeneration": 7 });
    engine
        .apply(&plan(vec![Write::new(
            WriteAction::Apply,
            dr_ref(),
            Some(with_status),
        )]))
        .await
        .unwrap();
    // Like the API server, a write to the object ignores its status.
    assert!(server.object(&dr_ref()).unwrap().get("status").is_none());
    let status = Write::new(
        WriteAction::ApplyStatus,
        dr_ref(),
        Some(json!({ "status": { "observedGeneration": 1 } })),
    );
    engine.apply(&plan(vec![status])).await.unwrap();
    assert_eq!(
        server.object(&dr_ref()).unwrap()["status"]["observedGeneration"],
        1
    );
    // Kinds without a status subresource have no /status URL.
    let sp = ObjectRef::new(
        "linkerd.io/v1alpha2",
        "ServiceProfile",
        Some("prod"),
        "reviews.prod.svc.cluster.local",
    );
    let create = Write::new(
        WriteAction::Apply,
        sp.clone(),
        Some(json!({ "spec": { "routes": [] } })),
    );
    engine.apply(&plan(vec![create])).await.unwrap();
    let status = Write::new(WriteAction::ApplyStatus, sp, Some(json!({ "status": {} })));
    let err = engine.apply(&plan(vec![status])).await.unwrap_err();
    let Error::NotConfigured { what, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, "the status subresource of CRD serviceprofiles.linkerd.io");
}

#[tokio::test]
async fn a_validating_engine_refuses_invalid_objects_before_any_request() {
    let server = FakeApiServer::new().without_validation();
    let mut bad = vs_body();
    bad["spec"]["http"][0]["timeout"] = json!("500us");
    let p = plan(vec![
        Write::new(WriteAction::Apply, dr_ref(), Some(dr_body())),
        Write::new(WriteAction::Apply, vs_ref(), Some(bad)),
    ]);
    let err = engine(&server).validating(None).apply(&p).await.unwrap_err();
    let Error::InvalidInput { field, reason } = &err else {
        panic!("{err}")
    };
    assert_eq!(field, "VirtualService prod/reviews: spec.http[0].timeout");
    assert!(reason.contains("rule:"), "{reason}");
    assert!(server.requests().is_empty());
    // Without it, a server that does not validate takes the object.
    engine(&server).apply(&p).await.unwrap();
}

/// Found on the real API server: a plan that creates a namespace and then an object in it failed
/// its dry run (the object's dry run sees no namespace yet, and the server's 404 names the
/// namespace, not the object). The double now answers as the real server does.
#[tokio::test]
async fn a_plan_that_creates_a_namespace_then_writes_into_it_applies() {
    let server = FakeApiServer::new().with_namespaces_required();
    let ns = ObjectRef::new("v1", "Namespace", None, "fresh");
    let cm = ObjectRef::new("v1", "ConfigMap", Some("fresh"), "settings");
    let alone = plan(vec![Write::new(
        WriteAction::Apply,
        cm.clone(),
        Some(json!({ "data": { "a": "1" } })),
    )]);
    match engine(&server).apply(&alone).await {
        Err(Error::NotFound { kind, name }) => {
            assert_eq!((kind.as_str(), name.as_str()), ("Namespace", "fresh"))
        }
        other => panic!("a write into a missing namespace: {other:?}"),
    }
    let both = plan(vec![
        Write::new(WriteAction::Apply, ns, Some(json!({}))),
        Write::new(
            WriteAction::Apply,
            cm.clone(),
            Some(json!({ "data": { "a": "1" } })),
        ),
    ]);
    let report = engine(&server)
        .apply(&both)
        .await
        .expect("namespace first, then the object");
    assert_eq!(report.applied.len(), 2);
    assert!(server.object(&cm).is_some());
}

/// Found on the real API server: a server-side apply with an undeclared (or mistyped) field is
/// answered 500 "failed to create typed patch object", not 422. It is the caller's input: one
/// request, no retries, and an `InvalidInput` naming the object, with nothing written.
#[tokio::test]
async fn an_undeclared_field_is_invalid_input_and_not_retried() {
    let server = FakeApiServer::new();
    let body = json!({ "spec": { "host": "reviews", "hostz": "typo" } });
    let p = plan(vec![Write::new(WriteAction::Apply, dr_ref(), Some(body))]);
    match engine(&server).apply(&p).await {
        Err(Error::InvalidInput { field, reason }) => {
            assert!(field.contains("DestinationRule"), "{field}");
            assert!(
                reason.contains(".spec.hostz: field not declared in schema"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert_eq!(
        server.requests().iter().filter(|r| r.is_write()).count(),
        1,
        "{:?}",
        lines(&server)
    );
    assert!(server.object(&dr_ref()).is_none());
}

// ---------------------------------------------------------------------------------------------
// Lost answers: the server applied the write, the answer never came, the engine retried.

fn pa_ref() -> ObjectRef {
    ObjectRef::new(
        "security.istio.io/v1",
        "PeerAuthentication",
        Some("prod"),
        "default",
    )
}

/// A create whose answer is lost is sent again and refused as existing: the object read back is
/// ours, so the write landed (it used to be reported as `AlreadyExists`, nothing written).
#[tokio::test(start_paused = true)]
async fn a_create_whose_answer_is_lost_is_reported_as_landed() {
    let server = FakeApiServer::new();
    server.fail_next(Match::method(Method::POST).real_writes_only(), Fault::LoseAnswer);
    let body = json!({ "spec": { "mtls": { "mode": "STRICT" } } });
    let write = Write::new(WriteAction::Create, pa_ref(), Some(body)).guarded(Precondition::MustNotExist);
    let report = engine(&server).apply(&plan(vec![write])).await.unwrap();
    assert_eq!(report.applied, [pa_ref()]);
    assert_eq!(
        server.object(&pa_ref()).unwrap()["spec"]["mtls"]["mode"],
        "STRICT"
    );
    let posts = server.writes().iter().filter(|w| w.method == "POST").count();
    assert_eq!(posts, 2, "sent once, lost, sent again and refused as existing");
}

/// A guarded replace whose answer is lost is sent again with the old version and refused as
/// stale: the object read back carries our content, so it landed (it used to blame another
/// writer).
#[tokio::test(start_paused = true)]
async fn a_guarded_replace_whose_answer_is_lost_is_reported_as_landed() {
    let server = FakeApiServer::new();
    server.insert(json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "hosts": ["reviews"] }
    }));
    let version = server.object(&vs_ref()).unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    server.fail_next(Match::method(Method::PUT).real_writes_only(), Fault::LoseAnswer);
    let write =
        Write::new(WriteAction::Replace, vs_ref(), Some(vs_body())).guarded(Precondition::Version(version));
    let report = engine(&server).apply(&plan(vec![write])).await.unwrap();
    assert_eq!(report.applied, [vs_ref()]);
    assert_eq!(server.object(&vs_ref()).unwrap()["spec"], vs_body()["spec"]);
}

/// A lost answer is not a licence: when what the server holds is someone else's, the refusal
/// stands.
#[tokio::test(start_paused = true)]
async fn a_dropped_create_that_finds_another_object_is_still_already_exists() {
    let server = FakeApiServer::new();
    server.insert(json!({
        "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
        "metadata": { "name": "default", "namespace": "prod" },
        "spec": { "mtls": { "mode": "PERMISSIVE" } }
    }));
    server.fail_next(Match::method(Method::POST).real_writes_only(), Fault::Drop);
    let body = json!({ "spec": { "mtls": { "mode": "STRICT" } } });
    let write = Write::new(WriteAction::Create, pa_ref(), Some(body)).guarded(Precondition::MustNotExist);
    // The dry run already finds it: refused before any write.
    let err = engine(&server).apply(&plan(vec![write])).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    assert_eq!(
        server.object(&pa_ref()).unwrap()["spec"]["mtls"]["mode"],
        "PERMISSIVE"
    );
}

/// The rollout's state save (a guarded ConfigMap replace) whose answer is lost: the saved value
/// reads back as ours, so the save succeeds with the new version (it used to abort with
/// "another writer owns state").
#[tokio::test(start_paused = true)]
async fn a_state_save_whose_answer_is_lost_succeeds() {
    let server = FakeApiServer::new();
    let engine = engine(&server);
    let key = mesh_core::StateKey::new("prod/reviews".parse().unwrap(), "rollout").unwrap();
    let first = engine.write_state(&key, "stage 1", None).await.unwrap();
    server.fail_next(Match::method(Method::PUT).real_writes_only(), Fault::LoseAnswer);
    let second = engine.write_state(&key, "stage 2", Some(&first)).await.unwrap();
    assert_ne!(second, first);
    let stored = engine.read_state(&key).await.unwrap().unwrap();
    assert_eq!((stored.value.as_str(), stored.version), ("stage 2", second));
}

/// The mesh of a cluster comes from the CRDs it serves (what `Mesh::connect_auto` and
/// `meshctl --mesh auto` use): Istio's, Linkerd's, both (ambiguous) or none.
#[tokio::test]
async fn the_mesh_of_a_cluster_is_read_from_its_served_crds() {
    use mesh_kube::detect::mesh_of_cluster;
    let detect = |server: FakeApiServer| async move {
        mesh_of_cluster(&KubeEngine::new(server.client(), MeshKind::Istio, "mesh")).await
    };
    let istio_only = FakeApiServer::new().without_crd("servers", "policy.linkerd.io");
    assert_eq!(detect(istio_only).await.unwrap(), MeshKind::Istio);
    let linkerd_only = FakeApiServer::new().without_crd("virtualservices", "networking.istio.io");
    assert_eq!(detect(linkerd_only).await.unwrap(), MeshKind::Linkerd);
    assert!(matches!(
        detect(FakeApiServer::new()).await,
        Err(Error::NotConfigured { .. })
    ));
    let neither = FakeApiServer::new()
        .without_crd("servers", "policy.linkerd.io")
        .without_crd("virtualservices", "networking.istio.io");
    let Err(Error::NotConfigured { hint, .. }) = detect(neither).await else {
        panic!("no mesh")
    };
    assert!(hint.contains("CONSUL_HTTP_ADDR"), "{hint}");
}
