//! Pure translation: for the spec's examples, every emitted body parses into the typed models with
//! no unknown field and serializes back to the same JSON; plans are ordered and prefix-safe; the
//! rendering matches the plan.

use std::time::Duration;

use mesh_consul::{
    ConsulVersion,
    model::{AgentServiceRegistration, ConfigEntry},
    render::render,
    translate::{Context, EntryKey, Snapshot, plan},
};
use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker,
    DestinationPolicy, Fault, HealthCheck, HttpMethod, HttpStatus, LoadBalancer, PathMatch, Percent,
    RequestMatch, RetryOn, RetryPolicy, RouteRule, ServiceDefinition, ServiceRoutes, Subset, TrafficSplit,
    Version, WriteAction,
};
use serde_json::Value;

fn svc() -> mesh_core::ServiceId {
    "default/reviews".parse().unwrap()
}

/// The spec's examples, one per operation.
fn examples() -> Vec<Change> {
    let mut def = ServiceDefinition::builder("reviews", "default", 9080)
        .unwrap()
        .version("v2")
        .unwrap();
    def.health_check = Some(HealthCheck::Http {
        path: "/health".into(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
    });
    def.metadata.insert("team".into(), "books".into());
    let mut policy = DestinationPolicy::with_subsets(
        svc(),
        ["v1", "v2"].map(|v| Subset::for_version(Version::new(v).unwrap())),
    );
    policy.load_balancer = Some(LoadBalancer::Maglev);
    vec![
        Change::RegisterService(def),
        Change::CreateDestinationRule(policy),
        Change::CreateVirtualService(ServiceRoutes {
            service: svc(),
            rules: vec![
                RouteRule {
                    matches: vec![RequestMatch {
                        path: Some(PathMatch::Exact("/login".into())),
                        method: Some(HttpMethod::Post),
                        query: vec![mesh_core::QueryMatch {
                            name: "beta".into(),
                            value: mesh_core::StringMatch::Prefix("y.".into()),
                        }],
                        ..RequestMatch::default()
                    }],
                    ..RouteRule::to(TrafficSplit::try_from_pairs([("v2", 100)]).unwrap())
                },
                RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap()),
            ],
        }),
        Change::SetTrafficWeight {
            service: svc(),
            split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
        },
        Change::ConfigureCircuitBreaker {
            service: svc(),
            circuit_breaker: CircuitBreaker {
                max_connections: Some(100),
                timeout: Some(Duration::from_millis(250)),
                consecutive_errors: Some(5),
                max_ejection_percent: Some(Percent::new(50.0).unwrap()),
                ..CircuitBreaker::default()
            },
            callers: vec!["productpage".parse().unwrap()],
        },
        Change::SetRetryPolicy {
            service: svc(),
            policy: RetryPolicy {
                attempts: 3,
                per_try_timeout: None,
                retry_on: vec![RetryOn::ConnectFailure, RetryOn::ServerError],
                retry_on_status: vec![503],
                overall_timeout: Some(Duration::from_secs(10)),
            },
        },
        Change::EnableMtls {
            namespace: "default".parse().unwrap(),
        },
        Change::CreateAuthorizationPolicy(AuthorizationPolicy {
            name: "reviews-readers".parse().unwrap(),
            namespace: "default".parse().unwrap(),
            target: Some("reviews".parse().unwrap()),
            action: AuthzAction::Allow,
            rules: vec![AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["default/productpage".parse().unwrap()],
                    ..Default::default()
                }],
                to: vec![AuthzTarget {
                    methods: vec![HttpMethod::Get],
                    paths: vec!["/reviews*".into(), "*.json".into()],
                    ports: vec![],
                }],
            }],
        }),
        Change::InjectFault {
            service: svc(),
            fault: Fault::Abort {
                percent: Percent::new(5.0).unwrap(),
                http_status: HttpStatus::new(503).unwrap(),
            },
        },
    ]
}

