//! Real-server twins of `engine.rs`: what the engine does against the double, done again against
//! the test environment's API server (Kubernetes 1.33, the project's CRDs, istiod as webhook),
//! with the same assertions. The writes the server received are read from its audit log. Each
//! test works in a namespace of its own (`mesh-twin-<tag>-<pid>`) and deletes it.
//!
//! What only the double can do (a fault at write k, a lost answer, a hostile body) stays in
//! `engine.rs`, `engine_props.rs` and `hostile_server.rs`.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-kube --test integration engine_live:: -- --ignored`

use crate::live_server::{Audit, delete_namespace, namespace, plan_of, version_of};

use mesh_core::{
    Dependency, Error, MeshKind, ObjectRef, Plan, Precondition, ServiceId, Version, Write, WriteAction,
};
use mesh_kube::{KubeEngine, testing::FakeApiServer};
use serde_json::{Value, json};

/// The objects of `engine.rs`, in a namespace of the test's own.
struct Cluster {
    engine: KubeEngine,
    ns: String,
}

impl Cluster {
    /// A fresh namespace `mesh-twin-<tag>-<pid>` and the engine `mesh` writing into it.
    async fn new(tag: &str) -> Self {
        let engine = crate::live_server::engine(MeshKind::Istio, "mesh").await;
        let ns = namespace(&engine, tag).await;
        Self { engine, ns }
    }

    fn istio(&self, kind: &str, name: &str) -> ObjectRef {
        let group = match kind {
            "PeerAuthentication" => "security.istio.io/v1",
            _ => "networking.istio.io/v1",
        };
        ObjectRef::new(group, kind, Some(&self.ns), name)
    }

    fn vs_ref(&self) -> ObjectRef {
        self.istio("VirtualService", "reviews")
    }

    fn dr_ref(&self) -> ObjectRef {
        self.istio("DestinationRule", "reviews")
    }

    fn pa_ref(&self) -> ObjectRef {
        self.istio("PeerAuthentication", "default")
    }

    fn host(&self) -> String {
        format!("reviews.{}.svc.cluster.local", self.ns)
    }

    fn dr_body(&self) -> Value {
        json!({ "spec": { "host": self.host(),
                          "subsets": [{ "name": "v1", "labels": { "version": "v1" } },
                                      { "name": "v2", "labels": { "version": "v2" } }] } })
    }

    fn vs_body(&self) -> Value {
        let host = self.host();
        json!({ "spec": { "hosts": [host], "http": [{ "route": [
            { "destination": { "host": host, "subset": "v1" }, "weight": 90 },
            { "destination": { "host": host, "subset": "v2" }, "weight": 10 }
        ] }] } })
    }

    fn plan(&self, writes: Vec<Write>) -> Plan {
        plan_of(MeshKind::Istio, &self.ns, writes)
    }

    /// DestinationRule (subsets) then VirtualService (routes): make-before-break.
    fn canary_plan(&self) -> Plan {
        let subset = |v: &str| Dependency::Subset {
            service: format!("{}/reviews", self.ns).parse::<ServiceId>().unwrap(),
            version: Version::new(v).unwrap(),
        };
        self.plan(vec![
            Write::new(WriteAction::Apply, self.dr_ref(), Some(self.dr_body()))
                .providing([subset("v1"), subset("v2")]),
            Write::new(WriteAction::Apply, self.vs_ref(), Some(self.vs_body()))
                .requiring([subset("v1"), subset("v2")]),
        ])
    }

    async fn apply(&self, writes: Vec<Write>) -> mesh_core::Result<mesh_core::ApplyReport> {
        self.engine.apply(&self.plan(writes)).await
    }

    /// The object `r` as the server holds it.
    async fn object(&self, r: &ObjectRef) -> Option<Value> {
        self.engine.get(r).await.unwrap()
    }

    /// Seeds the object `r` with `body` as another field manager, without the library's label:
    /// as `FakeApiServer::insert_as` does.
    async fn insert_as(&self, manager: &str, r: &ObjectRef, mut body: Value) {
        body["apiVersion"] = json!(r.api_version);
        body["kind"] = json!(r.kind);
        body["metadata"] = json!({ "name": r.name, "namespace": self.ns });
        crate::live_server::insert_as(self.engine.client(), manager, body).await;
    }

