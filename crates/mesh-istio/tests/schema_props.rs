//! Property tests: for generated domain inputs, every object the backend emits validates against
//! the pinned Istio schema (structure and CEL rules) and converts losslessly to its kopium type
//! ([`mesh_kube::typed::round_trip`]), and every plan prefix is safe.

use crate::support;

use std::{collections::BTreeMap, time::Duration};

use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker,
    DestinationPolicy, Endpoint, Error, Fault, HeaderMatch, HttpMethod, HttpStatus, LoadBalancer, MeshKind,
    PathMatch, Percent, Port, Protocol, QueryMatch, RequestMatch, RetryOn, RetryPolicy, RouteRule,
    ServiceDefinition, ServiceId, ServiceRoutes, StringMatch, Subset, TrafficSplit, Version, VersionWeight,
};
use mesh_istio::{Config, Snapshot};
use mesh_kube::schema::SchemaSet;
use proptest::{collection::vec, option, prelude::*};

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}"
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just("v1"), Just("v2"), Just("v3"), Just("canary"), Just("stable")]
        .prop_map(|v| Version::new(v).unwrap())
}

fn duration() -> impl Strategy<Value = Duration> {
    (1u64..120_000).prop_map(Duration::from_millis)
}

fn percent() -> impl Strategy<Value = Percent> {
    (0.0f64..=100.0).prop_map(|p| Percent::new(p).unwrap())
}

fn split() -> impl Strategy<Value = TrafficSplit> {
    (
        proptest::sample::subsequence(vec!["v1", "v2", "v3", "canary"], 1..=4),
        0u8..=100,
    )
        .prop_map(|(vs, w)| {
            let mut left = 100u8;
            let n = vs.len();
            let weights = vs
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let weight = if i + 1 == n { left } else { w.min(left) / 2 };
                    left -= weight;
                    VersionWeight {
                        version: Version::new(*v).unwrap(),
                        weight,
                    }
                })
                .collect();
            TrafficSplit::new(weights).unwrap()
        })
}

fn string_match() -> impl Strategy<Value = StringMatch> {
    prop_oneof![
        "[a-z0-9]{1,8}".prop_map(StringMatch::Exact),
        "[a-z0-9]{1,8}".prop_map(StringMatch::Prefix),
        "[a-z]{1,4}\\.\\*".prop_map(StringMatch::Regex),
    ]
}

fn request_match() -> impl Strategy<Value = RequestMatch> {
    let path = option::of(prop_oneof![
        "/[a-z]{0,8}".prop_map(PathMatch::Exact),
        "/[a-z]{0,8}".prop_map(PathMatch::Prefix),
        "/[a-z]{1,4}/.*".prop_map(PathMatch::Regex),
    ]);
    let method = option::of(prop_oneof![
        Just(HttpMethod::Get),
        Just(HttpMethod::Post),
        Just(HttpMethod::Delete)
    ]);
    let headers = vec(
        ("x-[a-z]{1,6}", string_match()).prop_map(|(name, value)| HeaderMatch { name, value }),
        0..2,
    );
    let query = vec(
        ("[a-z]{1,6}", string_match()).prop_map(|(name, value)| QueryMatch { name, value }),
        0..2,
    );
    (path, method, headers, query).prop_map(|(path, method, headers, query)| RequestMatch {
        path,
        headers,
        method,
        query,
    })
}

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    let on = proptest::sample::subsequence(
        vec![
            RetryOn::ServerError,
            RetryOn::GatewayError,
            RetryOn::ConnectFailure,
            RetryOn::RefusedStream,
            RetryOn::Unavailable,
        ],
        1..=3,
    );
    (
        0u32..10,
        option::of(duration()),
        on,
        vec(500u16..=504, 0..2),
        option::of(duration()),
    )
        .prop_map(
            |(attempts, per_try_timeout, retry_on, retry_on_status, overall)| RetryPolicy {
                attempts,
                per_try_timeout,
                retry_on,
                retry_on_status,
                // The overall timeout must not be shorter than a try.
                overall_timeout: overall.map(|o| o.max(per_try_timeout.unwrap_or_default())),
            },
        )
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        (percent(), duration()).prop_map(|(percent, duration)| Fault::Delay { percent, duration }),
        (percent(), 200u16..=599).prop_map(|(percent, s)| Fault::Abort {
            percent,
            http_status: HttpStatus::new(s).unwrap()
        }),
    ]
}

