//! Real-server twins of `backend.rs` and `planner.rs`: the Istio backend against the test
//! environment's API server (Istio's CRDs installed, istiod as validating webhook), with the
//! assertions of their double twins. Writes are read from the server's audit log. Each test works
//! in a namespace of its own and deletes it.
//!
//! What only the double can do (a 409 or a 5xx at a chosen write, a hanging or dropped request, a
//! missing CRD) stays in `backend.rs`.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-istio --test integration backend_live:: -- --ignored`

use crate::{
    live_server::{self, Audit, delete_namespace, namespace, version_of},
    support::{self, user_objects, user_route},
};

use mesh_core::{
    Change, Endpoint, Error, MeshBackend, MeshKind, MtlsMode, ObjectRef, Port, ServiceDefinition, ServiceId,
    TrafficSplit, WriteAction,
};
use mesh_istio::{Config, IstioBackend, Snapshot, objects, testing::check_consistent};
use mesh_kube::KubeEngine;
use serde_json::{Value, json};

/// The backend on the real server, in a namespace of the test's own.
struct Cluster {
    engine: KubeEngine,
    istio: IstioBackend,
    ns: String,
}

impl Cluster {
    async fn new(tag: &str) -> Self {
        let engine = live_server::engine(MeshKind::Istio, "mesh").await;
        let ns = namespace(&engine, tag).await;
        let istio = IstioBackend::new(engine.clone(), Config::default());
        Self { engine, istio, ns }
    }

    /// `change`, from the shared examples in `bookinfo`, moved to this namespace.
    fn here(&self, change: &Change) -> Change {
        support::in_namespace(change, &self.ns)
    }

    async fn execute(&self, change: &Change) -> mesh_core::Result<mesh_core::ApplyReport> {
        self.istio.execute(&self.here(change)).await
    }

    fn reviews(&self) -> ServiceId {
        format!("{}/reviews", self.ns).parse().unwrap()
    }

    fn vs_ref(&self) -> ObjectRef {
        objects::virtual_service(&self.reviews())
    }

    fn dr_ref(&self) -> ObjectRef {
        objects::destination_rule(&self.reviews())
    }

    async fn vs_object(&self) -> Value {
        self.engine
            .get(&self.vs_ref())
            .await
            .unwrap()
            .expect("virtual service")
    }

    /// The path of the collection `plural` of `group` in this namespace.
    fn path(&self, group: &str, plural: &str) -> String {
        format!("/apis/{group}/v1/namespaces/{}/{plural}", self.ns)
    }

    /// The user's DestinationRule (v3) and VirtualService (one route, an annotation) of
    /// `support::user_objects`, written by another field manager without the library's label.
    async fn seed_user_objects(&self) {
        for obj in user_objects().objects().values() {
            let mut obj = (*obj).clone();
            obj["metadata"]["namespace"] = json!(self.ns);
            obj["metadata"].as_object_mut().unwrap().remove("resourceVersion");
            live_server::insert_as(self.engine.client(), "kubectl-client-side-apply", obj).await;
        }
    }

    /// What the server holds of the service's routing, checked for dangling subset references.
    async fn assert_consistent(&self) {
        let mut snap = Snapshot::default();
        for r in [self.dr_ref(), self.vs_ref()] {
            if let Some(obj) = self.engine.get(&r).await.unwrap() {
                snap.insert(r, obj);
            }
        }
        check_consistent(&snap).expect("no VirtualService routes to a missing subset");
    }

    async fn done(self) {
        delete_namespace(&self.engine, &self.ns).await;
    }
}

