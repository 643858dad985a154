//! Behaviour over several changes, on a simulated cluster: user rules survive, faults restore
//! exactly, ServiceProfiles are detected, removal is break-before-unmake.

use crate::support;

use mesh_core::*;
use mesh_linkerd::{Config, LinkerdVersion, Snapshot, objects};
use serde_json::{Value, json};
use support::*;

fn config() -> Config {
    opted_in(LinkerdVersion::V2_20)
}

async fn run(snap: &mut Snapshot, change: &Change, config: &Config) -> Plan {
    let p = plan(snap, change, config).unwrap_or_else(|e| panic!("{}: {e}", change.operation()));
    p.check_safe_prefixes().unwrap();
    validate(&p, snap, config.effective_version());
    snap.apply(&p).unwrap();
    p
}

fn route_ref() -> ObjectRef {
    objects::http_route(&reviews(), "policy.linkerd.io/v1beta3")
}

fn user_rule() -> Value {
    json!({
        "matches": [{ "headers": [{ "type": "Exact", "name": "x-canary", "value": "always" }] }],
        "backendRefs": [{ "name": "reviews-v2", "port": 9080 }],
    })
}

fn weights(route: &Value, rule: usize) -> Vec<(String, u64)> {
    route["spec"]["rules"][rule]["backendRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["name"].as_str().unwrap().to_owned(),
                b["weight"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_users_own_route_keeps_its_rules_across_weight_changes() {
    let mut snap = seeded();
    // The user wrote an HTTPRoute for the Service before the library touched it.
    snap.insert(
        route_ref(),
        json!({
            "apiVersion": "policy.linkerd.io/v1beta3", "kind": "HTTPRoute",
            "metadata": { "name": "reviews", "namespace": "prod", "resourceVersion": "7" },
            "spec": { "parentRefs": [{ "group": "core", "kind": "Service", "name": "reviews", "port": 9080 }],
                      "rules": [user_rule()] },
        }),
    );
    let first = run(&mut snap, &canary(), &config()).await;
    let last = first.writes.last().unwrap();
    assert_eq!(
        last.action,
        WriteAction::Replace,
        "a shared route is replaced under its resourceVersion"
    );
    assert_eq!(last.precondition, Some(Precondition::Version("7".into())));
    for step in [split(&[("v1", 50), ("v2", 50)]), split(&[("v2", 100)])] {
        run(&mut snap, &step, &config()).await;
        let route = snap.get(&route_ref()).unwrap();
        assert_eq!(
            route["spec"]["rules"][0],
            user_rule(),
            "the user's rule is first and unchanged"
        );
        assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 2);
        // The user's parentRef is not duplicated.
        assert_eq!(route["spec"]["parentRefs"].as_array().unwrap().len(), 1);
    }
    let route = snap.get(&route_ref()).unwrap();
    assert_eq!(weights(route, 1), vec![("reviews-v2".to_owned(), 100)]);
}

#[tokio::test]
async fn rules_a_user_adds_to_the_librarys_route_survive_too() {
    let mut snap = seeded();
    run(&mut snap, &canary(), &config()).await;
    let mut route = snap.get(&route_ref()).unwrap().clone();
    route["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .insert(0, user_rule());
    snap.insert(route_ref(), route);
    run(&mut snap, &split(&[("v1", 20), ("v2", 80)]), &config()).await;
    let route = snap.get(&route_ref()).unwrap();
    assert_eq!(route["spec"]["rules"][0], user_rule());
    assert_eq!(
        weights(route, 1),
        vec![("reviews-v1".to_owned(), 20), ("reviews-v2".to_owned(), 80)]
    );
    // The user's rule and the library's split, nothing else.
    assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_weight_change_after_routes_keeps_the_match_rules() {
    let mut snap = seeded();
    run(&mut snap, &routes(), &config()).await;
    run(&mut snap, &canary(), &config()).await;
    let route = snap.get(&route_ref()).unwrap();
    let rules = route["spec"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2);
    assert!(rules[0]["matches"].is_array(), "the match rule stays first");
    assert_eq!(
        weights(route, 1),
        vec![("reviews-v1".to_owned(), 90), ("reviews-v2".to_owned(), 10)]
    );
}

#[tokio::test]
async fn removing_a_fault_restores_the_route_exactly() {
    let mut snap = seeded();
    run(&mut snap, &canary(), &config()).await;
    let before = snap.get(&route_ref()).unwrap().clone();
    let injected = run(&mut snap, &abort(), &config()).await;
    assert!(injected.warnings.iter().any(|w| w.contains("error-injector")));
    let route = snap.get(&route_ref()).unwrap();
    assert_eq!(
        weights(route, 0),
        vec![
            ("reviews-v1".to_owned(), 8550),
            ("reviews-v2".to_owned(), 950),
            ("error-injector".to_owned(), 500)
        ]
    );
    // Injecting the same fault again changes nothing; changing weights meanwhile is refused.
    assert!(plan(&snap, &abort(), &config()).unwrap().is_noop());
    assert!(matches!(
        plan(&snap, &canary(), &config()),
        Err(Error::InvalidInput { .. })
    ));
    let id = abort().fault_id(MeshKind::Linkerd).unwrap();
    run(
        &mut snap,
        &Change::RemoveFault { fault_id: id.clone() },
        &config(),
    )
    .await;
    let after = snap.get(&route_ref()).unwrap();
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(
        after["metadata"]["annotations"],
        before["metadata"]["annotations"]
    );
    // A second removal finds nothing.
    let err = plan(&snap, &Change::RemoveFault { fault_id: id }, &config()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn a_fault_on_a_service_without_routes_creates_and_then_deletes_the_route() {
    let mut snap = seeded();
    run(&mut snap, &abort(), &config()).await;
    let route = snap.get(&route_ref()).unwrap();
    assert_eq!(
        weights(route, 0),
        vec![("reviews".to_owned(), 9500), ("error-injector".to_owned(), 500)]
    );
    let id = abort().fault_id(MeshKind::Linkerd).unwrap();
    let removal = run(&mut snap, &Change::RemoveFault { fault_id: id }, &config()).await;
    assert_eq!(removal.writes[0].action, WriteAction::Delete);
    assert!(snap.get(&route_ref()).is_none());
}

#[tokio::test]
async fn a_missing_error_backend_is_not_found() {
    let config = Config::default().fault_error_backend("nope", 80);
    let err = plan(&seeded(), &abort(), &config).unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref name, .. } if name.contains("nope")),
        "{err:?}"
    );
}

fn with_service_profile() -> Snapshot {
    let mut snap = seeded();
    snap.insert(
        objects::service_profile(&reviews()),
        json!({ "apiVersion": "linkerd.io/v1alpha2", "kind": "ServiceProfile",
                "metadata": { "name": "reviews.prod.svc.cluster.local", "namespace": "prod" },
                "spec": { "routes": [] } }),
    );
    snap
}

#[tokio::test]
async fn an_existing_service_profile_is_a_typed_error_never_applied_over() {
    let snap = with_service_profile();
    let plain = Config::default();
    for (change, feature) in [
        (canary(), Feature::TrafficSplit),
        (routes(), Feature::TrafficSplit),
        (breaker(), Feature::CircuitBreakerConsecutiveErrors),
        (retries(), Feature::RetryAttempts),
    ] {
        match plan(&snap, &change, &plain) {
            Err(Error::Unsupported {
                feature: f, reason, ..
            }) => {
                assert_eq!(f, feature);
                assert!(
                    reason.contains("ServiceProfile reviews.prod.svc.cluster.local"),
                    "{reason}"
                );
            }
            other => panic!("{}: expected Unsupported, got {other:?}", change.operation()),
        }
    }
}

#[tokio::test]
async fn with_the_smi_opt_in_a_service_profile_is_a_warning_and_weights_go_to_a_traffic_split() {
    let mut snap = with_service_profile();
    let config = Config::default().smi(true);
    let p = run(&mut snap, &canary(), &config).await;
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("ServiceProfile reviews.prod.svc.cluster.local exists"))
    );
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("linkerd-smi turns a TrafficSplit into a ServiceProfile"))
    );
    let ts = snap.get(&objects::traffic_split(&reviews())).unwrap();
    assert_eq!(
        ts["spec"]["backends"][0],
        json!({ "service": "reviews-v1", "weight": 90 })
    );
    assert!(snap.get(&route_ref()).is_none(), "no HTTPRoute with SMI");
}