fn rule() -> impl Strategy<Value = RouteRule> {
    (
        option::of(label()),
        vec(request_match(), 0..3),
        split(),
        option::of(duration()),
        option::of(retry_policy()),
    )
        .prop_map(|(name, matches, destinations, timeout, retries)| RouteRule {
            name: name.map(|n| n.parse().unwrap()),
            matches,
            destinations,
            timeout,
            retries,
            fault: None,
        })
}

fn circuit_breaker() -> impl Strategy<Value = CircuitBreaker> {
    let count = || option::of(1u32..=i32::MAX as u32);
    (
        count(),
        option::of(duration()),
        option::of(0u32..1000),
        count(),
        option::of(duration()),
        option::of(duration()),
        option::of(percent()),
    )
        .prop_map(
            |(
                max_connections,
                timeout,
                max_retries,
                consecutive_errors,
                interval,
                base_ejection_time,
                max_ejection_percent,
            )| {
                CircuitBreaker {
                    max_connections,
                    timeout,
                    max_retries,
                    consecutive_errors,
                    interval,
                    base_ejection_time,
                    max_ejection_percent,
                }
            },
        )
}

fn authz(ns: String) -> impl Strategy<Value = AuthorizationPolicy> {
    let source = (vec((label(), label()), 0..3), vec(label(), 0..3)).prop_map(|(p, n)| AuthzSource {
        principals: p
            .into_iter()
            .map(|(a, b)| format!("{a}/{b}").parse().unwrap())
            .collect(),
        namespaces: n.into_iter().map(|n| n.parse().unwrap()).collect(),
    });
    let path = prop_oneof![
        Just("*".to_owned()),
        "/[a-z]{0,8}",
        "/[a-z]{1,8}/\\*",
        "\\*/[a-z]{1,8}"
    ];
    let target = (
        vec(Just(HttpMethod::Get), 0..2),
        vec(path, 0..3),
        vec(1u16..=65535, 0..3),
    )
        .prop_map(|(m, paths, ports)| AuthzTarget {
            methods: m,
            paths,
            ports: ports.into_iter().map(|p| Port::new(p).unwrap()).collect(),
        });
    let rule = (vec(source, 0..2), vec(target, 0..2)).prop_map(|(from, to)| AuthzRule { from, to });
    (label(), option::of(label()), any::<bool>(), vec(rule, 0..3)).prop_map(
        move |(name, target, allow, rules)| AuthorizationPolicy {
            name: name.parse().unwrap(),
            namespace: ns.parse().unwrap(),
            target: target.map(|t| t.parse().unwrap()),
            action: if allow {
                AuthzAction::Allow
            } else {
                AuthzAction::Deny
            },
            rules,
        },
    )
}

fn registration(svc: ServiceId) -> impl Strategy<Value = ServiceDefinition> {
    let endpoint = (
        (1u8..=254, 0u8..=254),
        1u16..=65535,
        vec(("[a-z]{1,5}", "[a-z0-9]{0,5}"), 0..2),
    )
        .prop_map(|((a, b), port, labels)| Endpoint {
            address: format!("10.{a}.{b}.1"),
            port: Port::new(port).unwrap(),
            labels: labels.into_iter().collect::<BTreeMap<_, _>>(),
        });
    let protocol = prop_oneof![
        Just(Protocol::Http),
        Just(Protocol::Http2),
        Just(Protocol::Grpc),
        Just(Protocol::Tcp)
    ];
    (1u16..=65535, protocol, option::of(version()), vec(endpoint, 0..4)).prop_map(
        move |(port, protocol, version, endpoints)| {
            let mut def = ServiceDefinition::builder(svc.name.as_str(), svc.namespace.as_str(), port)
                .unwrap()
                .protocol(protocol);
            def.version = version;
            def.endpoints = endpoints;
            def.endpoints
                .dedup_by(|a, b| a.address == b.address && a.port == b.port);
            def
        },
    )
}

