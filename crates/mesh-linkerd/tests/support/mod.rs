//! Shared by the integration tests: a seeded cluster snapshot, a catalogue of changes, and the
//! schema check of every emitted object.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a part.

use std::time::Duration;

use mesh_core::*;
use mesh_kube::schema::SchemaSet;
use mesh_linkerd::{Config, HttpRouteFlavour, LinkerdVersion, Snapshot, objects};
use serde_json::{Value, json};

/// A cluster with the Services the examples build on.
pub fn seeded() -> Snapshot {
    let mut snap = Snapshot::default();
    for (name, port, target) in [
        ("reviews", 9080, 9080),
        ("api", 80, 8080),
        ("error-injector", 8080, 8080),
    ] {
        let id: ServiceId = format!("prod/{name}").parse().unwrap();
        snap.insert(
            objects::service(&id),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": { "name": name, "namespace": "prod", "resourceVersion": "1" },
                "spec": { "selector": { "app": name }, "ports": [{ "name": "http", "port": port, "targetPort": target, "protocol": "TCP" }] },
            }),
        );
    }
    snap.insert(
        objects::namespace("prod"),
        json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "prod" } }),
    );
    snap
}

pub fn reviews() -> ServiceId {
    "prod/reviews".parse().unwrap()
}

pub fn split(pairs: &[(&str, u8)]) -> Change {
    Change::SetTrafficWeight {
        service: reviews(),
        split: TrafficSplit::try_from_pairs(pairs.iter().copied()).unwrap(),
    }
}

pub fn canary() -> Change {
    split(&[("v1", 90), ("v2", 10)])
}

pub fn breaker() -> Change {
    Change::ConfigureCircuitBreaker {
        service: reviews(),
        circuit_breaker: CircuitBreaker {
            consecutive_errors: Some(5),
            base_ejection_time: Some(Duration::from_secs(30)),
            ..Default::default()
        },
        callers: vec![],
    }
}

pub fn retries() -> Change {
    Change::SetRetryPolicy {
        service: reviews(),
        policy: RetryPolicy {
            attempts: 3,
            per_try_timeout: None,
            retry_on: vec![RetryOn::ServerError],
            retry_on_status: vec![429],
            overall_timeout: Some(Duration::from_secs(10)),
        },
    }
}

pub fn routes() -> Change {
    let header = RequestMatch {
        headers: vec![HeaderMatch {
            name: "end-user".into(),
            value: StringMatch::Exact("jason".into()),
        }],
        ..Default::default()
    };
    let prefix = RequestMatch {
        path: Some(PathMatch::Prefix("/api".into())),
        method: Some(HttpMethod::Get),
        query: vec![QueryMatch {
            name: "beta".into(),
            value: StringMatch::Prefix("y".into()),
        }],
        ..Default::default()
    };
    let mut first = RouteRule::to(TrafficSplit::try_from_pairs([("v2", 100)]).unwrap());
    first.matches = vec![header, prefix];
    first.timeout = Some(Duration::from_secs(3));
    Change::CreateVirtualService(ServiceRoutes {
        service: reviews(),
        rules: vec![
            first,
            RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap()),
        ],
    })
}

pub fn subsets() -> Change {
    Change::CreateDestinationRule(DestinationPolicy::with_subsets(
        reviews(),
        ["v1", "v2", "v3"].map(|v| Subset::for_version(Version::new(v).unwrap())),
    ))
}

pub fn mtls() -> Change {
    Change::EnableMtls {
        namespace: "prod".parse().unwrap(),
    }
}

pub fn authz() -> Change {
    Change::CreateAuthorizationPolicy(AuthorizationPolicy {
        name: "allow-frontend".parse().unwrap(),
        namespace: "prod".parse().unwrap(),
        target: Some("api".parse().unwrap()),
        action: AuthzAction::Allow,
        rules: vec![
            AuthzRule {
                from: vec![AuthzSource {
                    principals: vec!["prod/frontend".parse().unwrap()],
                    namespaces: vec!["staging".parse().unwrap()],
                }],
                to: vec![AuthzTarget {
                    methods: vec![HttpMethod::Get],
                    paths: vec!["/api/*".into(), "*.json".into()],
                    ports: vec![],
                }],
            },
            AuthzRule {
                from: vec![],
                to: vec![AuthzTarget {
                    ports: vec![Port::new(80).unwrap()],
                    ..Default::default()
                }],
            },
        ],
    })
}

pub fn abort() -> Change {
    Change::InjectFault {
        service: reviews(),
        fault: Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: HttpStatus::new(503).unwrap(),
        },
    }
}