/// No unknown field anywhere at the top level of an entry, and an exact round trip.
fn check_entry_body(body: &Value) {
    let entry: ConfigEntry = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&entry).unwrap(), *body);
    let extra = match &entry {
        ConfigEntry::ServiceDefaults(e) => e.extra.len(),
        ConfigEntry::ProxyDefaults(e) => e.extra.len(),
        ConfigEntry::Mesh(e) => e.extra.len(),
        ConfigEntry::ServiceResolver(e) => e.extra.len(),
        ConfigEntry::ServiceSplitter(e) => e.extra.len(),
        ConfigEntry::ServiceRouter(e) => {
            e.extra.len() + e.routes.iter().flatten().map(|r| r.extra.len()).sum::<usize>()
        }
        ConfigEntry::ServiceIntentions(e) => {
            e.extra.len() + e.sources.iter().map(|s| s.extra.len()).sum::<usize>()
        }
    };
    assert_eq!(extra, 0, "every emitted field is modelled: {body}");
    assert!(
        body.get("ModifyIndex").is_none() && body.get("Namespace").is_none(),
        "{body}"
    );
}

#[test]
fn every_emitted_body_round_trips_through_the_models() {
    for version in [ConsulVersion::ce(1, 18, 0), ConsulVersion::enterprise(1, 18, 0)] {
        let ctx = Context {
            lua_fault_emulation: true,
            ..Context::new(version)
        };
        for change in examples() {
            let p = plan(&change, &ctx, &Snapshot::default())
                .unwrap_or_else(|e| panic!("{}: {e}", change.operation()));
            assert!(!p.writes.is_empty(), "{}", change.operation());
            p.check_safe_prefixes().unwrap();
            for w in &p.writes {
                assert_eq!(w.target.api_version, "consul/v1");
                let body = w.body.as_ref().unwrap();
                if w.target.kind == "agent-service" {
                    let reg: AgentServiceRegistration = serde_json::from_value(body.clone()).unwrap();
                    assert!(reg.extra.is_empty());
                    assert_eq!(serde_json::to_value(&reg).unwrap(), *body);
                } else {
                    assert_eq!(w.action, WriteAction::Create, "fresh control plane: create-only");
                    check_entry_body(body);
                }
            }
            let rendered = render(&p);
            assert_eq!(rendered.files.len(), p.writes.len());
            assert_eq!(
                rendered.script.lines().count(),
                4 + p.writes.len(),
                "header, set -eu, cd, then one line per write"
            );
        }
    }
}

/// Consul's `ring_hash` and `maglev` pick at random without a hash policy: they hash on the
/// caller's address, as Istio's consistent hash does; other policies carry none.
#[test]
fn hashing_balancers_hash_on_the_source_ip() {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    for (lb, hashes) in [
        (LoadBalancer::RingHash, true),
        (LoadBalancer::Maglev, true),
        (LoadBalancer::LeastRequest, false),
    ] {
        let mut policy =
            DestinationPolicy::with_subsets(svc(), [Subset::for_version(Version::new("v1").unwrap())]);
        policy.load_balancer = Some(lb);
        let p = plan(&Change::CreateDestinationRule(policy), &ctx, &Snapshot::default()).unwrap();
        let resolver = p
            .writes
            .iter()
            .find(|w| w.target.kind == "service-resolver")
            .unwrap();
        let balancer = &resolver.body.as_ref().unwrap()["LoadBalancer"];
        let expected = hashes.then(|| serde_json::json!([{ "SourceIP": true }]));
        assert_eq!(
            balancer.get("HashPolicies").cloned(),
            expected,
            "{lb:?}: {balancer}"
        );
    }
}

#[test]
fn ordering_protocol_then_resolver_then_router_and_reverse_on_removal() {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    let vs = &examples()[2];
    let p = plan(vs, &ctx, &Snapshot::default()).unwrap();
    let kinds: Vec<&str> = p.writes.iter().map(|w| w.target.kind.as_str()).collect();
    assert_eq!(kinds, ["service-defaults", "service-resolver", "service-router"]);
    let router = p.writes[2].body.as_ref().unwrap();
    assert_eq!(
        router["Routes"][0]["Match"]["HTTP"]["QueryParam"][0]["Regex"],
        "^y\\..*"
    );
    // Reversing the plan is refused by the safety check.
    let mut reversed = p.clone();
    reversed.writes.reverse();
    assert!(reversed.check_safe_prefixes().is_err());

    // With everything in place, unregistering deletes in reverse.
    let mut snap = Snapshot::default();
    for w in &p.writes {
        let mut body = w.body.clone().unwrap();
        body["ModifyIndex"] = 7.into();
        snap.insert(None, ConfigEntry::from_json(body).unwrap());
    }
    snap.agent_services
        .insert("reviews".into(), vec!["reviews-v1".into()]);
    let un = plan(&Change::UnregisterService { service: svc() }, &ctx, &snap).unwrap();
    let steps: Vec<(WriteAction, &str)> = un
        .writes
        .iter()
        .map(|w| (w.action, w.target.kind.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            (WriteAction::Delete, "service-router"),
            (WriteAction::Delete, "service-resolver"),
            (WriteAction::Delete, "agent-service"),
        ]
    );
    assert_eq!(
        un.writes[0].precondition,
        Some(mesh_core::Precondition::Version("7".into()))
    );
}

