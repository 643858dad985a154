//! Property test over generated inputs: whatever the backend emits, on any release and flavour,
//! validates against the pinned schemas, is safe at every prefix, and converges; whatever it
//! refuses is input the core rejects, or a feature the capability table does not call native.

use crate::support;

use std::time::Duration;

use mesh_core::*;
use mesh_linkerd::{HttpRouteFlavour, LinkerdVersion};
use proptest::prelude::*;
use support::*;

const VERSIONS: [&str; 4] = ["v1", "v2", "v3", "canary"];

fn split_strategy() -> impl Strategy<Value = TrafficSplit> {
    (1usize..=4, proptest::collection::vec(0u8..=100, 4)).prop_map(|(n, raw)| {
        let mut weights: Vec<u8> = raw[..n].to_vec();
        let sum: u32 = weights.iter().map(|w| u32::from(*w)).sum();
        if sum == 0 {
            weights[0] = 100;
        } else {
            let mut scaled: Vec<u8> = weights
                .iter()
                .map(|w| (u32::from(*w) * 100 / sum) as u8)
                .collect();
            let total: u32 = scaled.iter().map(|w| u32::from(*w)).sum();
            scaled[0] += (100 - total) as u8;
            weights = scaled;
        }
        let pairs: Vec<(&str, u8)> = VERSIONS[..n].iter().copied().zip(weights).collect();
        TrafficSplit::try_from_pairs(pairs).unwrap()
    })
}

fn string_match() -> impl Strategy<Value = StringMatch> {
    prop_oneof![
        "[a-z0-9]{1,8}".prop_map(StringMatch::Exact),
        "[a-z0-9.*]{1,8}".prop_map(StringMatch::Prefix),
        "[a-z]{1,4}\\.\\*".prop_map(StringMatch::Regex),
    ]
}

fn request_match() -> impl Strategy<Value = RequestMatch> {
    let path = prop_oneof![
        Just(None),
        "/[a-z]{0,6}".prop_map(|p| Some(PathMatch::Exact(p))),
        "/[a-z]{0,6}".prop_map(|p| Some(PathMatch::Prefix(p))),
        "/[a-z]{1,4}/\\.\\*".prop_map(|p| Some(PathMatch::Regex(p))),
    ];
    let method = prop_oneof![
        Just(None),
        Just(Some(HttpMethod::Get)),
        Just(Some(HttpMethod::Post))
    ];
    let headers = proptest::collection::vec(("x-[a-z]{1,6}", string_match()), 0..2);
    let query = proptest::collection::vec(("[a-z]{1,6}", string_match()), 0..2);
    (path, method, headers, query).prop_map(|(path, method, headers, query)| RequestMatch {
        path,
        method,
        headers: headers
            .into_iter()
            .map(|(name, value)| HeaderMatch { name, value })
            .collect(),
        query: query
            .into_iter()
            .map(|(name, value)| QueryMatch { name, value })
            .collect(),
    })
}

fn rule() -> impl Strategy<Value = RouteRule> {
    (
        proptest::collection::vec(request_match(), 0..3),
        split_strategy(),
        proptest::option::of(1u64..60_000),
    )
        .prop_map(|(matches, destinations, timeout)| RouteRule {
            name: None,
            matches,
            destinations,
            timeout: timeout.map(Duration::from_millis),
            retries: None,
            fault: None,
        })
}

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    let on = proptest::sample::subsequence(
        vec![
            RetryOn::ServerError,
            RetryOn::GatewayError,
            RetryOn::Retriable4xx,
            RetryOn::ConnectFailure,
            RetryOn::Unavailable,
        ],
        1..4,
    );
    (
        0u32..6,
        on,
        proptest::sample::subsequence(vec![429u16, 503], 0..2),
        proptest::option::of(1u64..5_000),
        5_000u64..60_000,
    )
        .prop_map(
            |(attempts, retry_on, retry_on_status, per_try, overall)| RetryPolicy {
                attempts,
                per_try_timeout: per_try.map(Duration::from_millis),
                retry_on,
                retry_on_status,
                overall_timeout: Some(Duration::from_millis(overall)),
            },
        )
}

fn breaker() -> impl Strategy<Value = CircuitBreaker> {
    (
        proptest::option::of(1u32..50),
        proptest::option::of(1u64..120_000),
        proptest::option::of(1u64..10_000),
    )
        .prop_filter("sets a field", |(c, b, t)| {
            c.is_some() || b.is_some() || t.is_some()
        })
        .prop_map(|(c, b, t)| CircuitBreaker {
            consecutive_errors: c,
            base_ejection_time: b.map(Duration::from_millis),
            timeout: t.map(Duration::from_millis),
            ..Default::default()
        })
}

fn authz_policy() -> impl Strategy<Value = AuthorizationPolicy> {
    let source = (
        proptest::sample::subsequence(vec!["prod/frontend", "staging/batch"], 0..3),
        proptest::sample::subsequence(vec!["prod", "ops"], 0..3),
    )
        .prop_map(|(p, n)| AuthzSource {
            principals: p.iter().map(|s| s.parse().unwrap()).collect(),
            namespaces: n.iter().map(|s| s.parse().unwrap()).collect(),
        });
    let target = (
        proptest::sample::subsequence(vec![HttpMethod::Get, HttpMethod::Post, HttpMethod::Delete], 0..3),
        proptest::sample::subsequence(
            vec![
                "/api/*".to_owned(),
                "*.json".to_owned(),
                "/health".to_owned(),
                "*".to_owned(),
            ],
            0..3,
        ),
        proptest::sample::subsequence(vec![80u16], 0..2),
    )
        .prop_map(|(methods, paths, ports)| AuthzTarget {
            methods,
            paths,
            ports: ports.into_iter().map(|p| Port::new(p).unwrap()).collect(),
        });
    let rule = (
        proptest::collection::vec(source, 0..3),
        proptest::collection::vec(target, 0..3),
    )
        .prop_map(|(from, to)| AuthzRule { from, to });
    (proptest::collection::vec(rule, 0..3), any::<bool>()).prop_map(|(rules, targeted)| AuthorizationPolicy {
        name: "generated".parse().unwrap(),
        namespace: "prod".parse().unwrap(),
        target: targeted.then(|| "api".parse().unwrap()),
        action: AuthzAction::Allow,
        rules,
    })
}

