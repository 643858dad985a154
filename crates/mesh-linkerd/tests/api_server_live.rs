//! Real-server twins of `api_server.rs` and `scenarios.rs`: the Linkerd backend against the test
//! environment's API server (Linkerd's CRDs installed; no Linkerd control plane runs), with the
//! assertions of their double twins. Writes, with their field managers, are read from the
//! server's audit log. Each test works in a namespace of its own, holding the Services the
//! double's `server()` seeds, and deletes it.
//!
//! What only the double can do (a 422 or a 409 at a chosen write, a CRD missing or served at other
//! versions) stays in `api_server.rs`.
//!
//! `eval "$(cargo xtask testenv up)"; cargo test -p mesh-linkerd --test integration api_server_live:: -- --ignored`

use crate::{
    live_server::{self, Audit, delete_namespace, namespace, version_of},
    support::{self, opted_in},
};

use mesh_core::*;
use mesh_kube::KubeEngine;
use mesh_linkerd::{Config, LinkerdBackend, LinkerdVersion, objects};
use serde_json::{Value, json};

/// The backend on the real server, in a namespace of the test's own that holds the Services
/// `reviews` and `error-injector`, written by their user.
struct Cluster {
    engine: KubeEngine,
    ns: String,
}

impl Cluster {
    async fn new(tag: &str) -> Self {
        let engine = live_server::engine(MeshKind::Linkerd, "mesh").await;
        let ns = namespace(&engine, tag).await;
        for (name, port) in [("reviews", 9080), ("error-injector", 8080)] {
            live_server::insert_as(
                engine.client(),
                "kubectl-client-side-apply",
                json!({
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": { "name": name, "namespace": ns },
                    "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": port, "targetPort": port }] },
                }),
            )
            .await;
        }
        Self { engine, ns }
    }

    fn backend(&self, config: Config) -> LinkerdBackend {
        LinkerdBackend::new(self.engine.clone(), config)
    }

    /// The backend of most of `api_server.rs`: Linkerd 2.20.
    fn linkerd(&self) -> LinkerdBackend {
        self.backend(Config::default().version(LinkerdVersion::V2_20))
    }

    /// `change`, one of `support`'s (in `prod`), moved to this namespace.
    fn here(&self, change: &Change) -> Change {
        support::in_namespace(change, &self.ns)
    }

    fn service(&self, name: &str) -> ServiceId {
        format!("{}/{name}", self.ns).parse().unwrap()
    }

    fn route_ref(&self) -> ObjectRef {
        objects::http_route(&self.service("reviews"), "policy.linkerd.io/v1beta3")
    }

    async fn object(&self, r: &ObjectRef) -> Option<Value> {
        self.engine.get(r).await.unwrap()
    }

    /// `/api/v1/namespaces/<ns>/services`.
    fn services(&self) -> String {
        format!("/api/v1/namespaces/{}/services", self.ns)
    }

    fn route_path(&self) -> String {
        format!(
            "/apis/policy.linkerd.io/v1beta3/namespaces/{}/httproutes/reviews",
            self.ns
        )
    }

    /// A canary, then `support::abort()` injected, by a backend that may inject it: the backend,
    /// and the route as it was before the fault.
    async fn canary_then_abort(&self) -> (LinkerdBackend, Value) {
        let linkerd = self.backend(fault_config());
        linkerd.execute(&self.here(&support::canary())).await.unwrap();
        let before = self.object(&self.route_ref()).await.unwrap();
        linkerd.execute(&self.here(&support::abort())).await.unwrap();
        (linkerd, before)
    }

    /// Removes the fault [`Cluster::canary_then_abort`] injected, knowing only its id: the route
    /// after.
    async fn remove_abort(&self, linkerd: &LinkerdBackend) -> Value {
        let id = self.here(&support::abort()).fault_id(MeshKind::Linkerd).unwrap();
        linkerd
            .execute(&Change::RemoveFault { fault_id: id })
            .await
            .unwrap();
        self.object(&self.route_ref()).await.unwrap()
    }

    async fn done(self) {
        delete_namespace(&self.engine, &self.ns).await;
    }
}