/// A cluster where the library registered `prod/details` and split it 50/50 between v1 and v2.
async fn registered_with_split() -> (Snapshot, ServiceId) {
    let mut snap = seeded();
    let details: ServiceId = "prod/details".parse().unwrap();
    run(&mut snap, &register_k8s(), &config()).await;
    let split = Change::SetTrafficWeight {
        service: details.clone(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    run(&mut snap, &split, &config()).await;
    (snap, details)
}

#[tokio::test]
async fn unregister_removes_routes_before_the_services_they_use() {
    let (mut snap, details) = registered_with_split().await;
    let p = run(
        &mut snap,
        &Change::UnregisterService {
            service: details.clone(),
        },
        &config(),
    )
    .await;
    let steps: Vec<String> = p
        .writes
        .iter()
        .map(|w| format!("{:?} {} {}", w.action, w.target.kind, w.target.name))
        .collect();
    assert_eq!(
        steps,
        [
            "Delete HTTPRoute details",
            "Delete Service details-v1",
            "Delete Service details-v2",
            "Delete Service details"
        ]
    );
    assert!(snap.objects().keys().all(|k| !k.name.starts_with("details")));
    // A Service the library did not create is left in place.
    let p = plan(
        &seeded(),
        &Change::UnregisterService { service: reviews() },
        &config(),
    )
    .unwrap();
    assert!(p.is_noop());
    assert!(p.warnings.iter().any(|w| w.contains("not created by mesh")));
}

#[tokio::test]
async fn external_workloads_are_marked_ready_through_status_and_removed_with_the_service() {
    let mut snap = seeded();
    let p = run(&mut snap, &register_vm(), &config()).await;
    let kinds: Vec<(WriteAction, &str)> = p
        .writes
        .iter()
        .map(|w| (w.action, w.target.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (WriteAction::Apply, "ExternalWorkload"),
            (WriteAction::ApplyStatus, "ExternalWorkload"),
            (WriteAction::Apply, "ExternalWorkload"),
            (WriteAction::ApplyStatus, "ExternalWorkload"),
            (WriteAction::Apply, "Service"),
        ]
    );
    let ew = snap
        .get(&objects::external_workload("prod", "ratings-10-0-0-5-9080"))
        .unwrap();
    assert_eq!(ew["status"]["conditions"][0]["type"], "Ready");
    assert_eq!(ew["spec"]["workloadIPs"][0]["ip"], "10.0.0.5");
    assert_eq!(ew["metadata"]["labels"]["app"], "ratings");
    let svc = snap
        .get(&objects::service(&"prod/ratings".parse().unwrap()))
        .unwrap();
    assert_eq!(svc["spec"]["selector"]["app"], "ratings");
    let un = run(
        &mut snap,
        &Change::UnregisterService {
            service: "prod/ratings".parse().unwrap(),
        },
        &config(),
    )
    .await;
    assert_eq!(
        un.writes
            .iter()
            .filter(|w| w.target.kind == "ExternalWorkload")
            .count(),
        2
    );
    assert!(snap.objects().keys().all(|k| !k.name.starts_with("ratings")));
}

#[tokio::test]
async fn a_dns_name_cannot_be_an_external_workload() {
    let mut def = ServiceDefinition::builder("ratings", "prod", 9080).unwrap();
    def.endpoints
        .push(Endpoint::new("vm1.example.org", Port::new(9080).unwrap()).unwrap());
    let err = plan(&seeded(), &Change::RegisterService(def), &config()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field.contains("endpoints[0].address")),
        "{err:?}"
    );
}

#[tokio::test]
async fn mtls_is_an_annotation_and_the_status_says_pods_must_restart() {
    let mut snap = seeded();
    let p = run(&mut snap, &mtls(), &config()).await;
    assert!(p.warnings.iter().any(|w| w.contains("restart")));
    // The status read from this annotation (strict, automatic, pods must restart) is checked by
    // the unit tests of the crate's mTLS translation.
    let ns = snap.get(&objects::namespace("prod")).unwrap();
    assert_eq!(
        ns["metadata"]["annotations"]["config.linkerd.io/default-inbound-policy"],
        "all-authenticated"
    );
}

#[tokio::test]
async fn subsets_with_custom_labels_select_app_and_those_labels() {
    let mut snap = seeded();
    let mut s = Subset::for_version(Version::new("canary").unwrap());
    s.labels = [("track".to_owned(), "canary".to_owned())].into();
    let change = Change::CreateDestinationRule(DestinationPolicy::with_subsets(reviews(), [s]));
    run(&mut snap, &change, &config()).await;
    let svc = snap
        .get(&objects::version_service(
            &reviews(),
            &Version::new("canary").unwrap(),
        ))
        .unwrap();
    assert_eq!(
        svc["spec"]["selector"],
        json!({ "app": "reviews", "track": "canary" })
    );
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 9080);
}

