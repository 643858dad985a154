//! The pure planner: exact writes per operation, user routes kept, faults removable, every prefix
//! safe, and re-planning after applying converges to no writes.

use crate::support;

use std::time::Duration;

use mesh_core::{
    Change, Endpoint, Error, Fault, FaultId, HttpStatus, MeshKind, Percent, Port, Precondition, RouteRule,
    ServiceDefinition, ServiceRoutes, TrafficSplit, WriteAction,
};
use mesh_istio::{Config, Snapshot, objects};
use support::*;

fn kinds(plan: &mesh_core::Plan) -> Vec<(WriteAction, String)> {
    plan.writes
        .iter()
        .map(|w| (w.action, format!("{}/{}", w.target.kind, w.target.name)))
        .collect()
}

fn http(snap: &Snapshot) -> Vec<serde_json::Value> {
    let r = objects::virtual_service(&"bookinfo/reviews".parse().unwrap());
    http_routes(snap.get(&r).expect("virtual service"))
}

#[test]
fn canary_creates_subsets_before_routes_and_converges() {
    let mut snap = Snapshot::default();
    let plan = run(&mut snap, &canary());
    assert_eq!(
        kinds(&plan),
        [
            (WriteAction::Create, "DestinationRule/reviews".to_owned()),
            (WriteAction::Create, "VirtualService/reviews".to_owned()),
        ]
    );
    assert!(
        plan.writes
            .iter()
            .all(|w| w.precondition == Some(Precondition::MustNotExist))
    );
    let routes = http(&snap);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0]["name"], "mesh-default");
    assert_eq!(routes[0]["route"][0]["weight"], 90);
    assert_eq!(routes[0]["route"][1]["destination"]["subset"], "v2");
    assert_eq!(
        routes[0]["route"][1]["destination"]["host"],
        "reviews.bookinfo.svc.cluster.local"
    );
    let again = mesh_istio::plan(&canary(), &snap, &Config::default()).unwrap();
    assert!(again.is_noop(), "{:?}", kinds(&again));
}

#[test]
fn weight_change_keeps_the_user_route_and_guards_on_resource_version() {
    let mut snap = user_objects();
    let plan = run(&mut snap, &canary());
    assert_eq!(plan.writes.len(), 2);
    assert_eq!(plan.writes[0].action, WriteAction::Replace);
    assert_eq!(
        plan.writes[0].precondition,
        Some(Precondition::Version("100".into()))
    );
    assert_eq!(
        plan.writes[1].precondition,
        Some(Precondition::Version("101".into()))
    );
    let routes = http(&snap);
    assert_eq!(routes[0], user_route(), "the user's route is first and unchanged");
    assert_eq!(routes[1]["name"], "mesh-default");
    // The user's subset and annotation survive too.
    let dr = snap
        .get(&objects::destination_rule(&"bookinfo/reviews".parse().unwrap()))
        .unwrap();
    let names = subset_names(dr);
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["v1", "v2", "v3"]);
    let vs_obj = snap
        .get(&objects::virtual_service(&"bookinfo/reviews".parse().unwrap()))
        .unwrap();
    assert_eq!(vs_obj["metadata"]["annotations"]["owner"], "team-reviews");

    // A second weight change writes only the VirtualService: the subsets exist.
    let shift = Change::SetTrafficWeight {
        service: "bookinfo/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
    };
    let plan = run(&mut snap, &shift);
    assert_eq!(
        kinds(&plan),
        [(WriteAction::Replace, "VirtualService/reviews".to_owned())]
    );
    assert_eq!(http(&snap)[0], user_route());
}

#[test]
fn remove_fault_restores_the_routes_exactly() {
    let mut snap = user_objects();
    run(&mut snap, &canary());
    run(&mut snap, &retries());
    let before = http(&snap);
    let plan = run(&mut snap, &latency_fault());
    assert_eq!(
        kinds(&plan),
        [(WriteAction::Replace, "VirtualService/reviews".to_owned())]
    );
    assert!(
        plan.warnings.iter().any(|w| w.contains("disables retries")),
        "{:?}",
        plan.warnings
    );
    let id = latency_fault().fault_id(MeshKind::Istio).unwrap();
    let during = http(&snap);
    let names: Vec<&str> = during.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["jason-to-v3", id.marker().as_str(), "mesh-default"]);
    assert_eq!(during[1]["fault"]["delay"]["percentage"]["value"], 10.0);
    assert_eq!(
        during[1]["route"], during[2]["route"],
        "the fault route keeps the split"
    );

    // The id is stateless: rebuilt from its string form in "another process".
    let id: FaultId = id.to_string().parse().unwrap();
    let plan = run(&mut snap, &Change::RemoveFault { fault_id: id.clone() });
    assert_eq!(plan.writes.len(), 1);
    assert_eq!(http(&snap), before);
    let err = mesh_istio::plan(&Change::RemoveFault { fault_id: id }, &snap, &Config::default()).unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref kind, .. } if kind == "fault"),
        "{err}"
    );
}