    /// The path of a collection of Istio objects in this namespace.
    fn path(&self, group: &str, plural: &str) -> String {
        format!("/apis/{group}/v1/namespaces/{}/{plural}", self.ns)
    }

    async fn done(self) {
        delete_namespace(&self.engine, &self.ns).await;
    }
}

/// Twin of `engine::apply_dry_runs_everything_then_writes_in_order`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn apply_dry_runs_everything_then_writes_in_order_on_the_real_server() {
    let c = Cluster::new("order").await;
    let audit = Audit::start();
    let report = c.engine.apply(&c.canary_plan()).await.unwrap();
    assert_eq!(report.applied, vec![c.dr_ref(), c.vs_ref()]);
    let dr = format!("{}/reviews", c.path("networking.istio.io", "destinationrules"));
    let vs = format!("{}/reviews", c.path("networking.istio.io", "virtualservices"));
    assert_eq!(
        audit.lines_by(&c.ns, "mesh"),
        [
            format!("PATCH {dr} (dry run)"),
            format!("PATCH {vs} (dry run)"),
            format!("PATCH {dr}"),
            format!("PATCH {vs}"),
        ]
    );
    let stored = c.object(&c.vs_ref()).await.unwrap();
    assert_eq!(stored["spec"]["http"][0]["route"][1]["weight"], 10);
    assert!(mesh_kube::is_owned(&stored));
    c.done().await;
}

/// Twin of `engine::replace_sends_the_resource_version_and_keeps_the_users_routes`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn replace_sends_the_resource_version_and_keeps_the_users_routes_on_the_real_server() {
    let c = Cluster::new("replace").await;
    let users_own = json!({ "name": "users-own", "route": [{ "destination": { "host": "ratings" } }] });
    c.insert_as(
        "kubectl-client-side-apply",
        &c.vs_ref(),
        json!({ "spec": { "hosts": [c.host()], "http": [users_own] } }),
    )
    .await;
    // The backend reads, modifies, and writes back guarded by the version it read.
    let mut current = c.object(&c.vs_ref()).await.unwrap();
    let rv = current["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    current["spec"]["http"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "mesh-split", "route": [{ "destination": { "host": "reviews" } }] }));
    let write = Write::new(WriteAction::Replace, c.vs_ref(), Some(current))
        .guarded(Precondition::Version(rv.clone()));
    let audit = Audit::start();
    c.apply(vec![write]).await.unwrap();
    // One object: the write is atomic, so no dry run first.
    let vs = format!("{}/reviews", c.path("networking.istio.io", "virtualservices"));
    assert_eq!(audit.lines_in(&c.ns), [format!("PUT {vs}")]);
    let stored = c.object(&c.vs_ref()).await.unwrap();
    assert_eq!(stored["spec"]["http"][0]["name"], "users-own");
    assert_eq!(stored["spec"]["http"][1]["name"], "mesh-split");
    assert_ne!(stored["metadata"]["resourceVersion"], rv.as_str());
    c.done().await;
}

/// Twin of `engine::a_stale_resource_version_is_a_conflict_and_writes_nothing`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn a_stale_resource_version_is_a_conflict_and_writes_nothing_on_the_real_server() {
    let c = Cluster::new("stale").await;
    // The double's seed has no route; istiod refuses a VirtualService without one.
    let spec =
        json!({ "hosts": ["reviews"], "http": [{ "route": [{ "destination": { "host": "reviews" } }] }] });
    c.insert_as("someone", &c.vs_ref(), json!({ "spec": spec })).await;
    let rv = version_of(&c.engine, &c.vs_ref()).await;
    // A version the object had before: the server's versions only grow.
    let stale = (rv.parse::<u64>().unwrap() - 1).to_string();
    let write =
        Write::new(WriteAction::Replace, c.vs_ref(), Some(c.vs_body())).guarded(Precondition::Version(stale));
    let err = c.apply(vec![write]).await.unwrap_err();
    let Error::Conflict { owner, field, .. } = err else {
        panic!("{err}")
    };
    assert_eq!(
        (owner.as_str(), field.as_str()),
        ("unknown", "metadata.resourceVersion")
    );
    // The one write was refused: the object is as it was.
    let stored = c.object(&c.vs_ref()).await.unwrap();
    assert_eq!(stored["spec"], spec);
    assert_eq!(stored["metadata"]["resourceVersion"], rv.as_str());
    c.done().await;
}