/// The writes that landed (no dry runs), each with its field manager: `write_lines` of
/// `api_server.rs`.
fn write_lines(audit: &Audit, ns: &str) -> Vec<String> {
    audit
        .writes_in(ns)
        .into_iter()
        .filter(|w| !w.line.ends_with("(dry run)"))
        .map(|w| format!("{} {}", w.line, w.field_manager.as_deref().unwrap_or("-")))
        .collect()
}

/// Twin of `api_server::a_canary_reads_then_dry_runs_then_writes_three_objects` (writes only: the
/// audit log holds no reads).
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_canary_dry_runs_then_writes_three_objects_on_the_real_server() {
    let c = Cluster::new("l-canary").await;
    let linkerd = c.linkerd();
    let audit = Audit::start();
    let report = linkerd.execute(&c.here(&support::canary())).await.unwrap();
    assert_eq!(report.event.name(), "traffic.weight.updated");
    let svc = c.services();
    let route = c.route_path();
    assert_eq!(
        audit.lines_by(&c.ns, "mesh"),
        [
            format!("PATCH {svc}/reviews-v1 (dry run)"),
            format!("PATCH {svc}/reviews-v2 (dry run)"),
            format!("PATCH {route} (dry run)"),
            format!("PATCH {svc}/reviews-v1"),
            format!("PATCH {svc}/reviews-v2"),
            format!("PATCH {route}"),
        ]
    );
    let stored = c.object(&c.route_ref()).await.unwrap();
    assert_eq!(stored["spec"]["rules"][0]["backendRefs"][1]["weight"], 10);
    // Running it again writes nothing.
    let audit = Audit::start();
    linkerd.execute(&c.here(&support::canary())).await.unwrap();
    assert_eq!(write_lines(&audit, &c.ns), Vec::<String>::new());
    c.done().await;
}

/// Twin of `api_server::a_users_route_rules_survive_a_weight_change`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_users_route_rules_survive_a_weight_change_on_the_real_server() {
    let c = Cluster::new("l-user-rules").await;
    let user_rule = json!({
        "matches": [{ "path": { "type": "PathPrefix", "value": "/admin" } }],
        "backendRefs": [{ "name": "reviews", "port": 9080 }],
    });
    live_server::insert_as(
        c.engine.client(),
        "kubectl-client-side-apply",
        json!({
            "apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute",
            "metadata": { "name": "reviews", "namespace": c.ns },
            "spec": { "parentRefs": [{ "group": "core", "kind": "Service", "name": "reviews", "port": 9080 }], "rules": [user_rule.clone()] },
        }),
    )
    .await;
    let linkerd = c.linkerd();
    linkerd.execute(&c.here(&support::canary())).await.unwrap();
    let audit = Audit::start();
    linkerd
        .execute(&c.here(&support::split(&[("v1", 10), ("v2", 90)])))
        .await
        .unwrap();
    // Only the route changes, by a guarded replace.
    assert_eq!(
        write_lines(&audit, &c.ns),
        [format!("PUT {} mesh", c.route_path())]
    );
    let route = c.object(&c.route_ref()).await.unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(objects::contains(&rules[0], &user_rule), "{:#}", rules[0]);
    assert_eq!(rules[1]["backendRefs"][1]["weight"], 90);
    c.done().await;
}

