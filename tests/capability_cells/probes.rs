//! One probe per planned feature: two changes, written as a user sends them, that differ only in
//! the value of that feature. A native cell must plan both, and the two plans must differ (the
//! value reached the objects: it was not dropped); a refused cell must name the feature.

use mesh::{Change, Feature};
use serde_json::{Value, json};

/// What a probe exercises.
pub(crate) struct Probe {
    /// Two changes that use the feature with different values.
    pub(crate) pair: [Change; 2],
    /// Whether a native plan must write something (a Kubernetes Service that Istio or Linkerd
    /// discovers on its own needs no write).
    pub(crate) writes: bool,
    /// Whether the two values must render different objects (false where the only thing to vary
    /// is one a mesh refuses on its own grounds, such as a second namespace on Consul CE).
    pub(crate) varies: bool,
}

fn change(value: Value) -> Change {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("probe {value}: {e}"))
}

fn pair(writes: bool, make: impl Fn(usize) -> Value) -> Probe {
    Probe {
        pair: [change(make(0)), change(make(1))],
        writes,
        varies: true,
    }
}

const SPLIT: [[(&str, u8); 2]; 2] = [[("v1", 90), ("v2", 10)], [("v1", 70), ("v2", 30)]];

fn split(i: usize) -> Value {
    Value::Array(
        SPLIT[i]
            .iter()
            .map(|(v, w)| json!({"version": v, "weight": w}))
            .collect(),
    )
}

/// A route with `extra` merged into its one rule, which sends everything to v1.
fn route(extra: Value) -> Value {
    let mut rule = json!({"destinations": [{"version": "v1", "weight": 100}]});
    if let (Some(rule), Some(extra)) = (rule.as_object_mut(), extra.as_object()) {
        rule.extend(extra.clone());
    }
    json!({"op": "create_virtual_service", "service": "default/reviews", "rules": [rule]})
}

/// A breaker on `reviews` with one field set; Consul writes breakers on the callers' side.
fn breaker(field: &str, values: [Value; 2]) -> Probe {
    pair(true, |i| {
        json!({"op": "configure_circuit_breaker", "service": "default/reviews",
               "circuit_breaker": {field: (values[i])}, "callers": ["productpage"]})
    })
}

fn retry(policy: [Value; 2]) -> Probe {
    pair(
        true,
        |i| json!({"op": "set_retry_policy", "service": "default/reviews", "policy": (policy[i])}),
    )
}

/// An authorization policy on `reviews` with one rule.
fn authz(action: &str, rules: [Value; 2]) -> Probe {
    pair(true, |i| {
        json!({"op": "create_authorization_policy", "name": "reviews-access", "namespace": "default",
               "target": "reviews", "action": action, "rules": [(rules[i])]})
    })
}

