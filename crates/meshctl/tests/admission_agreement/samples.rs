//! The property-test samples of the admission agreement: changes drawn from proptest strategies
//! with a fixed seed (the same samples on every run and machine), over every `Change` variant and
//! the input space the backends' own property tests cover (mesh-istio's `schema_props`,
//! mesh-linkerd's `proptest`), somewhat wider: every retry condition and HTTP method, callers on
//! breakers, faults on route rules. A change the planner refuses is counted, not rendered.

use std::{collections::BTreeMap, time::Duration};

use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker,
    DestinationPolicy, Endpoint, Fault, FaultId, HeaderMatch, HttpMethod, HttpStatus, LoadBalancer, MeshKind,
    PathMatch, Percent, Port, Protocol, QueryMatch, RequestMatch, RetryOn, RetryPolicy, RouteRule,
    ServiceDefinition, ServiceId, ServiceRoutes, StringMatch, Subset, TrafficSplit, Version, VersionWeight,
};
use proptest::{
    collection::vec,
    option,
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, RngAlgorithm, TestRng, TestRunner},
};

/// The seed of the sample draw; changing it changes every sample.
const SEED: [u8; 32] = *b"mesh admission agreement samples";

/// `count` changes with the namespace each lives in, the same ones on every run.
pub(crate) fn draw(count: usize) -> Vec<(String, Change)> {
    let mut runner =
        TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let strategy = sample();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("a sample").current())
        .collect()
}

/// The namespaces samples live in start with `ns-`, which no generated name can (names have no
/// `-`): [`in_namespace`] can move a change to another namespace by rewriting strings.
fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ns-shop".to_owned()),
        Just("ns-prod".to_owned()),
        "[a-z][a-z0-9]{0,5}".prop_map(|s| format!("ns-{s}")),
    ]
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}"
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just("v1"), Just("v2"), Just("v3"), Just("canary"), Just("stable")]
        .prop_map(|v| Version::new(v).unwrap())
}

fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..120_000).prop_map(Duration::from_millis),
        (1u64..3_600).prop_map(Duration::from_secs),
    ]
}

fn percent() -> impl Strategy<Value = Percent> {
    prop_oneof![
        Just(0.0f64),
        Just(100.0f64),
        0.0f64..=100.0,
        (0u8..=100).prop_map(f64::from),
    ]
    .prop_map(|p| Percent::new(p).unwrap())
}