/// Twin of `backend::canary_on_an_empty_cluster_is_two_reads_two_dry_runs_two_creates` (the
/// audit log holds writes: the reads are not compared).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn canary_on_an_empty_namespace_is_two_dry_runs_two_creates_on_the_real_server() {
    let c = Cluster::new("canary").await;
    let audit = Audit::start();
    let report = c.execute(&support::canary()).await.unwrap();
    assert_eq!(report.applied.len(), 2);
    assert_eq!(report.event.name(), "traffic.weight.updated");
    let dr = c.path("networking.istio.io", "destinationrules");
    let vs = c.path("networking.istio.io", "virtualservices");
    assert_eq!(
        audit.lines_by(&c.ns, "mesh"),
        [
            format!("POST {dr} (dry run)"),
            format!("POST {vs} (dry run)"),
            format!("POST {dr}"),
            format!("POST {vs}"),
        ]
    );
    let stored = c.vs_object().await;
    assert_eq!(stored["spec"]["http"][0]["route"][1]["weight"], 10);
    assert!(mesh_kube::is_owned(&stored));
    c.assert_consistent().await;
    c.done().await;
}

/// Twin of `backend::a_user_route_survives_a_weight_change`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_user_route_survives_a_weight_change_on_the_real_server() {
    let c = Cluster::new("user-route").await;
    c.seed_user_objects().await;
    let audit = Audit::start();
    c.execute(&support::canary()).await.unwrap();
    let dr = format!("{}/reviews", c.path("networking.istio.io", "destinationrules"));
    let vs = format!("{}/reviews", c.path("networking.istio.io", "virtualservices"));
    assert_eq!(
        audit.lines_in(&c.ns),
        [
            format!("PUT {dr} (dry run)"),
            format!("PUT {vs} (dry run)"),
            format!("PUT {dr}"),
            format!("PUT {vs}"),
        ]
    );
    let stored = c.vs_object().await;
    assert_eq!(stored["spec"]["http"][0], user_route());
    assert_eq!(stored["spec"]["http"][1]["name"], "mesh-default");
    assert_eq!(stored["metadata"]["annotations"]["owner"], "team-reviews");

    // Another weight change: only the VirtualService is written.
    let dr_version = version_of(&c.engine, &c.dr_ref()).await;
    let audit = Audit::start();
    let shift = Change::SetTrafficWeight {
        service: "bookinfo/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    c.execute(&shift).await.unwrap();
    assert_eq!(audit.lines_in(&c.ns), [format!("PUT {vs}")]);
    assert_eq!(version_of(&c.engine, &c.dr_ref()).await, dr_version);
    assert_eq!(c.vs_object().await["spec"]["http"][0], user_route());
    c.assert_consistent().await;
    c.done().await;
}

/// Twin of `backend::inject_then_remove_fault_leaves_other_routes_untouched`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn inject_then_remove_fault_leaves_other_routes_untouched_on_the_real_server() {
    let c = Cluster::new("fault").await;
    c.seed_user_objects().await;
    c.execute(&support::canary()).await.unwrap();
    c.execute(&support::retries()).await.unwrap();
    let before = c.vs_object().await["spec"]["http"].clone();
    let audit = Audit::start();
    let report = c.execute(&support::latency_fault()).await.unwrap();
    assert_eq!(
        audit.lines_in(&c.ns).len(),
        1,
        "a fault is one VirtualService write"
    );
    assert!(report.warnings.iter().any(|w| w.contains("disables retries")));
    let mesh_core::MeshEvent::FaultInjected { fault_id, .. } = report.event else {
        panic!("unexpected event {:?}", report.event)
    };
    let during = c.vs_object().await["spec"]["http"].clone();
    assert_eq!(during[1]["name"], fault_id.marker());
    // A new process removes it with nothing but the id string.
    let fresh = IstioBackend::new(c.engine.clone(), Config::default());
    let id = fault_id.to_string().parse().unwrap();
    fresh
        .execute(&Change::RemoveFault { fault_id: id })
        .await
        .unwrap();
    assert_eq!(c.vs_object().await["spec"]["http"], before);
    c.assert_consistent().await;
    c.done().await;
}

