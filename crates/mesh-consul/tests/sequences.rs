//! Property: any sequence of routing changes, run against the Consul double, leaves every
//! discovery chain valid after each step, refuses (with a typed error, writing nothing) what would
//! break one, and converges.

use crate::support;

use mesh_core::{
    Change, DestinationPolicy, Error, MeshBackend, RouteRule, ServiceRoutes, Subset, TrafficSplit, Version,
};
use proptest::prelude::*;
use support::{ce, reviews, writes};

const VERSIONS: [&str; 4] = ["v1", "v2", "v3", "v4"];

fn split_strategy() -> impl Strategy<Value = TrafficSplit> {
    (proptest::sample::subsequence(VERSIONS.to_vec(), 1..=3), 0u8..=100).prop_map(|(versions, first)| {
        let pairs: Vec<(&str, u8)> = match versions.as_slice() {
            [one] => vec![(one, 100)],
            [a, rest @ ..] => {
                let mut pairs = vec![(*a, first)];
                let left = 100 - first;
                let n = u8::try_from(rest.len()).unwrap();
                for (i, v) in rest.iter().enumerate() {
                    let share = if i + 1 == rest.len() {
                        left - (left / n) * (n - 1)
                    } else {
                        left / n
                    };
                    pairs.push((v, share));
                }
                pairs
            }
            [] => unreachable!("at least one version"),
        };
        TrafficSplit::try_from_pairs(pairs).unwrap()
    })
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        split_strategy().prop_map(|split| Change::SetTrafficWeight {
            service: reviews(),
            split
        }),
        proptest::sample::subsequence(VERSIONS.to_vec(), 0..=4).prop_map(|vs| {
            Change::CreateDestinationRule(DestinationPolicy::with_subsets(
                reviews(),
                vs.into_iter()
                    .map(|v| Subset::for_version(Version::new(v).unwrap())),
            ))
        }),
        (proptest::sample::select(VERSIONS.to_vec()), split_strategy()).prop_map(|(canary, rest)| {
            let mut header = RouteRule::to(TrafficSplit::try_from_pairs([(canary, 100)]).unwrap());
            header.matches = vec![mesh_core::RequestMatch {
                headers: vec![mesh_core::HeaderMatch {
                    name: "x-canary".into(),
                    value: mesh_core::StringMatch::Exact("1".into()),
                }],
                ..Default::default()
            }];
            Change::CreateVirtualService(ServiceRoutes {
                service: reviews(),
                rules: vec![header, RouteRule::to(rest)],
            })
        }),
        Just(Change::UnregisterService { service: reviews() }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_step_keeps_the_chains_valid(changes in proptest::collection::vec(change_strategy(), 1..6)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (fake, backend) = support::start(ce()).await;
            for change in &changes {
                let before = writes(&fake).len();
                match backend.execute(change).await {
                    Ok(_) => {
                        let again = backend.plan(change).await;
                        if let Ok(p) = again {
                            assert!(p.writes.is_empty(), "{}: converges, got {:?}", change.operation(), p.targets());
                        }
                    }
                    // Refusals write nothing.
                    Err(Error::InvalidInput { .. } | Error::NotFound { .. }) => {
                        assert_eq!(writes(&fake).len(), before, "{}: a refusal wrote", change.operation());
                    }
                    Err(e) => panic!("{}: {e:?}", change.operation()),
                }
                fake.check_consistent().unwrap_or_else(|e| panic!("after {}: {e}", change.operation()));
            }
        });
    }
}