/// Twin of `engine::create_delete_and_status_writes`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn create_delete_and_status_writes_on_the_real_server() {
    let c = Cluster::new("status").await;
    let pa = c.pa_ref();
    let audit = Audit::start();
    let report = c
        .apply(crate::engine::create_status_and_delete(&pa, &c.dr_ref()))
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 3);
    let pa_path = c.path("security.istio.io", "peerauthentications");
    let dr = format!("{}/reviews", c.path("networking.istio.io", "destinationrules"));
    assert_eq!(
        audit.lines_in(&c.ns),
        crate::engine::create_status_and_delete_lines(&pa_path, &dr)
    );
    assert_eq!(c.object(&pa).await.unwrap()["status"]["observedGeneration"], 1);
    // Creating it again is refused.
    let err = c
        .apply(vec![Write::new(
            WriteAction::Create,
            pa,
            Some(json!({ "spec": {} })),
        )])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err}");
    c.done().await;
}

/// Twin of `engine::a_plan_that_recreates_an_object_passes_its_dry_run`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_plan_that_recreates_an_object_passes_its_dry_run_on_the_real_server() {
    let c = Cluster::new("recreate").await;
    let pa = c.pa_ref();
    c.insert_as("someone", &pa, json!({ "spec": {} })).await;
    let audit = Audit::start();
    c.apply(vec![
        Write::new(WriteAction::Delete, pa.clone(), None),
        Write::new(
            WriteAction::Create,
            pa.clone(),
            Some(json!({ "spec": { "mtls": { "mode": "STRICT" } } })),
        ),
    ])
    .await
    .unwrap();
    assert_eq!(c.object(&pa).await.unwrap()["spec"]["mtls"]["mode"], "STRICT");
    let writes = audit.lines_in(&c.ns);
    assert_eq!(
        writes.iter().filter(|l| !l.ends_with("(dry run)")).count(),
        2,
        "{writes:#?}"
    );
    c.done().await;
}

/// Twin of `engine::with_field_ownership_an_apply_over_a_users_field_conflicts_and_writes_nothing`
/// (the double with `with_field_ownership`; the real server always tracks ownership).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn an_apply_over_a_users_field_conflicts_and_writes_nothing_on_the_real_server() {
    let c = Cluster::new("owner").await;
    c.insert_as(
        "kubectl-client-side-apply",
        &c.vs_ref(),
        json!({ "spec": { "hosts": [c.host()],
                          "http": [{ "name": "users-own", "route": [{ "destination": { "host": "ratings" } }] }] } }),
    )
    .await;
    let err = c
        .apply(vec![Write::new(
            WriteAction::Apply,
            c.vs_ref(),
            Some(c.vs_body()),
        )])
        .await
        .unwrap_err();
    let Error::Conflict { owner, field, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        (owner.as_str(), field.as_str()),
        ("kubectl-client-side-apply", ".spec.http")
    );
    assert_eq!(
        c.object(&c.vs_ref()).await.unwrap()["spec"]["http"][0]["name"],
        "users-own"
    );
    // Our own fields are ours to change: applying twice with new values does not conflict.
    let ours = c.istio("VirtualService", "ours");
    let dr = c.istio("DestinationRule", "ours");
    c.apply(vec![Write::new(WriteAction::Apply, dr, Some(c.dr_body()))])
        .await
        .unwrap();
    c.apply(vec![Write::new(
        WriteAction::Apply,
        ours.clone(),
        Some(c.vs_body()),
    )])
    .await
    .unwrap();
    let mut changed = c.vs_body();
    changed["spec"]["http"][0]["route"][0]["weight"] = json!(50);
    changed["spec"]["http"][0]["route"][1]["weight"] = json!(50);
    c.apply(vec![Write::new(WriteAction::Apply, ours.clone(), Some(changed))])
        .await
        .unwrap();
    assert_eq!(
        c.object(&ours).await.unwrap()["spec"]["http"][0]["route"][1]["weight"],
        50
    );
    c.done().await;
}