#[test]
fn weight_change_during_a_fault_updates_the_fault_route_too() {
    let mut snap = Snapshot::default();
    run(&mut snap, &canary());
    run(&mut snap, &latency_fault());
    let shift = Change::SetTrafficWeight {
        service: "bookinfo/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 20), ("v4", 80)]).unwrap(),
    };
    let plan = run(&mut snap, &shift);
    assert_eq!(
        plan.writes[0].target.kind, "DestinationRule",
        "v4 is a new subset"
    );
    let routes = http(&snap);
    assert_eq!(routes[0]["route"], routes[1]["route"]);
    assert_eq!(routes[1]["route"][1]["destination"]["subset"], "v4");
}

#[test]
fn retries_under_an_active_fault_warn() {
    let mut snap = Snapshot::default();
    run(&mut snap, &canary());
    run(&mut snap, &latency_fault());
    let plan = run(&mut snap, &retries());
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("only once the fault is removed")),
        "{:?}",
        plan.warnings
    );
    let routes = http(&snap);
    assert!(
        routes[0].get("retries").is_none(),
        "the fault route gets no retries"
    );
    assert_eq!(routes[1]["retries"]["attempts"], 3);
    assert_eq!(routes[1]["timeout"], "10s");
}

#[test]
fn a_rule_with_both_fault_and_retries_is_refused() {
    let mut rule = RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap());
    rule.timeout = Some(Duration::from_secs(1));
    rule.fault = Some(Fault::Abort {
        percent: Percent::new(5.0).unwrap(),
        http_status: HttpStatus::new(503).unwrap(),
    });
    let change = Change::CreateVirtualService(ServiceRoutes {
        service: "bookinfo/reviews".parse().unwrap(),
        rules: vec![rule],
    });
    let err = mesh_istio::plan(&change, &Snapshot::default(), &Config::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "rules[0].fault"),
        "{err}"
    );
}

#[test]
fn create_virtual_service_replaces_only_library_routes() {
    let mut snap = user_objects();
    run(&mut snap, &canary());
    let mut header_rule = RouteRule::to(TrafficSplit::try_from_pairs([("v2", 100)]).unwrap());
    header_rule.matches = vec![mesh_core::RequestMatch {
        path: Some(mesh_core::PathMatch::Prefix("/beta".into())),
        ..Default::default()
    }];
    let change = Change::CreateVirtualService(ServiceRoutes {
        service: "bookinfo/reviews".parse().unwrap(),
        rules: vec![
            header_rule,
            RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap()),
        ],
    });
    run(&mut snap, &change);
    let routes = http(&snap);
    let names: Vec<&str> = routes.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["jason-to-v3", "mesh-route-0", "mesh-default"]);
    assert_eq!(routes[1]["match"][0]["uri"]["prefix"], "/beta");
    assert_eq!(routes[2]["route"][0]["weight"], 100);
}

#[test]
fn circuit_breaker_writes_only_the_destination_rule() {
    let mut snap = Snapshot::default();
    let plan = run(&mut snap, &circuit_breaker());
    assert_eq!(
        kinds(&plan),
        [(WriteAction::Create, "DestinationRule/reviews".to_owned())]
    );
    assert!(plan.warnings.iter().any(|w| w.contains("concurrent retries")));
    let body = plan.writes[0].body.as_ref().unwrap();
    let tp = &body["spec"]["trafficPolicy"];
    assert_eq!(tp["connectionPool"]["tcp"]["maxConnections"], 100);
    assert_eq!(tp["connectionPool"]["tcp"]["connectTimeout"], "3s");
    assert_eq!(tp["connectionPool"]["http"]["maxRetries"], 3);
    assert_eq!(tp["outlierDetection"]["consecutive5xxErrors"], 5);
    assert_eq!(tp["outlierDetection"]["interval"], "10s");
    assert_eq!(tp["outlierDetection"]["baseEjectionTime"], "30s");
    assert_eq!(tp["outlierDetection"]["maxEjectionPercent"], 50);
    // Subsets written later are added to the same rule, keeping the breaker.
    run(&mut snap, &canary());
    let dr = snap
        .get(&objects::destination_rule(&"bookinfo/reviews".parse().unwrap()))
        .unwrap();
    assert_eq!(
        dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"],
        5
    );
    assert_eq!(dr["spec"]["subsets"].as_array().unwrap().len(), 2);
}