/// Twin of `backend::fully_owned_objects_take_one_apply_and_no_read` (writes only: the audit log
/// holds no reads).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn fully_owned_objects_take_one_apply_on_the_real_server() {
    let c = Cluster::new("owned").await;
    let audit = Audit::start();
    c.execute(&support::mtls()).await.unwrap();
    c.execute(&support::authz()).await.unwrap();
    let pa = format!("{}/default", c.path("security.istio.io", "peerauthentications"));
    let ap = format!(
        "{}/reviews-from-productpage",
        c.path("security.istio.io", "authorizationpolicies")
    );
    // One object each: atomic, so no dry run first.
    assert_eq!(
        audit.lines_by(&c.ns, "mesh"),
        [format!("PATCH {pa}"), format!("PATCH {ap}")]
    );
    let status = c.istio.mtls_status(&c.ns.parse().unwrap()).await.unwrap();
    assert_eq!(status.mode, MtlsMode::Strict);
    let other = format!("mesh-twin-other-{}", std::process::id());
    let other = c.istio.mtls_status(&other.parse().unwrap()).await.unwrap();
    assert_eq!(other.mode, MtlsMode::Permissive);
    c.done().await;
}

/// Twin of `backend::registration_of_a_plain_service_reads_once_and_writes_nothing`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn registration_of_a_plain_service_writes_nothing_on_the_real_server() {
    let c = Cluster::new("plain").await;
    live_server::insert_as(
        c.engine.client(),
        "kubectl-client-side-apply",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "reviews", "namespace": c.ns},
            "spec": {"ports": [{"port": 9080}]}
        }),
    )
    .await;
    let audit = Audit::start();
    let def = ServiceDefinition::builder("reviews", &c.ns, 9080).unwrap();
    let report = c.istio.execute(&Change::RegisterService(def)).await.unwrap();
    assert!(
        report.applied.is_empty() && report.warnings.is_empty(),
        "{report:?}"
    );
    assert_eq!(audit.lines_in(&c.ns), Vec::<String>::new());
    c.done().await;
}

/// Twin of `backend::state_is_compare_and_swap_on_a_config_map`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn state_is_compare_and_swap_on_a_config_map_on_the_real_server() {
    let c = Cluster::new("state").await;
    let key = mesh_core::StateKey::new(c.reviews(), "rollout").unwrap();
    crate::backend::state_is_compare_and_swap(&c.istio, &key).await;
    let cm = ObjectRef::new("v1", "ConfigMap", Some(&c.ns), "mesh-state-reviews-rollout");
    assert!(c.engine.get(&cm).await.unwrap().is_none());
    c.done().await;
}

/// Twin of `backend::register_and_unregister_a_vm_service` (writes only).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn register_and_unregister_a_vm_service_on_the_real_server() {
    let c = Cluster::new("vm").await;
    let def = ServiceDefinition::builder("legacy", &c.ns, 8080)
        .unwrap()
        .endpoint(Endpoint::new("10.0.0.7", Port::new(8080).unwrap()).unwrap());
    let we_name = objects::workload_entry_name(&def, &def.endpoints[0]);
    let se = format!("{}/legacy", c.path("networking.istio.io", "serviceentries"));
    let we = format!("{}/{we_name}", c.path("networking.istio.io", "workloadentries"));
    let audit = Audit::start();
    c.istio.execute(&Change::RegisterService(def)).await.unwrap();
    assert_eq!(
        audit.lines_in(&c.ns),
        [
            format!("PATCH {we} (dry run)"),
            format!("PATCH {se} (dry run)"),
            format!("PATCH {we}"),
            format!("PATCH {se}"),
        ]
    );
    let audit = Audit::start();
    let legacy: ServiceId = format!("{}/legacy", c.ns).parse().unwrap();
    c.istio
        .execute(&Change::UnregisterService { service: legacy })
        .await
        .unwrap();
    assert_eq!(
        audit.lines_in(&c.ns),
        [
            format!("DELETE {se} (dry run)"),
            format!("DELETE {we} (dry run)"),
            format!("DELETE {se}"),
            format!("DELETE {we}"),
        ]
    );
    for kind in ["ServiceEntry", "WorkloadEntry"] {
        let left = c
            .engine
            .list("networking.istio.io/v1", kind, Some(&c.ns), None)
            .await
            .unwrap();
        assert!(left.is_empty(), "{kind}: {left:?}");
    }
    c.done().await;
}