fn split() -> impl Strategy<Value = TrafficSplit> {
    (
        proptest::sample::subsequence(vec!["v1", "v2", "v3", "canary"], 1..=4),
        vec(0u8..=100, 4),
    )
        .prop_map(|(versions, raw)| {
            let mut left = 100u8;
            let n = versions.len();
            let weights = versions
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let weight = if i + 1 == n { left } else { raw[i].min(left) };
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
        "[a-z0-9.*]{1,8}".prop_map(StringMatch::Prefix),
        "[a-z]{1,4}\\.\\*".prop_map(StringMatch::Regex),
    ]
}

fn method() -> impl Strategy<Value = HttpMethod> {
    prop_oneof![
        Just(HttpMethod::Get),
        Just(HttpMethod::Head),
        Just(HttpMethod::Post),
        Just(HttpMethod::Put),
        Just(HttpMethod::Delete),
        Just(HttpMethod::Connect),
        Just(HttpMethod::Options),
        Just(HttpMethod::Trace),
        Just(HttpMethod::Patch),
    ]
}

fn request_match() -> impl Strategy<Value = RequestMatch> {
    let path = option::of(prop_oneof![
        "/[a-z]{0,8}".prop_map(PathMatch::Exact),
        "/[a-z]{0,8}".prop_map(PathMatch::Prefix),
        "/[a-z]{1,4}/.*".prop_map(PathMatch::Regex),
    ]);
    let headers = vec(
        ("x-[a-z]{1,6}", string_match()).prop_map(|(name, value)| HeaderMatch { name, value }),
        0..3,
    );
    let query = vec(
        ("[a-z]{1,6}", string_match()).prop_map(|(name, value)| QueryMatch { name, value }),
        0..2,
    );
    (path, option::of(method()), headers, query).prop_map(|(path, method, headers, query)| RequestMatch {
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
            RetryOn::Reset,
            RetryOn::ConnectFailure,
            RetryOn::RefusedStream,
            RetryOn::Retriable4xx,
            RetryOn::Cancelled,
            RetryOn::DeadlineExceeded,
            RetryOn::Unavailable,
            RetryOn::ResourceExhausted,
            RetryOn::Internal,
        ],
        0..=4,
    );
    (
        0u32..12,
        option::of(duration()),
        on,
        proptest::sample::subsequence(vec![404u16, 429, 500, 502, 503, 504], 0..=2),
        option::of(duration()),
    )
        .prop_map(
            |(attempts, per_try_timeout, retry_on, retry_on_status, overall)| RetryPolicy {
                attempts,
                per_try_timeout,
                retry_on,
                retry_on_status,
                overall_timeout: overall,
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
        prop_oneof![3 => Just(None), 1 => fault().prop_map(Some)],
    )
        .prop_map(
            |(name, matches, destinations, timeout, retries, fault)| RouteRule {
                name: name.map(|n| n.parse().unwrap()),
                matches,
                destinations,
                timeout,
                retries,
                fault,
            },
        )
}

fn circuit_breaker() -> impl Strategy<Value = CircuitBreaker> {
    let count = || option::of(prop_oneof![1u32..100, 1u32..=i32::MAX as u32]);
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
            )| CircuitBreaker {
                max_connections,
                timeout,
                max_retries,
                consecutive_errors,
                interval,
                base_ejection_time,
                max_ejection_percent,
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
    let target = (vec(method(), 0..3), vec(path, 0..3), vec(1u16..=65535, 0..3)).prop_map(
        |(methods, paths, ports)| AuthzTarget {
            methods,
            paths,
            ports: ports.into_iter().map(|p| Port::new(p).unwrap()).collect(),
        },
    );
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
    let s = svc;
    let load_balancer = option::of(prop_oneof![
        Just(LoadBalancer::RoundRobin),
        Just(LoadBalancer::LeastRequest),
        Just(LoadBalancer::Random),
        Just(LoadBalancer::RingHash),
        Just(LoadBalancer::Maglev)
    ]);
    let service = s.clone();
    let weights = split().prop_map(move |split| Change::SetTrafficWeight {
        service: service.clone(),
        split,
    });
    let service = s.clone();
    let routes = vec(rule(), 1..4).prop_map(move |rules| {
        Change::CreateVirtualService(ServiceRoutes {
            service: service.clone(),
            rules,
        })
    });
    let service = s.clone();
    let destination = (vec(version(), 0..3), load_balancer, option::of(circuit_breaker())).prop_map(
        move |(mut versions, lb, cb)| {
            versions.sort();
            versions.dedup();
            let mut p = DestinationPolicy::with_subsets(
                service.clone(),
                versions.into_iter().map(Subset::for_version),
            );
            p.load_balancer = lb;
            if let Some(cb) = cb {
                p.connection_pool = Some(cb.connection_pool());
                p.outlier_detection = Some(cb.outlier_detection());
            }
            Change::CreateDestinationRule(p)
        },
    );
    let service = s.clone();
    let breaker = (circuit_breaker(), vec(label(), 0..3)).prop_map(move |(cb, callers)| {
        Change::ConfigureCircuitBreaker {
            service: service.clone(),
            circuit_breaker: cb,
            callers: callers.into_iter().map(|c| c.parse().unwrap()).collect(),
        }
    });
    let service = s.clone();
    let retries = retry_policy().prop_map(move |policy| Change::SetRetryPolicy {
        service: service.clone(),
        policy,
    });
    let service = s.clone();
    let inject = fault().prop_map(move |fault| Change::InjectFault {
        service: service.clone(),
        fault,
    });
    let service = s.clone();
    let remove = fault().prop_map(move |f| Change::RemoveFault {
        fault_id: FaultId::new(MeshKind::Istio, service.clone(), f.fingerprint()).unwrap(),
    });
    prop_oneof![
        2 => weights,
        3 => routes,
        2 => destination,
        2 => breaker,
        2 => retries,
        2 => inject,
        1 => remove,
        1 => Just(Change::EnableMtls {
            namespace: s.namespace.clone()
        }),
        2 => authz(s.namespace.to_string()).prop_map(Change::CreateAuthorizationPolicy),
        1 => registration(s.clone()).prop_map(Change::RegisterService),
        1 => Just(Change::UnregisterService { service: s }),
    ]
}

fn sample() -> impl Strategy<Value = (String, Change)> {
    (namespace(), label())
        .prop_flat_map(|(ns, name)| (Just(ns.clone()), change(format!("{ns}/{name}").parse().unwrap())))
}

/// The change moved from namespace `from` to `to` (what `meshctl --consul-crds` plans on Consul
/// CE, where only `default` exists): every string that is `from`, or starts with it and a `/`,
/// is rewritten. Sample namespaces start with `ns-`, which no generated name can.
pub(crate) fn in_namespace(change: &Change, from: &str, to: &str) -> Change {
    fn rewrite(v: &mut serde_json::Value, from: &str, to: &str) {
        match v {
            serde_json::Value::String(s) => {
                if s == from {
                    *s = to.to_owned();
                } else if let Some(rest) = s.strip_prefix(&format!("{from}/")) {
                    *s = format!("{to}/{rest}");
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| rewrite(i, from, to)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| rewrite(i, from, to)),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(change).unwrap();
    rewrite(&mut json, from, to);
    serde_json::from_value(json).unwrap()
}