/// Twin of `engine::a_managers_apply_removes_only_its_own_dropped_fields`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn a_managers_apply_removes_only_its_own_dropped_fields_on_the_real_server() {
    let c = Cluster::new("dropped").await;
    let mut with_policy = c.dr_body();
    with_policy["spec"]["trafficPolicy"] = json!({ "connectionPool": { "tcp": { "maxConnections": 10 } } });
    with_policy["spec"].as_object_mut().unwrap().remove("subsets");
    c.apply(vec![Write::new(
        WriteAction::Apply,
        c.dr_ref(),
        Some(with_policy),
    )])
    .await
    .unwrap();
    c.apply(vec![Write::new(
        WriteAction::Apply,
        c.dr_ref(),
        Some(c.dr_body()),
    )])
    .await
    .unwrap();
    let stored = c.object(&c.dr_ref()).await.unwrap();
    assert!(stored["spec"].get("trafficPolicy").is_none(), "{stored:#}");
    assert_eq!(stored["spec"]["subsets"][1]["name"], "v2");
    assert_eq!(stored["metadata"]["generation"], 2);
    c.done().await;
}

/// Twin of `engine::list_filters_by_label` (in one namespace: the real server holds other tests'
/// objects too).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn list_filters_by_label_on_the_real_server() {
    let c = Cluster::new("list").await;
    c.engine.apply(&c.canary_plan()).await.unwrap();
    c.insert_as(
        "someone",
        &c.istio("VirtualService", "users"),
        json!({ "spec": { "hosts": ["users"], "http": [{ "route": [{ "destination": { "host": "users" } }] }] } }),
    )
    .await;
    let vs = |selector| {
        c.engine
            .list("networking.istio.io/v1", "VirtualService", Some(&c.ns), selector)
    };
    let ours = vs(Some("app.kubernetes.io/managed-by=mesh")).await.unwrap();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["metadata"]["name"], "reviews");
    assert_eq!(vs(None).await.unwrap().len(), 2);
    c.done().await;
}

/// Twin of `engine::status_goes_through_the_status_subresource_only`, without its last part: the
/// real server answers a `/status` write to a kind without the subresource (ServiceProfile) with
/// a 404 naming the object, as if the object were missing, where the double's 404 names nothing
/// and the engine reports `NotConfigured` (a difference of the double and the engine, reported).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn status_goes_through_the_status_subresource_only_on_the_real_server() {
    let c = Cluster::new("subresource").await;
    let mut with_status = c.dr_body();
    with_status["status"] = json!({ "observedGeneration": 7 });
    c.apply(vec![Write::new(
        WriteAction::Apply,
        c.dr_ref(),
        Some(with_status),
    )])
    .await
    .unwrap();
    // A write to the object ignores its status.
    assert!(c.object(&c.dr_ref()).await.unwrap().get("status").is_none());
    let status = Write::new(
        WriteAction::ApplyStatus,
        c.dr_ref(),
        Some(json!({ "status": { "observedGeneration": 1 } })),
    );
    c.apply(vec![status]).await.unwrap();
    assert_eq!(
        c.object(&c.dr_ref()).await.unwrap()["status"]["observedGeneration"],
        1
    );
    // Kinds without a status subresource have no /status URL: the server answers 404 naming the
    // object, and discovery tells it from a missing object.
    let sp = ObjectRef::new(
        "linkerd.io/v1alpha2",
        "ServiceProfile",
        Some(&c.ns),
        &format!("reviews.{}.svc.cluster.local", c.ns),
    );
    let create = Write::new(
        WriteAction::Apply,
        sp.clone(),
        Some(json!({ "spec": { "routes": [] } })),
    );
    c.apply(vec![create]).await.unwrap();
    let status = Write::new(WriteAction::ApplyStatus, sp, Some(json!({ "status": {} })));
    let err = c.apply(vec![status]).await.unwrap_err();
    let Error::NotConfigured { what, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(what, "the status subresource of CRD serviceprofiles.linkerd.io");
    c.done().await;
}

/// Twin of `engine::an_object_the_server_refuses_fails_the_dry_run`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn an_object_the_server_refuses_fails_the_dry_run_on_the_real_server() {
    let c = Cluster::new("refused").await;
    let mut bad = c.vs_body();
    bad["spec"]["http"][0]["timeout"] = json!("500us");
    let audit = Audit::start();
    let err = c
        .apply(vec![
            Write::new(WriteAction::Apply, c.dr_ref(), Some(c.dr_body())),
            Write::new(WriteAction::Apply, c.vs_ref(), Some(bad)),
        ])
        .await
        .unwrap_err();
    let Error::InvalidInput { field, reason } = &err else {
        panic!("{err}")
    };
    assert_eq!(
        field,
        &format!("VirtualService {}/reviews: spec.http[0].timeout", c.ns)
    );
    assert!(reason.contains("is invalid"), "{reason}");
    let lines = audit.lines_in(&c.ns);
    assert!(lines.iter().all(|l| l.ends_with("(dry run)")), "{lines:#?}");
    assert!(c.object(&c.dr_ref()).await.is_none());
    c.done().await;
}