#[test]
fn mtls_and_authorization_are_single_applies() {
    let mut snap = Snapshot::default();
    let plan = run(&mut snap, &mtls());
    assert_eq!(
        kinds(&plan),
        [(WriteAction::Apply, "PeerAuthentication/default".to_owned())]
    );
    assert!(plan.writes[0].precondition.is_none());
    let plan = run(&mut snap, &authz());
    assert_eq!(
        kinds(&plan),
        [(
            WriteAction::Apply,
            "AuthorizationPolicy/reviews-from-productpage".to_owned()
        )]
    );
    let spec = &plan.writes[0].body.as_ref().unwrap()["spec"];
    assert_eq!(
        spec["rules"][0]["from"][0]["source"]["principals"][0],
        "cluster.local/ns/bookinfo/sa/productpage"
    );
    assert_eq!(spec["rules"][0]["to"][0]["operation"]["ports"][0], "9080");
    let root = Change::EnableMtls {
        namespace: "istio-system".parse().unwrap(),
    };
    let plan = mesh_istio::plan(&root, &snap, &Config::default()).unwrap();
    assert!(plan.warnings.iter().any(|w| w.contains("whole mesh")));
    let custom = Config::default().trust_domain("example.org");
    let plan = mesh_istio::plan(&authz(), &snap, &custom).unwrap();
    let principal =
        &plan.writes[0].body.as_ref().unwrap()["spec"]["rules"][0]["from"][0]["source"]["principals"][0];
    assert_eq!(principal, "example.org/ns/bookinfo/sa/productpage");
}

fn vm_service(addresses: &[&str]) -> ServiceDefinition {
    addresses.iter().fold(
        ServiceDefinition::builder("legacy", "prod", 8080)
            .unwrap()
            .version("v1")
            .unwrap(),
        |def, a| def.endpoint(Endpoint::new(*a, Port::new(8080).unwrap()).unwrap()),
    )
}