/// Twin of `planner::registration_writes_entries_and_prunes_stale_ones`: the planner's writes,
/// applied by the real server.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn registration_writes_entries_and_prunes_stale_ones_on_the_real_server() {
    let c = Cluster::new("prune").await;
    let vm = |addresses: &[&str]| {
        addresses.iter().fold(
            ServiceDefinition::builder("legacy", &c.ns, 8080)
                .unwrap()
                .version("v1")
                .unwrap(),
            |def, a| def.endpoint(Endpoint::new(*a, Port::new(8080).unwrap()).unwrap()),
        )
    };
    let entries = || async {
        let mut names: Vec<String> = c
            .engine
            .list("networking.istio.io/v1", "WorkloadEntry", Some(&c.ns), None)
            .await
            .unwrap()
            .iter()
            .map(|we| we["spec"]["address"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let report = c
        .istio
        .execute(&Change::RegisterService(vm(&["10.0.0.1", "10.0.0.2"])))
        .await
        .unwrap();
    let kinds: Vec<&str> = report.applied.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["WorkloadEntry", "WorkloadEntry", "ServiceEntry"]);
    assert_eq!(entries().await, ["10.0.0.1", "10.0.0.2"]);
    let legacy: ServiceId = format!("{}/legacy", c.ns).parse().unwrap();
    let se = c
        .engine
        .get(&objects::service_entry(&legacy))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        se["spec"]["hosts"][0],
        format!("legacy.{}.svc.cluster.local", c.ns)
    );

    let plan = c
        .istio
        .plan(&Change::RegisterService(vm(&["10.0.0.2"])))
        .await
        .unwrap();
    assert_eq!(plan.writes.len(), 3);
    assert_eq!(plan.writes.last().unwrap().action, WriteAction::Delete);
    c.istio.apply(&plan).await.unwrap();
    assert_eq!(entries().await, ["10.0.0.2"]);

    let unregister = Change::UnregisterService { service: legacy };
    c.istio.execute(&unregister).await.unwrap();
    assert!(entries().await.is_empty());
    assert!(matches!(
        c.istio.plan(&unregister).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    c.done().await;
}

/// Twin of `backend::circuit_breaker_then_retries_are_one_write_each`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn circuit_breaker_then_retries_are_one_write_each_on_the_real_server() {
    let c = Cluster::new("breaker").await;
    let dr = c.path("networking.istio.io", "destinationrules");
    let vs = c.path("networking.istio.io", "virtualservices");
    let audit = Audit::start();
    c.execute(&support::circuit_breaker()).await.unwrap();
    assert_eq!(audit.lines_in(&c.ns), [format!("POST {dr}")]);
    let stored = c.engine.get(&c.dr_ref()).await.unwrap().unwrap();
    assert_eq!(
        stored["spec"]["trafficPolicy"]["connectionPool"]["http"]["maxRetries"],
        3
    );
    let audit = Audit::start();
    c.execute(&support::retries()).await.unwrap();
    assert_eq!(audit.lines_in(&c.ns), [format!("POST {vs}")]);
    assert_eq!(c.vs_object().await["spec"]["http"][0]["retries"]["attempts"], 3);
    // Re-running converges: no writes.
    let audit = Audit::start();
    c.execute(&support::retries()).await.unwrap();
    assert_eq!(audit.lines_in(&c.ns), Vec::<String>::new());
    c.done().await;
}