/// Twin of `engine::a_plan_that_creates_a_namespace_then_writes_into_it_applies` (the double with
/// `with_namespaces_required`, as the real server always is).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn a_plan_that_creates_a_namespace_then_writes_into_it_applies_on_the_real_server() {
    let engine = crate::live_server::engine(MeshKind::Istio, "mesh").await;
    let fresh = format!("mesh-twin-fresh-{}", std::process::id());
    let ns = ObjectRef::new("v1", "Namespace", None, &fresh);
    let cm = ObjectRef::new("v1", "ConfigMap", Some(&fresh), "settings");
    let cm_write = || {
        Write::new(
            WriteAction::Apply,
            cm.clone(),
            Some(json!({ "data": { "a": "1" } })),
        )
    };
    match engine
        .apply(&plan_of(MeshKind::Istio, &fresh, vec![cm_write()]))
        .await
    {
        Err(Error::NotFound { kind, name }) => {
            assert_eq!((kind.as_str(), name.as_str()), ("Namespace", fresh.as_str()))
        }
        other => panic!("a write into a missing namespace: {other:?}"),
    }
    let both = plan_of(
        MeshKind::Istio,
        &fresh,
        vec![Write::new(WriteAction::Apply, ns, Some(json!({}))), cm_write()],
    );
    let report = engine
        .apply(&both)
        .await
        .expect("namespace first, then the object");
    assert_eq!(report.applied.len(), 2);
    assert!(engine.get(&cm).await.unwrap().is_some());
    delete_namespace(&engine, &fresh).await;
}

/// Twin of `engine::an_undeclared_field_is_invalid_input_and_not_retried`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn an_undeclared_field_is_invalid_input_and_not_retried_on_the_real_server() {
    let c = Cluster::new("undeclared").await;
    let body = json!({ "spec": { "host": "reviews", "hostz": "typo" } });
    let audit = Audit::start();
    match c
        .apply(vec![Write::new(WriteAction::Apply, c.dr_ref(), Some(body))])
        .await
    {
        Err(Error::InvalidInput { field, reason }) => {
            assert!(field.contains("DestinationRule"), "{field}");
            assert!(
                reason.contains(".spec.hostz: field not declared in schema"),
                "{reason}"
            );
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let lines = audit.lines_in(&c.ns);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(c.object(&c.dr_ref()).await.is_none());
    c.done().await;
}

/// Twin of `engine::served_versions_reads_the_crd_or_discovery` and
/// `engine::the_mesh_of_a_cluster_is_read_from_its_served_crds`: the double serves what the real
/// server, with every CRD the project bundles installed, serves.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn the_double_serves_the_versions_the_real_server_serves() {
    let real = crate::live_server::engine(MeshKind::Linkerd, "mesh").await;
    let double = FakeApiServer::new();
    let fake = KubeEngine::new(double.client(), MeshKind::Linkerd, "mesh");
    for (group, plural) in [
        ("policy.linkerd.io", "servers"),
        ("policy.linkerd.io", "httproutes"),
        ("policy.linkerd.io", "authorizationpolicies"),
        ("policy.linkerd.io", "egressnetworks"),
        ("workload.linkerd.io", "externalworkloads"),
        ("linkerd.io", "serviceprofiles"),
        ("networking.istio.io", "virtualservices"),
        ("networking.istio.io", "destinationrules"),
        ("security.istio.io", "peerauthentications"),
        ("gateway.networking.k8s.io", "httproutes"),
    ] {
        assert_eq!(
            fake.served_versions(group, plural).await.unwrap(),
            real.served_versions(group, plural).await.unwrap(),
            "{plural}.{group}"
        );
    }
    // Istio's CRDs and Linkerd's: the mesh is ambiguous, on both.
    for engine in [&real, &fake] {
        let err = mesh_kube::detect::mesh_of_cluster(engine).await.unwrap_err();
        assert!(matches!(err, Error::NotConfigured { .. }), "{err}");
    }
}