/// The probe of `feature`, or `None` for a feature no change plans: reads (`mtls.status`,
/// `observe.*`, `state.store`, tested on the doubles) and `destination.tls`, which no input
/// carries.
pub(crate) fn probe(feature: Feature) -> Option<Probe> {
    use Feature as F;
    Some(match feature {
        F::RegisterService => pair(false, |i| {
            json!({"op": "register_service", "name": "reviews", "namespace": "default",
                   "port": ([9080, 9081][i]), "protocol": "http", "version": "v1"})
        }),
        F::RegisterExternalWorkload => pair(true, |i| {
            json!({"op": "register_service", "name": "reviews", "namespace": "default",
                   "port": 9080, "protocol": "http", "version": "v1",
                   "endpoints": [{"address": (["10.0.0.7", "10.0.0.8"][i]), "port": 9080}]})
        }),
        F::RoutePathExact => pair(true, |i| {
            route(json!({"matches": [{"path": {"exact": (["/a", "/b"][i])}}]}))
        }),
        F::RoutePathPrefix => pair(true, |i| {
            route(json!({"matches": [{"path": {"prefix": (["/a", "/b"][i])}}]}))
        }),
        F::RoutePathRegex => pair(true, |i| {
            route(json!({"matches": [{"path": {"regex": (["/a/[0-9]+", "/b/[0-9]+"][i])}}]}))
        }),
        F::RouteHeaders => pair(true, |i| {
            route(
                json!({"matches": [{"headers": [{"name": "x-user", "value": {"exact": (["alice", "bob"][i])}}]}]}),
            )
        }),
        F::RouteMethod => pair(true, |i| {
            route(json!({"matches": [{"method": (["GET", "POST"][i])}]}))
        }),
        F::RouteQuery => pair(true, |i| {
            route(json!({"matches": [{"query": [{"name": "beta", "value": {"exact": (["1", "2"][i])}}]}]}))
        }),
        F::RouteTimeout => pair(true, |i| route(json!({"timeout": (["2s", "3s"][i])}))),
        F::TrafficSplit => pair(
            true,
            |i| json!({"op": "set_traffic_weight", "service": "default/reviews", "split": split(i)}),
        ),
        F::Subsets => pair(true, |i| {
            json!({"op": "create_destination_rule", "service": "default/reviews",
                   "subsets": [{"version": (["v1", "v2"][i])}]})
        }),
        F::LoadBalancer => pair(true, |i| {
            json!({"op": "create_destination_rule", "service": "default/reviews",
                   "load_balancer": (["round_robin", "least_request"][i])})
        }),
        F::DestinationTls => return None,
        F::CircuitBreakerMaxConnections => breaker("max_connections", [json!(10), json!(20)]),
        F::CircuitBreakerTimeout => breaker("timeout", [json!("1s"), json!("2s")]),
        F::CircuitBreakerMaxRetries => breaker("max_retries", [json!(3), json!(4)]),
        F::CircuitBreakerConsecutiveErrors => breaker("consecutive_errors", [json!(5), json!(6)]),
        F::CircuitBreakerInterval => breaker("interval", [json!("10s"), json!("20s")]),
        F::CircuitBreakerBaseEjectionTime => breaker("base_ejection_time", [json!("30s"), json!("40s")]),
        F::CircuitBreakerMaxEjectionPercent => breaker("max_ejection_percent", [json!(50), json!(60)]),
        F::RetryAttempts => retry([
            json!({"attempts": 2, "retry_on": ["5xx"]}),
            json!({"attempts": 3, "retry_on": ["5xx"]}),
        ]),
        F::RetryPerTryTimeout => retry([
            json!({"attempts": 2, "retry_on": ["5xx"], "per_try_timeout": "1s"}),
            json!({"attempts": 2, "retry_on": ["5xx"], "per_try_timeout": "2s"}),
        ]),
        F::RetryOn => retry([
            json!({"attempts": 2, "retry_on": ["5xx"]}),
            json!({"attempts": 2, "retry_on": ["gateway-error"]}),
        ]),
        F::RetryOverallTimeout => retry([
            json!({"attempts": 2, "retry_on": ["5xx"], "overall_timeout": "5s"}),
            json!({"attempts": 2, "retry_on": ["5xx"], "overall_timeout": "6s"}),
        ]),
        // A namespace is all there is to vary, and Consul CE has only `default`.
        F::MtlsStrict => Probe {
            varies: false,
            ..pair(true, |_| json!({"op": "enable_mtls", "namespace": "default"}))
        },
        F::AuthzAllow => authz(
            "ALLOW",
            [
                json!({"from": [{"principals": ["default/productpage"]}]}),
                json!({"from": [{"principals": ["default/ratings"]}]}),
            ],
        ),
        F::AuthzDeny => authz(
            "DENY",
            [
                json!({"from": [{"principals": ["default/productpage"]}]}),
                json!({"from": [{"principals": ["default/ratings"]}]}),
            ],
        ),
        F::AuthzPrincipals => authz(
            "ALLOW",
            [
                json!({"from": [{"principals": ["default/productpage"]}]}),
                json!({"from": [{"principals": ["default/ratings"]}]}),
            ],
        ),
        F::AuthzNamespaces => authz(
            "ALLOW",
            [
                json!({"from": [{"namespaces": ["default"]}]}),
                json!({"from": [{"namespaces": ["shop"]}]}),
            ],
        ),
        F::AuthzMethods => authz(
            "ALLOW",
            [
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"methods": ["GET"]}]}),
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"methods": ["POST"]}]}),
            ],
        ),
        F::AuthzPaths => authz(
            "ALLOW",
            [
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"paths": ["/api"]}]}),
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"paths": ["/admin"]}]}),
            ],
        ),
        F::AuthzPorts => authz(
            "ALLOW",
            [
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"ports": [9080]}]}),
                json!({"from": [{"principals": ["default/productpage"]}], "to": [{"ports": [9090]}]}),
            ],
        ),
        F::FaultDelay => pair(true, |i| {
            json!({"op": "inject_fault", "service": "default/reviews",
                   "fault": {"type": "delay", "percent": 10, "duration": (["1s", "2s"][i])}})
        }),
        F::FaultAbort => pair(true, |i| {
            json!({"op": "inject_fault", "service": "default/reviews",
                   "fault": {"type": "abort", "percent": 10, "http_status": ([500, 503][i])}})
        }),
        F::MtlsStatus | F::Metrics | F::Traces | F::Graph | F::StateStore => return None,
        other => panic!("{other}: a new feature needs a probe here"),
    })
}