fn registration() -> impl Strategy<Value = ServiceDefinition> {
    let endpoint = prop_oneof![
        (1u8..=254, 1u8..=254).prop_map(|(a, b)| format!("10.0.{a}.{b}")),
        (1u16..=0xfffe).prop_map(|x| format!("fd00::{x:x}")),
    ];
    (
        "[a-z]{1,10}",
        proptest::option::of(proptest::sample::select(VERSIONS.to_vec())),
        proptest::collection::btree_set(endpoint, 0..3),
        proptest::sample::select(vec![
            Protocol::Http,
            Protocol::Http2,
            Protocol::Grpc,
            Protocol::Tcp,
        ]),
    )
        .prop_map(|(name, version, endpoints, protocol)| {
            let mut def = ServiceDefinition::builder(&name, "prod", 8080)
                .unwrap()
                .protocol(protocol);
            if let Some(v) = version {
                def = def.version(v).unwrap();
            }
            for e in endpoints {
                def.endpoints
                    .push(Endpoint::new(e, Port::new(8080).unwrap()).unwrap());
            }
            def
        })
}

fn destination_policy() -> impl Strategy<Value = DestinationPolicy> {
    let subset = (
        proptest::sample::select(VERSIONS.to_vec()),
        proptest::option::of("[a-z]{1,6}"),
    )
        .prop_map(|(v, track)| {
            let mut s = Subset::for_version(Version::new(v).unwrap());
            if let Some(t) = track {
                s.labels = [("track".to_owned(), t)].into();
            }
            s
        });
    (
        proptest::collection::vec(subset, 0..4),
        proptest::option::of(1u32..10),
    )
        .prop_map(|(subsets, consecutive)| {
            let mut seen = std::collections::BTreeSet::new();
            let subsets: Vec<Subset> = subsets
                .into_iter()
                .filter(|s| seen.insert(s.version.clone()))
                .collect();
            let mut p = DestinationPolicy::with_subsets(reviews(), subsets);
            p.outlier_detection = consecutive.map(|c| OutlierDetection {
                consecutive_errors: Some(c),
                ..Default::default()
            });
            p
        })
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        registration().prop_map(Change::RegisterService),
        destination_policy().prop_map(Change::CreateDestinationRule),
        split_strategy().prop_map(|split| Change::SetTrafficWeight {
            service: reviews(),
            split
        }),
        proptest::collection::vec(rule(), 1..4).prop_map(|rules| Change::CreateVirtualService(
            ServiceRoutes {
                service: reviews(),
                rules
            }
        )),
        breaker().prop_map(|circuit_breaker| Change::ConfigureCircuitBreaker {
            service: reviews(),
            circuit_breaker,
            callers: vec![]
        }),
        retry_policy().prop_map(|policy| Change::SetRetryPolicy {
            service: reviews(),
            policy
        }),
        authz_policy().prop_map(Change::CreateAuthorizationPolicy),
        (0.0f64..=100.0).prop_map(|p| Change::InjectFault {
            service: reviews(),
            fault: Fault::Abort {
                percent: Percent::new(p).unwrap(),
                http_status: HttpStatus::new(503).unwrap()
            },
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn emitted_objects_validate_and_converge(
        change in change(),
        version in proptest::sample::select(LinkerdVersion::ALL.to_vec()),
        gateway in any::<bool>(),
    ) {
        let flavour = if gateway { HttpRouteFlavour::GatewayApi } else { HttpRouteFlavour::Policy };
        let config = opted_in(version).http_route_flavour(flavour);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let snap = seeded();
            match plan(&snap, &change, &config) {
                Ok(p) => {
                    validate(&p, &snap, version);
                    p.check_safe_prefixes().unwrap();
                    let mut after = snap.clone();
                    after.apply(&p).unwrap();
                    let again = plan(&after, &change, &config).unwrap();
                    assert!(again.is_noop(), "re-plan writes {:#?}", again.writes);
                }
                Err(Error::InvalidInput { field, reason }) => {
                    assert!(change.validate().is_err() || reason.contains("at most"), "{field}: {reason}");
                }
                Err(Error::Unsupported { feature, reason, .. }) => {
                    let caps = mesh_linkerd::capabilities(version, &config);
                    // The one conditional refusal of a native feature: method and path rules on a
                    // namespace-wide policy, which has no Server to attach a route to.
                    let conditional = matches!(feature, Feature::AuthzMethods | Feature::AuthzPaths)
                        && reason.contains("needs a target Service or explicit ports");
                    assert!(conditional || !caps.support(feature).is_native(), "refused native {feature}: {reason}");
                }
                // Registering instances under a name the user's Service already has.
                Err(Error::AlreadyExists { .. }) if matches!(&change, Change::RegisterService(d) if ["reviews", "api", "error-injector"].contains(&d.name.as_str())) => {}
                Err(e) => panic!("{e}"),
            }
        });
    }
}