pub fn delay() -> Change {
    Change::InjectFault {
        service: reviews(),
        fault: Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: Duration::from_secs(5),
        },
    }
}

pub fn register_vm() -> Change {
    let mut def = ServiceDefinition::builder("ratings", "prod", 9080)
        .unwrap()
        .version("v1")
        .unwrap();
    def.endpoints
        .push(Endpoint::new("10.0.0.5", Port::new(9080).unwrap()).unwrap());
    def.endpoints
        .push(Endpoint::new("fd00::7", Port::new(9080).unwrap()).unwrap());
    Change::RegisterService(def)
}

pub fn register_k8s() -> Change {
    Change::RegisterService(
        ServiceDefinition::builder("details", "prod", 9080)
            .unwrap()
            .protocol(Protocol::Grpc),
    )
}

/// `change`, one of the examples above (in `prod`), moved to namespace `ns`: the live suites work
/// in a namespace of their own.
pub fn in_namespace(change: &Change, ns: &str) -> Change {
    let text = serde_json::to_string(change)
        .unwrap()
        .replace("\"prod\"", &format!("\"{ns}\""))
        .replace("\"prod/", &format!("\"{ns}/"));
    serde_json::from_str(&text).unwrap()
}

/// A configuration with every opt-in on.
pub fn opted_in(version: LinkerdVersion) -> Config {
    Config::default()
        .version(version)
        .service_profile_retries(true)
        .fault_error_backend("error-injector", 8080)
}

/// Plans `change`, or panics with the error.
pub fn plan(snap: &Snapshot, change: &Change, config: &Config) -> Result<Plan> {
    mesh_linkerd::plan(change, snap, config, config.effective_version())
}

/// Checks every object the plan writes against the pinned schema of its kind (core `v1` kinds
/// have no CRD schema and are skipped). Status writes are checked merged into the object.
pub fn validate(plan: &Plan, snap: &Snapshot, version: LinkerdVersion) {
    let set = SchemaSet::bundled();
    let mut written: std::collections::BTreeMap<ObjectRef, Value> = Default::default();
    for w in &plan.writes {
        let Some(mut obj) = mesh_kube::object_for(w) else {
            continue;
        };
        if w.action == WriteAction::ApplyStatus {
            let mut base = written
                .get(&w.target)
                .or_else(|| snap.get(&w.target))
                .cloned()
                .unwrap_or_else(|| panic!("status write on unknown {}", w.target));
            base["status"] = obj["status"].clone();
            obj = base;
        }
        written.insert(w.target.clone(), obj.clone());
        if w.target.api_version == "v1" {
            continue;
        }
        let bundles: Vec<Option<&str>> = if w.target.api_version.starts_with("gateway.networking.k8s.io/") {
            let has_timeouts = obj["spec"]["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r.get("timeouts").is_some());
            let mut b = vec![
                Some("gateway-api-v1.6.1"),
                Some("linkerd-gateway-api-v1.1.1-experimental"),
            ];
            if !has_timeouts {
                b.push(Some("gateway-api-v1.1.1"));
            }
            b
        } else {
            vec![None]
        };
        for bundle in bundles {
            if let Err(v) = set.validate_with_bundle(&obj, bundle) {
                panic!(
                    "Linkerd {version}: {} ({bundle:?}) does not validate:\n{v:#?}\n{}",
                    w.target,
                    serde_json::to_string_pretty(&obj).unwrap()
                );
            }
        }
        // Where a kopium type exists for the version written, the object converts losslessly.
        // Status is left out: kopium types every `conditions` list as `metav1.Condition`, which
        // requires fields (`lastTransitionTime`) that Linkerd's ExternalWorkload schema does not.
        let mut spec_only = obj.clone();
        if let Some(map) = spec_only.as_object_mut() {
            map.remove("status");
        }
        match mesh_kube::typed::round_trip(&spec_only) {
            Ok(()) | Err(mesh_kube::typed::TypedMismatch::NoType { .. }) => {}
            Err(e) => panic!("Linkerd {version}: {}: {e}\n{obj:#}", w.target),
        }
    }
}

/// Every change of the catalogue that `config` can plan on a seeded cluster.
pub fn catalogue() -> Vec<(&'static str, Change)> {
    vec![
        ("register_k8s", register_k8s()),
        ("register_vm", register_vm()),
        ("subsets", subsets()),
        ("canary", canary()),
        ("routes", routes()),
        ("breaker", breaker()),
        ("retries", retries()),
        ("mtls", mtls()),
        ("authz", authz()),
        ("abort", abort()),
    ]
}

pub fn flavours() -> [HttpRouteFlavour; 2] {
    [HttpRouteFlavour::Policy, HttpRouteFlavour::GatewayApi]
}