#[test]
fn registration_writes_entries_and_prunes_stale_ones() {
    let mut snap = Snapshot::default();
    let plan = run(
        &mut snap,
        &Change::RegisterService(vm_service(&["10.0.0.1", "10.0.0.2"])),
    );
    let actions: Vec<(WriteAction, &str)> = plan
        .writes
        .iter()
        .map(|w| (w.action, w.target.kind.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            (WriteAction::Apply, "WorkloadEntry"),
            (WriteAction::Apply, "WorkloadEntry"),
            (WriteAction::Apply, "ServiceEntry"),
        ]
    );
    let se = plan.writes[2].body.as_ref().unwrap();
    assert_eq!(se["spec"]["hosts"][0], "legacy.prod.svc.cluster.local");
    let we = plan.writes[0].body.as_ref().unwrap();
    assert_eq!(we["spec"]["labels"]["app"], "legacy");
    assert_eq!(we["spec"]["labels"]["version"], "v1");

    let plan = run(&mut snap, &Change::RegisterService(vm_service(&["10.0.0.2"])));
    assert_eq!(plan.writes.last().unwrap().action, WriteAction::Delete);
    assert_eq!(plan.writes.len(), 3);

    let plan = run(
        &mut snap,
        &Change::UnregisterService {
            service: "prod/legacy".parse().unwrap(),
        },
    );
    assert!(plan.writes.iter().all(|w| w.action == WriteAction::Delete));
    assert_eq!(plan.writes[0].target.kind, "ServiceEntry");
    assert!(snap.objects().is_empty(), "{:?}", snap.objects().keys());
    let err = mesh_istio::plan(
        &Change::UnregisterService {
            service: "prod/legacy".parse().unwrap(),
        },
        &snap,
        &Config::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
}

/// A host-name endpoint needs `resolution: DNS` (under `STATIC` Envoy takes the name as an
/// address); once the entry resolves names it keeps doing so for later versions' IPs.
#[test]
fn a_host_name_endpoint_makes_the_entry_resolve_names() {
    let mut snap = Snapshot::default();
    let se = |plan: &mesh_core::Plan| {
        plan.writes
            .iter()
            .find(|w| w.target.kind == "ServiceEntry")
            .unwrap()
            .body
            .clone()
            .unwrap()
    };
    let plan = run(&mut snap, &Change::RegisterService(vm_service(&["10.0.0.1"])));
    assert_eq!(se(&plan)["spec"]["resolution"], "STATIC");
    let plan = run(
        &mut snap,
        &Change::RegisterService(vm_service(&["vm-1.example.com", "10.0.0.2"])),
    );
    assert_eq!(se(&plan)["spec"]["resolution"], "DNS");
    let we = plan.writes[0].body.as_ref().unwrap();
    assert_eq!(we["spec"]["address"], "vm-1.example.com");
    let v2 = ServiceDefinition::builder("legacy", "prod", 8080)
        .unwrap()
        .version("v2")
        .unwrap()
        .endpoint(Endpoint::new("10.0.0.9", Port::new(8080).unwrap()).unwrap());
    let plan = run(&mut snap, &Change::RegisterService(v2));
    assert_eq!(
        se(&plan)["spec"]["resolution"],
        "DNS",
        "v1's host name still needs resolving"
    );
}

#[test]
fn a_plain_kubernetes_service_is_already_registered() {
    let def = ServiceDefinition::builder("reviews", "bookinfo", 9080).unwrap();
    let mut snap = Snapshot::default();
    let plan = mesh_istio::plan(&Change::RegisterService(def.clone()), &snap, &Config::default()).unwrap();
    assert!(plan.is_noop());
    assert!(plan.warnings.iter().any(|w| w.contains("no Kubernetes Service")));
    snap.insert(
        objects::kubernetes_service(&def.id()),
        serde_json::json!({"kind": "Service"}),
    );
    let plan = mesh_istio::plan(&Change::RegisterService(def), &snap, &Config::default()).unwrap();
    assert!(plan.is_noop() && plan.warnings.is_empty());
}

#[test]
fn bad_input_is_refused_before_planning() {
    let change = Change::SetRetryPolicy {
        service: "bookinfo/reviews".parse().unwrap(),
        policy: mesh_core::RetryPolicy {
            attempts: 3,
            per_try_timeout: None,
            retry_on: vec![],
            retry_on_status: vec![],
            overall_timeout: None,
        },
    };
    let err = mesh_istio::plan(&change, &Snapshot::default(), &Config::default()).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    let huge = Change::ConfigureCircuitBreaker {
        service: "bookinfo/reviews".parse().unwrap(),
        circuit_breaker: mesh_core::CircuitBreaker {
            max_connections: Some(u32::MAX),
            ..Default::default()
        },
        callers: vec![],
    };
    let err = mesh_istio::plan(&huge, &Snapshot::default(), &Config::default()).unwrap_err();
    assert!(err.to_string().contains("int32"), "{err}");
}

#[test]
fn endpoints_for_a_name_kubernetes_already_serves_are_refused() {
    let def = vm_service(&["10.0.0.1"]);
    let mut snap = Snapshot::default();
    snap.insert(
        objects::kubernetes_service(&def.id()),
        serde_json::json!({"kind": "Service"}),
    );
    let err = mesh_istio::plan(&Change::RegisterService(def), &snap, &Config::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref field, .. } if field == "endpoints"),
        "{err}"
    );
}

#[test]
fn a_rule_without_timeout_takes_its_retry_policy_overall_timeout() {
    let mut rule = RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap());
    rule.retries = Some(mesh_core::RetryPolicy {
        attempts: 2,
        per_try_timeout: Some(Duration::from_secs(1)),
        retry_on: vec![mesh_core::RetryOn::GatewayError],
        retry_on_status: vec![],
        overall_timeout: Some(Duration::from_secs(5)),
    });
    let change = Change::CreateVirtualService(ServiceRoutes {
        service: "bookinfo/reviews".parse().unwrap(),
        rules: vec![rule],
    });
    let mut snap = Snapshot::default();
    run(&mut snap, &change);
    let routes = http(&snap);
    assert_eq!(routes[0]["name"], "mesh-default");
    assert_eq!(routes[0]["timeout"], "5s");
    assert_eq!(routes[0]["retries"]["perTryTimeout"], "1s");
}

#[test]
fn a_user_route_to_an_undefined_subset_is_reported_not_fixed() {
    let mut snap = user_objects();
    let dr = objects::destination_rule(&"bookinfo/reviews".parse().unwrap());
    let mut body = snap.get(&dr).unwrap().clone();
    body["spec"]["subsets"] = serde_json::json!([]);
    snap.insert(dr, body);
    let plan = mesh_istio::plan(&canary(), &snap, &Config::default()).unwrap();
    plan.check_safe_prefixes().unwrap();
    assert!(
        plan.warnings.iter().any(|w| w.contains("subset(s) v3")),
        "{:?}",
        plan.warnings
    );
    let dr_body = plan.writes[0].body.as_ref().unwrap();
    let names = subset_names(dr_body);
    assert!(
        !names.contains("v3"),
        "the library does not invent the user's subsets"
    );
}