/// Twin of `api_server::external_workloads_get_their_ready_condition_through_status`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn external_workloads_get_their_ready_condition_through_status_on_the_real_server() {
    let c = Cluster::new("l-workloads").await;
    let linkerd = c.linkerd();
    let audit = Audit::start();
    linkerd.execute(&c.here(&support::register_vm())).await.unwrap();
    let ew = format!(
        "/apis/workload.linkerd.io/v1beta1/namespaces/{}/externalworkloads",
        c.ns
    );
    let svc = c.services();
    assert_eq!(
        write_lines(&audit, &c.ns),
        [
            format!("PATCH {ew}/ratings-10-0-0-5-9080 mesh"),
            format!("PATCH {ew}/ratings-10-0-0-5-9080/status mesh"),
            format!("PATCH {ew}/ratings-fd00--7-9080 mesh"),
            format!("PATCH {ew}/ratings-fd00--7-9080/status mesh"),
            format!("PATCH {svc}/ratings mesh"),
        ]
    );
    let stored = c
        .object(&objects::external_workload(&c.ns, "ratings-10-0-0-5-9080"))
        .await
        .unwrap();
    assert_eq!(
        stored["status"]["conditions"][0],
        json!({
            "type": "Ready", "status": "True", "reason": "RegisteredByMesh", "message": "registered through the mesh library",
        })
    );
    // Unregistering removes the workloads and the Service, nothing else.
    let audit = Audit::start();
    linkerd
        .execute(&Change::UnregisterService {
            service: c.service("ratings"),
        })
        .await
        .unwrap();
    let deletes = write_lines(&audit, &c.ns);
    assert_eq!(
        deletes.iter().filter(|l| l.starts_with("DELETE ")).count(),
        3,
        "{deletes:#?}"
    );
    assert!(c.object(&objects::service(&c.service("ratings"))).await.is_none());
    assert!(c.object(&objects::service(&c.service("reviews"))).await.is_some());
    c.done().await;
}

/// Twin of `api_server::a_service_profile_is_detected_and_nothing_is_written`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_service_profile_is_detected_and_nothing_is_written_on_the_real_server() {
    let c = Cluster::new("l-profile").await;
    live_server::insert_as(
        c.engine.client(),
        "kubectl-client-side-apply",
        json!({
            "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
            "metadata": { "name": format!("reviews.{}.svc.cluster.local", c.ns), "namespace": c.ns },
            "spec": { "routes": [{ "name": "GET /", "condition": { "method": "GET", "pathRegex": "/" } }] },
        }),
    )
    .await;
    let linkerd = c.linkerd();
    let audit = Audit::start();
    for change in [support::canary(), support::breaker(), support::retries()] {
        let err = linkerd.execute(&c.here(&change)).await.unwrap_err();
        assert!(
            matches!(err, Error::Unsupported { ref reason, .. } if reason.contains("ServiceProfile")),
            "{err:?}"
        );
    }
    assert_eq!(audit.lines_in(&c.ns), Vec::<String>::new());
    c.done().await;
}

/// Twin of `api_server::annotations_are_applied_by_their_own_field_manager_and_leave_the_service_alone`:
/// the real server's server-side apply, per field manager.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn annotations_are_applied_by_their_own_field_manager_on_the_real_server() {
    let c = Cluster::new("l-managers").await;
    let linkerd = c.linkerd();
    linkerd.execute(&c.here(&support::register_k8s())).await.unwrap();
    let details = c.service("details");
    let audit = Audit::start();
    linkerd
        .execute(&crate::api_server::breaker_of(&details, 5))
        .await
        .unwrap();
    assert_eq!(
        write_lines(&audit, &c.ns),
        [format!("PATCH {}/details mesh-circuit-breaker", c.services())]
    );
    crate::api_server::retries_then_a_smaller_breaker_keep_each_managers_annotations(&linkerd, &details)
        .await;
    c.done().await;
}

/// Twin of `api_server::the_release_is_detected_from_served_crd_versions`, for the double's full
/// set of CRDs: the real server, with every CRD the project bundles, is detected as the same
/// release, and connecting works.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn the_release_is_detected_from_served_crd_versions_on_the_real_server() {
    let engine = live_server::engine(MeshKind::Linkerd, "mesh").await;
    let linkerd = LinkerdBackend::new(engine.clone(), Config::default());
    assert_eq!(linkerd.version().await.unwrap(), LinkerdVersion::V2_17);
    let connected = LinkerdBackend::connect(engine, Config::default()).await.unwrap();
    assert_eq!(connected.version().await.unwrap(), LinkerdVersion::V2_17);
}