#[test]
fn read_modify_write_keeps_unknown_fields() {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    let mut snap = Snapshot::default();
    let existing = serde_json::json!({"Kind": "service-splitter", "Name": "reviews", "ModifyIndex": 42, "Meta": {"owner": "me"},
        "Splits": [{"Weight": 100, "ServiceSubset": "v1"}], "FutureField": {"x": 1}});
    snap.insert(None, ConfigEntry::from_json(existing).unwrap());
    snap.insert(None, ConfigEntry::from_json(serde_json::json!({"Kind": "service-defaults", "Name": "reviews", "Protocol": "grpc", "ModifyIndex": 3})).unwrap());
    snap.insert(None, ConfigEntry::from_json(serde_json::json!({"Kind": "service-resolver", "Name": "reviews", "ModifyIndex": 4,
        "Subsets": {"v1": {"Filter": "Service.Meta.version == v1"}, "v2": {"Filter": "Service.Meta.version == v2"}}})).unwrap());
    let p = plan(&examples()[3], &ctx, &snap).unwrap();
    assert_eq!(p.writes.len(), 1, "protocol and subsets exist");
    let w = &p.writes[0];
    assert_eq!(
        w.precondition,
        Some(mesh_core::Precondition::Version("42".into()))
    );
    let body = w.body.as_ref().unwrap();
    assert_eq!(body["FutureField"], serde_json::json!({"x": 1}));
    assert_eq!(body["Meta"]["owner"], "me");
    assert_eq!(
        body["Splits"][1],
        serde_json::json!({"Weight": 10, "ServiceSubset": "v2"})
    );
    let key = EntryKey::new(mesh_consul::model::EntryKind::ServiceSplitter, None, "reviews");
    assert_eq!(mesh_consul::entry_key(&w.target), Some(key));
}

#[test]
fn query_prefix_becomes_an_anchored_regex_and_header_prefix_stays_a_prefix() {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    let change = Change::CreateVirtualService(ServiceRoutes {
        service: svc(),
        rules: vec![RouteRule {
            matches: vec![RequestMatch {
                headers: vec![mesh_core::HeaderMatch {
                    name: "x-user".into(),
                    value: mesh_core::StringMatch::Prefix("qa-".into()),
                }],
                ..RequestMatch::default()
            }],
            ..RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap())
        }],
    });
    let p = plan(&change, &ctx, &Snapshot::default()).unwrap();
    let router = p.writes.last().unwrap().body.as_ref().unwrap();
    assert_eq!(router["Routes"][0]["Match"]["HTTP"]["Header"][0]["Prefix"], "qa-");
}

#[test]
fn a_split_behind_a_catch_all_route_is_planned_with_a_warning() {
    let ctx = Context::new(ConsulVersion::ce(1, 18, 0));
    let mut snap = Snapshot::default();
    for body in [
        serde_json::json!({"Kind": "service-defaults", "Name": "reviews", "Protocol": "http", "ModifyIndex": 1}),
        serde_json::json!({"Kind": "service-resolver", "Name": "reviews", "ModifyIndex": 2,
            "Subsets": {"v1": {"Filter": "Service.Meta.version == \"v1\""}, "v2": {"Filter": "Service.Meta.version == \"v2\""}}}),
        serde_json::json!({"Kind": "service-router", "Name": "reviews", "ModifyIndex": 3,
            "Routes": [{"Match": {"HTTP": {"PathPrefix": "/"}}, "Destination": {"Service": "reviews", "ServiceSubset": "v1"}}]}),
    ] {
        snap.insert(None, ConfigEntry::from_json(body).unwrap());
    }
    let p = plan(&examples()[3], &ctx, &snap).unwrap();
    assert_eq!(p.writes.len(), 1);
    assert!(
        p.warnings.iter().any(|w| w.contains("before the splitter")),
        "{:?}",
        p.warnings
    );
    // The router keeps needing v1, which the plan keeps.
    assert!(p.baseline.in_use.iter().any(|(o, _)| o.kind == "service-router"));
}
