//! Property: whatever sequence of library operations runs on a host, every route the user wrote
//! survives unchanged and in its order, and removing every fault leaves no marker route.

use crate::support;

use std::time::Duration;

use mesh_core::{
    Change, Fault, HttpStatus, MeshKind, Percent, RetryOn, RetryPolicy, RouteRule, ServiceRoutes,
    TrafficSplit,
};
use mesh_istio::{Config, Snapshot, objects};
use proptest::prelude::*;
use serde_json::{Value, json};

fn user_route(i: usize, named: bool, catch_all: bool) -> Value {
    let mut r = json!({ "route": [{ "destination": { "host": "reviews", "subset": "v1" } }] });
    if named {
        r["name"] = json!(format!("user-{i}"));
    }
    if !catch_all {
        r["match"] = json!([{ "headers": { "x-user": { "exact": format!("u{i}") } } }]);
    }
    r
}

#[derive(Debug, Clone)]
enum Op {
    Split(u8),
    Retries(u32),
    Fault(u16),
    RemoveFault(u16),
    Routes(bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..=100).prop_map(Op::Split),
        (0u32..5).prop_map(Op::Retries),
        (500u16..504).prop_map(Op::Fault),
        (500u16..504).prop_map(Op::RemoveFault),
        any::<bool>().prop_map(Op::Routes),
    ]
}

fn abort(code: u16) -> Fault {
    Fault::Abort {
        percent: Percent::new(10.0).unwrap(),
        http_status: HttpStatus::new(code).unwrap(),
    }
}

fn change(op: &Op) -> Change {
    let service = "bookinfo/reviews".parse().unwrap();
    match op {
        Op::Split(w) => Change::SetTrafficWeight {
            service,
            split: TrafficSplit::try_from_pairs([("v1", *w), ("v2", 100 - *w)]).unwrap(),
        },
        Op::Retries(attempts) => Change::SetRetryPolicy {
            service,
            policy: RetryPolicy {
                attempts: *attempts,
                per_try_timeout: Some(Duration::from_millis(500)),
                retry_on: vec![RetryOn::ConnectFailure],
                retry_on_status: vec![],
                overall_timeout: None,
            },
        },
        Op::Fault(code) => Change::InjectFault {
            service,
            fault: abort(*code),
        },
        Op::RemoveFault(code) => Change::RemoveFault {
            fault_id: mesh_core::FaultId::new(MeshKind::Istio, service, abort(*code).fingerprint()).unwrap(),
        },
        Op::Routes(with_match) => {
            let mut rule = RouteRule::to(TrafficSplit::try_from_pairs([("v3", 100)]).unwrap());
            if *with_match {
                rule.matches = vec![mesh_core::RequestMatch {
                    path: Some(mesh_core::PathMatch::Prefix("/beta".into())),
                    ..Default::default()
                }];
            }
            Change::CreateVirtualService(ServiceRoutes {
                service,
                rules: vec![rule],
            })
        }
    }
}

proptest! {
    #[test]
    fn user_routes_survive_every_operation(
        users in proptest::collection::vec((any::<bool>(), any::<bool>()), 0..5),
        ops in proptest::collection::vec(op(), 1..12),
    ) {
        let svc = "bookinfo/reviews".parse().unwrap();
        let written: Vec<Value> = users.iter().enumerate().map(|(i, (n, c))| user_route(i, *n, *c)).collect();
        let mut snap = Snapshot::default();
        snap.insert(objects::destination_rule(&svc), json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "resourceVersion": "1"},
            "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}
        }));
        snap.insert(objects::virtual_service(&svc), json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "resourceVersion": "2"},
            "spec": {"hosts": ["reviews"], "http": written}
        }));
        for op in &ops {
            let plan = match mesh_istio::plan(&change(op), &snap, &Config::default()) {
                Ok(plan) => plan,
                Err(mesh_core::Error::NotFound { .. }) => continue, // removing a fault that is not there
                Err(e) => return Err(TestCaseError::fail(format!("{op:?}: {e}"))),
            };
            support::assert_safe(&snap, &plan);
            snap.apply(&plan).unwrap();
            let http = support::http_routes(snap.get(&objects::virtual_service(&svc)).unwrap());
            let kept: Vec<Value> = http
                .iter()
                .filter(|r| !r["name"].as_str().is_some_and(objects::is_owned_route))
                .cloned()
                .collect();
            prop_assert_eq!(&kept, &written, "after {:?}", op);
        }
        // Removing every fault leaves no marker route.
        for code in 500u16..504 {
            let _ = support::run_if_found(&mut snap, &change(&Op::RemoveFault(code)));
        }
        let http = support::http_routes(snap.get(&objects::virtual_service(&svc)).unwrap());
        prop_assert!(!http.iter().any(|r| r["name"].as_str().is_some_and(|n| n.starts_with("mesh-fault-"))));
    }
}