/// Twin of `api_server::mtls_status_reads_the_namespace_annotation`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn mtls_status_reads_the_namespace_annotation_on_the_real_server() {
    let c = Cluster::new("l-mtls").await;
    let linkerd = c.linkerd();
    let ns: Namespace = c.ns.parse().unwrap();
    let before = linkerd.mtls_status(&ns).await.unwrap();
    assert_eq!(before.mode, MtlsMode::Permissive);
    let audit = Audit::start();
    linkerd.execute(&c.here(&support::mtls())).await.unwrap();
    assert_eq!(
        write_lines(&audit, &c.ns),
        [format!("PATCH /api/v1/namespaces/{} mesh-inbound-policy", c.ns)]
    );
    let after = linkerd.mtls_status(&ns).await.unwrap();
    assert_eq!(after.mode, MtlsMode::Strict);
    assert!(after.automatic && after.notes.iter().any(|n| n.contains("restart")));
    c.done().await;
}

/// Twin of `api_server::the_abort_fault_round_trip_restores_the_stored_route`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn the_abort_fault_round_trip_restores_the_stored_route_on_the_real_server() {
    let c = Cluster::new("l-abort").await;
    let (linkerd, before) = c.canary_then_abort().await;
    let faulted = c.object(&c.route_ref()).await.unwrap();
    assert_eq!(
        faulted["spec"]["rules"][0]["backendRefs"][2]["name"],
        "error-injector"
    );
    let after = c.remove_abort(&linkerd).await;
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
    c.done().await;
}

/// Twin of `api_server::state_is_kept_in_a_config_map_with_compare_and_swap`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn state_is_kept_in_a_config_map_with_compare_and_swap_on_the_real_server() {
    let c = Cluster::new("l-state").await;
    let key = StateKey::new(c.service("reviews"), "rollout").unwrap();
    crate::api_server::state_is_kept_with_compare_and_swap(&c.linkerd(), &key).await;
    assert!(c.object(&mesh_linkerd::state_object(&key)).await.is_none());
    c.done().await;
}

/// Twin of `api_server::a_plan_mixing_objects_and_annotations_dry_runs_everything_before_writing`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_plan_mixing_objects_and_annotations_dry_runs_everything_first_on_the_real_server() {
    let c = Cluster::new("l-mixed").await;
    let linkerd = c.linkerd();
    let Change::CreateDestinationRule(mut p) = c.here(&support::subsets()) else {
        unreachable!()
    };
    p.subsets.truncate(1);
    p.outlier_detection = Some(OutlierDetection {
        consecutive_errors: Some(3),
        ..Default::default()
    });
    let audit = Audit::start();
    linkerd.execute(&Change::CreateDestinationRule(p)).await.unwrap();
    let requests: Vec<String> = audit
        .writes_in(&c.ns)
        .into_iter()
        .map(|w| format!("{} {}", w.line, w.field_manager.as_deref().unwrap_or("-")))
        .collect();
    let svc = c.services();
    assert_eq!(
        requests,
        [
            // Phase one: every write dry-run, each through its own field manager.
            format!("PATCH {svc}/reviews-v1 (dry run) mesh"),
            format!("PATCH {svc}/reviews (dry run) mesh-circuit-breaker"),
            // Phase two: each write lands, one object at a time.
            format!("PATCH {svc}/reviews-v1 mesh"),
            format!("PATCH {svc}/reviews mesh-circuit-breaker"),
        ]
    );
    c.done().await;
}

fn fault_config() -> Config {
    Config::default()
        .version(LinkerdVersion::V2_20)
        .fault_error_backend("error-injector", 8080)
}

/// Rewrites the route as an earlier release wrote it (every `meshctl.dev/` annotation under
/// `mesh.io/`), by a guarded replace: `as_written_before` of `api_server.rs`.
async fn as_written_before(c: &Cluster) {
    let obj = c.object(&c.route_ref()).await.unwrap();
    live_server::replace(c.engine.client(), crate::api_server::with_the_old_prefix(obj)).await;
}

/// Twin of `api_server::owned_rules_recorded_under_the_old_prefix_stay_owned`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn owned_rules_recorded_under_the_old_prefix_stay_owned_on_the_real_server() {
    let c = Cluster::new("l-old-rules").await;
    let linkerd = c.backend(fault_config());
    linkerd.execute(&c.here(&support::canary())).await.unwrap();
    as_written_before(&c).await;
    linkerd
        .execute(&c.here(&support::split(&[("v1", 10), ("v2", 90)])))
        .await
        .unwrap();
    let route = c.object(&c.route_ref()).await.unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    // One rule, ours, re-weighted: the old one was not kept as if a user had written it.
    assert_eq!(rules.len(), 1, "{route:#}");
    assert_eq!(rules[0]["backendRefs"][1]["weight"], 90);
    assert!(
        mesh_kube::keys::annotation(&route, objects::OWNED_RULES_ANNOTATION).is_some(),
        "{route:#}"
    );
    c.done().await;
}