fn change(svc: ServiceId) -> impl Strategy<Value = Change> {
    let s = svc.clone();
    prop_oneof![
        split().prop_map({
            let s = s.clone();
            move |split| Change::SetTrafficWeight {
                service: s.clone(),
                split,
            }
        }),
        vec(rule(), 1..4).prop_map({
            let s = s.clone();
            move |rules| {
                Change::CreateVirtualService(ServiceRoutes {
                    service: s.clone(),
                    rules,
                })
            }
        }),
        (
            vec(version(), 0..3),
            option::of(prop_oneof![
                Just(LoadBalancer::RoundRobin),
                Just(LoadBalancer::LeastRequest),
                Just(LoadBalancer::Random),
                Just(LoadBalancer::RingHash),
                Just(LoadBalancer::Maglev)
            ])
        )
            .prop_map({
                let s = s.clone();
                move |(vs, lb)| {
                    let mut vs = vs;
                    vs.sort();
                    vs.dedup();
                    let mut p =
                        DestinationPolicy::with_subsets(s.clone(), vs.into_iter().map(Subset::for_version));
                    p.load_balancer = lb;
                    Change::CreateDestinationRule(p)
                }
            }),
        circuit_breaker().prop_map({
            let s = s.clone();
            move |cb| Change::ConfigureCircuitBreaker {
                service: s.clone(),
                circuit_breaker: cb,
                callers: vec![],
            }
        }),
        retry_policy().prop_map({
            let s = s.clone();
            move |policy| Change::SetRetryPolicy {
                service: s.clone(),
                policy,
            }
        }),
        fault().prop_map({
            let s = s.clone();
            move |fault| Change::InjectFault {
                service: s.clone(),
                fault,
            }
        }),
        fault().prop_map({
            let s = s.clone();
            move |f| Change::RemoveFault {
                fault_id: mesh_core::FaultId::new(MeshKind::Istio, s.clone(), f.fingerprint()).unwrap(),
            }
        }),
        Just(Change::EnableMtls {
            namespace: s.namespace.clone()
        }),
        authz(s.namespace.to_string()).prop_map(Change::CreateAuthorizationPolicy),
        registration(s.clone()).prop_map(Change::RegisterService),
        Just(Change::UnregisterService { service: s }),
    ]
}

fn scenario() -> impl Strategy<Value = Vec<Change>> {
    (label(), label()).prop_flat_map(|(ns, name)| {
        let svc: ServiceId = format!("{ns}/{name}").parse().unwrap();
        vec(change(svc), 1..8)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_emitted_object_validates_and_every_prefix_is_safe(changes in scenario()) {
        let mut snap = Snapshot::default();
        for change in &changes {
            let plan = match mesh_istio::plan(change, &snap, &Config::default()) {
                Ok(plan) => plan,
                // Inputs the core rejects, and removals of what is not there, plan nothing.
                Err(Error::InvalidInput { .. } | Error::NotFound { .. }) => continue,
                Err(e) => return Err(TestCaseError::fail(format!("{}: {e}", change.operation()))),
            };
            for w in &plan.writes {
                if let Some(body) = &w.body
                    && let Err(v) = SchemaSet::bundled().validate(body)
                {
                    let op = change.operation();
                    return Err(TestCaseError::fail(format!("{} from {op}: {v:#?}\n{body:#}", w.target)));
                }
                if let Some(obj) = mesh_kube::object_for(w)
                    && let Err(e) = mesh_kube::typed::round_trip(&obj)
                {
                    return Err(TestCaseError::fail(format!("{} from {}: {e}\n{obj:#}", w.target, change.operation())));
                }
            }
            plan.check_safe_prefixes().map_err(|e| TestCaseError::fail(e.to_string()))?;
            mesh_istio::testing::check_subset_references(&snap, &plan).map_err(TestCaseError::fail)?;
            snap.apply(&plan).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Convergence: the same change planned again writes nothing (for the read-modify-write kinds).
            let read_modify_write = matches!(
                change,
                Change::SetTrafficWeight { .. }
                    | Change::ConfigureCircuitBreaker { .. }
                    | Change::SetRetryPolicy { .. }
                    | Change::InjectFault { .. }
            );
            if read_modify_write {
                let again = mesh_istio::plan(change, &snap, &Config::default()).unwrap();
                prop_assert!(again.is_noop(), "{} did not converge: {:?}", change.operation(), again.targets());
            }
        }
    }
}

#[test]
fn the_validator_rejects_what_istio_rejects() {
    // Guards against a vacuous schema check: a broken body must fail.
    let mut snap = Snapshot::default();
    let plan = support::run(&mut snap, &support::latency_fault());
    let mut body = plan.writes.last().unwrap().body.clone().unwrap();
    body["spec"]["http"][0]["fault"]["delay"]["fixedDelay"] = serde_json::json!("0.5ms");
    assert!(SchemaSet::bundled().validate(&body).is_err());
    body["spec"]["http"][0]["fault"]["delay"]["fixedDelay"] = serde_json::json!("3s");
    body["spec"]["http"][0]["route"][0]["weight"] = serde_json::json!("ninety");
    assert!(SchemaSet::bundled().validate(&body).is_err());
}
