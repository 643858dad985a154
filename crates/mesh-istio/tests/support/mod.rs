//! Helpers shared by the mesh-istio test binaries.
#![allow(dead_code, unreachable_pub)] // Each test binary uses a different subset of the helpers.

use std::{collections::BTreeSet, time::Duration};

use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, AuthzTarget, Change, CircuitBreaker, Fault,
    HttpMethod, Percent, Plan, RetryOn, RetryPolicy, TrafficSplit,
};
use mesh_istio::{Config, Snapshot};
use serde_json::Value;

/// Plans `change` on `snapshot`, proves every prefix safe both ways, and applies it.
pub fn run(snapshot: &mut Snapshot, change: &Change) -> Plan {
    let plan = mesh_istio::plan(change, snapshot, &Config::default()).expect("plan");
    assert_safe(snapshot, &plan);
    snapshot.apply(&plan).expect("apply");
    plan
}

/// The `http[]` routes of a VirtualService.
pub fn http_routes(vs: &Value) -> Vec<Value> {
    vs["spec"]["http"].as_array().cloned().unwrap_or_default()
}

/// The names of a DestinationRule's subsets.
pub fn subset_names(dr: &Value) -> BTreeSet<String> {
    let subsets = dr["spec"]["subsets"].as_array().into_iter().flatten();
    subsets
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

/// Both safety proofs: the generic dependency check and Istio's subset-reference replay.
pub fn assert_safe(snapshot: &Snapshot, plan: &Plan) {
    plan.check_safe_prefixes().expect("safe prefixes (dependencies)");
    mesh_istio::testing::check_subset_references(snapshot, plan).expect("safe prefixes (subset references)");
}

pub fn canary() -> Change {
    Change::SetTrafficWeight {
        service: "bookinfo/reviews".parse().unwrap(),
        split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
    }
}

pub fn circuit_breaker() -> Change {
    Change::ConfigureCircuitBreaker {
        service: "bookinfo/reviews".parse().unwrap(),
        circuit_breaker: CircuitBreaker {
            max_connections: Some(100),
            timeout: Some(Duration::from_secs(3)),
            max_retries: Some(3),
            consecutive_errors: Some(5),
            interval: Some(Duration::from_secs(10)),
            base_ejection_time: Some(Duration::from_secs(30)),
            max_ejection_percent: Some(Percent::new(50.0).unwrap()),
        },
        callers: vec![],
    }
}

pub fn retries() -> Change {
    Change::SetRetryPolicy {
        service: "bookinfo/reviews".parse().unwrap(),
        policy: RetryPolicy {
            attempts: 3,
            per_try_timeout: Some(Duration::from_secs(2)),
            retry_on: vec![RetryOn::ConnectFailure, RetryOn::RefusedStream],
            retry_on_status: vec![503],
            overall_timeout: Some(Duration::from_secs(10)),
        },
    }
}

pub fn mtls() -> Change {
    Change::EnableMtls {
        namespace: "bookinfo".parse().unwrap(),
    }
}

pub fn authz() -> Change {
    Change::CreateAuthorizationPolicy(AuthorizationPolicy {
        name: "reviews-from-productpage".parse().unwrap(),
        namespace: "bookinfo".parse().unwrap(),
        target: Some("reviews".parse().unwrap()),
        action: AuthzAction::Allow,
        rules: vec![AuthzRule {
            from: vec![AuthzSource {
                principals: vec!["bookinfo/productpage".parse().unwrap()],
                namespaces: vec!["bookinfo".parse().unwrap()],
            }],
            to: vec![AuthzTarget {
                methods: vec![HttpMethod::Get],
                paths: vec!["/reviews/*".into()],
                ports: vec![mesh_core::Port::new(9080).unwrap()],
            }],
        }],
    })
}

pub fn latency_fault() -> Change {
    Change::InjectFault {
        service: "bookinfo/reviews".parse().unwrap(),
        fault: Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: Duration::from_secs(3),
        },
    }
}

/// A user-written route on the reviews VirtualService, as `kubectl apply` would store it.
pub fn user_route() -> serde_json::Value {
    serde_json::json!({
        "name": "jason-to-v3",
        "match": [{"headers": {"end-user": {"exact": "jason"}}}],
        "route": [{"destination": {"host": "reviews", "subset": "v3"}}]
    })
}

/// A snapshot holding a user-written VirtualService (one route to v3) and DestinationRule (v3).
pub fn user_objects() -> Snapshot {
    let svc = "bookinfo/reviews".parse().unwrap();
    let mut snap = Snapshot::default();
    snap.insert(
        mesh_istio::objects::destination_rule(&svc),
        serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "resourceVersion": "100"},
            "spec": {"host": "reviews", "subsets": [{"name": "v3", "labels": {"version": "v3"}}]}
        }),
    );
    snap.insert(
        mesh_istio::objects::virtual_service(&svc),
        serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "reviews", "namespace": "bookinfo", "resourceVersion": "101",
                         "annotations": {"owner": "team-reviews"}},
            "spec": {"hosts": ["reviews"], "http": [user_route()]}
        }),
    );
    snap
}

/// `change`, one of the examples above (in `bookinfo`), moved to namespace `ns`: the live suites
/// work in a namespace of their own.
pub fn in_namespace(change: &Change, ns: &str) -> Change {
    let text = serde_json::to_string(change).unwrap().replace("bookinfo", ns);
    serde_json::from_str(&text).unwrap()
}

/// Like [`run`], but a [`mesh_core::Error::NotFound`] plans nothing and returns `None`.
pub fn run_if_found(snapshot: &mut Snapshot, change: &Change) -> Option<Plan> {
    match mesh_istio::plan(change, snapshot, &Config::default()) {
        Err(mesh_core::Error::NotFound { .. }) => None,
        _ => Some(run(snapshot, change)),
    }
}