/// Twin of `api_server::a_fault_injected_under_the_old_prefix_is_found_and_removed`.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG"]
async fn a_fault_injected_under_the_old_prefix_is_found_and_removed_on_the_real_server() {
    let c = Cluster::new("l-old-fault").await;
    let (linkerd, before) = c.canary_then_abort().await;
    as_written_before(&c).await;
    // While it is active, route changes are refused, naming it.
    let err = linkerd
        .execute(&c.here(&support::split(&[("v1", 50), ("v2", 50)])))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("mesh-fault-"), "{err}");
    let after = c.remove_abort(&linkerd).await;
    assert_eq!(after["spec"], before["spec"]);
    let annotations = after["metadata"]["annotations"].as_object().unwrap();
    assert!(
        !annotations.keys().any(|k| k.contains("mesh-fault-")),
        "{annotations:?}"
    );
    c.done().await;
}

/// Twin of `scenarios::unregister_removes_routes_before_the_services_they_use`: the planner's
/// order, applied by the real server, and a Service the library did not create left in place.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn unregister_removes_routes_before_the_services_they_use_on_the_real_server() {
    let c = Cluster::new("l-unregister").await;
    let linkerd = c.backend(opted_in(LinkerdVersion::V2_20));
    linkerd.execute(&c.here(&support::register_k8s())).await.unwrap();
    let details = c.service("details");
    let split = Change::SetTrafficWeight {
        service: details.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    linkerd.execute(&split).await.unwrap();
    let audit = Audit::start();
    linkerd
        .execute(&Change::UnregisterService {
            service: details.clone(),
        })
        .await
        .unwrap();
    let svc = c.services();
    assert_eq!(
        write_lines(&audit, &c.ns),
        [
            format!(
                "DELETE /apis/policy.linkerd.io/v1beta3/namespaces/{}/httproutes/details -",
                c.ns
            ),
            format!("DELETE {svc}/details-v1 -"),
            format!("DELETE {svc}/details-v2 -"),
            format!("DELETE {svc}/details -"),
        ]
    );
    let left = c.engine.list("v1", "Service", Some(&c.ns), None).await.unwrap();
    assert!(
        left.iter()
            .all(|s| !s["metadata"]["name"].as_str().unwrap().starts_with("details")),
        "{left:?}"
    );
    // A Service the library did not create is left in place.
    let reviews_version = version_of(&c.engine, &objects::service(&c.service("reviews"))).await;
    let report = linkerd
        .execute(&Change::UnregisterService {
            service: c.service("reviews"),
        })
        .await
        .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert!(report.warnings.iter().any(|w| w.contains("not created by mesh")));
    assert_eq!(
        version_of(&c.engine, &objects::service(&c.service("reviews"))).await,
        reviews_version
    );
    c.done().await;
}

/// Twin of `scenarios::objects_the_user_wrote_are_never_taken_over` (its Service half): a Service
/// of the user's is not re-pointed at ExternalWorkloads.
#[tokio::test]
#[ignore = "needs MESH_E2E_KUBECONFIG and MESH_TESTENV_AUDIT_LOG"]
async fn a_users_service_is_never_taken_over_on_the_real_server() {
    let c = Cluster::new("l-takeover").await;
    let linkerd = c.backend(opted_in(LinkerdVersion::V2_20));
    let Change::RegisterService(mut def) = c.here(&support::register_vm()) else {
        unreachable!()
    };
    def.name = "reviews".parse().unwrap();
    let audit = Audit::start();
    let err = linkerd.execute(&Change::RegisterService(def)).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { ref kind, .. } if kind.starts_with("Service")),
        "{err:?}"
    );
    assert_eq!(audit.lines_in(&c.ns), Vec::<String>::new());
    c.done().await;
}