#[tokio::test]
async fn old_releases_retry_through_an_owned_service_profile() {
    let mut snap = seeded();
    let config = opted_in(LinkerdVersion::V2_15);
    let p = run(&mut snap, &retries(), &config).await;
    assert!(p.warnings.iter().any(|w| w.contains("budget")));
    let sp = snap.get(&objects::service_profile(&reviews())).unwrap();
    assert_eq!(sp["spec"]["routes"][0]["isRetryable"], true);
    assert_eq!(sp["spec"]["routes"][0]["timeout"], "10s");
    assert_eq!(
        sp["spec"]["routes"][0]["responseClasses"][0]["condition"]["status"],
        json!({ "min": 429, "max": 429 })
    );
    // That ServiceProfile now blocks HTTPRoute splits unless the caller accepts it.
    let err = plan(
        &snap,
        &canary(),
        &Config::default().version(LinkerdVersion::V2_15),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
}

#[tokio::test]
async fn unregister_keeps_the_per_version_services_a_users_rule_uses() {
    let (mut snap, details) = registered_with_split().await;
    let r = objects::http_route(&details, "policy.linkerd.io/v1beta3");
    let mut route = snap.get(&r).unwrap().clone();
    let users = json!({ "matches": [{ "path": { "type": "Exact", "value": "/v2" } }], "backendRefs": [{ "name": "details-v2", "port": 9080 }] });
    route["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .insert(0, users.clone());
    snap.insert(r.clone(), route);
    let p = run(
        &mut snap,
        &Change::UnregisterService {
            service: details.clone(),
        },
        &config(),
    )
    .await;
    assert!(
        p.warnings.iter().any(|w| w.contains("details-v2 stay")),
        "{:?}",
        p.warnings
    );
    assert!(
        snap.get(&objects::version_service(&details, &Version::new("v2").unwrap()))
            .is_some()
    );
    assert!(
        snap.get(&objects::version_service(&details, &Version::new("v1").unwrap()))
            .is_none()
    );
    assert_eq!(
        snap.get(&r).unwrap()["spec"]["rules"],
        json!([users]),
        "only the user's rule is left"
    );
}

#[tokio::test]
async fn retry_annotations_the_policy_no_longer_sets_are_removed() {
    let mut snap = seeded();
    run(&mut snap, &retries(), &config()).await;
    let off = Change::SetRetryPolicy {
        service: reviews(),
        policy: RetryPolicy {
            attempts: 0,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    run(&mut snap, &off, &config()).await;
    let a = &snap.get(&objects::service(&reviews())).unwrap()["metadata"]["annotations"];
    assert!(
        a.get("retry.linkerd.io/limit").is_none() && a.get("timeout.linkerd.io/request").is_none(),
        "{a:#}"
    );
    assert!(plan(&snap, &off, &config()).unwrap().is_noop());
}

#[tokio::test]
async fn re_registering_with_fewer_instances_deletes_the_dropped_workload() {
    let mut snap = seeded();
    run(&mut snap, &register_vm(), &config()).await;
    let Change::RegisterService(mut def) = register_vm() else {
        unreachable!()
    };
    def.endpoints.truncate(1);
    let p = run(&mut snap, &Change::RegisterService(def), &config()).await;
    let steps: Vec<String> = p
        .writes
        .iter()
        .map(|w| format!("{:?} {}", w.action, w.target.name))
        .collect();
    assert_eq!(steps, ["Apply ratings", "Delete ratings-fd00--7-9080"]);
    let ew = objects::external_workload("prod", "ratings-fd00--7-9080");
    assert!(snap.get(&ew).is_none());
}

#[tokio::test]
async fn a_weight_change_keeps_the_labels_a_destination_policy_gave_a_version() {
    let mut snap = seeded();
    let mut s = Subset::for_version(Version::new("canary").unwrap());
    s.labels = [("track".to_owned(), "canary".to_owned())].into();
    run(
        &mut snap,
        &Change::CreateDestinationRule(DestinationPolicy::with_subsets(reviews(), [s])),
        &config(),
    )
    .await;
    let p = run(&mut snap, &split(&[("v1", 90), ("canary", 10)]), &config()).await;
    assert!(
        p.targets().iter().all(|t| t.name != "reviews-canary"),
        "{:?}",
        p.targets()
    );
    let svc = snap
        .get(&objects::version_service(
            &reviews(),
            &Version::new("canary").unwrap(),
        ))
        .unwrap();
    assert_eq!(svc["spec"]["selector"]["track"], "canary");
}

#[tokio::test]
async fn a_bad_error_backend_name_is_invalid_input_naming_the_setting() {
    let config = Config::default().fault_error_backend("Not_A_Name", 80);
    let err = plan(&seeded(), &abort(), &config).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field.starts_with("config.fault_error_backend")),
        "{err:?}"
    );
}

#[tokio::test]
async fn outlier_settings_are_refused_over_a_service_profile() {
    let Change::CreateDestinationRule(mut p) = subsets() else {
        unreachable!()
    };
    p.outlier_detection = Some(OutlierDetection {
        consecutive_errors: Some(3),
        ..Default::default()
    });
    let err = plan(
        &with_service_profile(),
        &Change::CreateDestinationRule(p),
        &Config::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: Feature::CircuitBreakerConsecutiveErrors,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_user_rule_copying_the_librarys_backends_is_still_the_users() {
    let mut snap = seeded();
    run(&mut snap, &canary(), &config()).await;
    let mut route = snap.get(&route_ref()).unwrap().clone();
    // The user adds a rule with the same backends as the library's catch-all, plus a match, and
    // the server has defaulted the library's rule.
    let users = json!({
        "matches": [{ "path": { "type": "Exact", "value": "/beta" } }],
        "backendRefs": [{ "name": "reviews-v1", "port": 9080, "weight": 90 }, { "name": "reviews-v2", "port": 9080, "weight": 10 }],
    });
    route["spec"]["rules"][0]["matches"] = json!([{ "path": { "type": "PathPrefix", "value": "/" } }]);
    route["spec"]["rules"]
        .as_array_mut()
        .unwrap()
        .insert(0, users.clone());
    snap.insert(route_ref(), route);
    run(&mut snap, &split(&[("v2", 100)]), &config()).await;
    let route = snap.get(&route_ref()).unwrap();
    assert_eq!(route["spec"]["rules"][0], users);
    assert_eq!(weights(route, 1), vec![("reviews-v2".to_owned(), 100)]);
    assert_eq!(route["spec"]["rules"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_namespace_wide_policy_targets_the_namespace_and_says_what_it_governs() {
    let mut snap = seeded();
    let Change::CreateAuthorizationPolicy(mut p) = authz() else {
        unreachable!()
    };
    p.target = None;
    p.rules = vec![AuthzRule {
        from: vec![AuthzSource {
            namespaces: vec!["prod".parse().unwrap()],
            ..Default::default()
        }],
        to: vec![],
    }];
    let plan = run(
        &mut snap,
        &Change::CreateAuthorizationPolicy(p.clone()),
        &config(),
    )
    .await;
    let ap = plan
        .writes
        .iter()
        .find(|w| w.target.kind == "AuthorizationPolicy")
        .unwrap();
    assert_eq!(
        ap.body.as_ref().unwrap()["spec"]["targetRef"],
        json!({ "kind": "Namespace", "name": "prod" })
    );
    assert!(plan.writes.iter().all(|w| w.target.kind != "Server"));
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("only ports that have a Server"))
    );
    // Method and path rules need a Server to attach a route to.
    p.rules[0].to = vec![AuthzTarget {
        paths: vec!["/admin".into()],
        ..Default::default()
    }];
    let err = plan_err(&Change::CreateAuthorizationPolicy(p)).await;
    assert!(
        matches!(
            err,
            Error::Unsupported {
                feature: Feature::AuthzPaths,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn plan_err(change: &Change) -> Error {
    plan(&seeded(), change, &config()).unwrap_err()
}

#[tokio::test]
async fn objects_the_user_wrote_are_never_taken_over() {
    // A ServiceProfile of the user's on 2.15 is not overwritten by ServiceProfile retries.
    let err = plan(
        &with_service_profile(),
        &retries(),
        &opted_in(LinkerdVersion::V2_15),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { ref kind, .. } if kind.starts_with("ServiceProfile")),
        "{err:?}"
    );
    // A Service of the user's is not re-pointed at ExternalWorkloads.
    let Change::RegisterService(mut def) = register_vm() else {
        unreachable!()
    };
    def.name = "reviews".parse().unwrap();
    let err = plan(&seeded(), &Change::RegisterService(def), &config()).unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { ref kind, .. } if kind.starts_with("Service")),
        "{err:?}"
    );
}
