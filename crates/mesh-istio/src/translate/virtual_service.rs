//! `VirtualService`: the one routing table per host. Each `http[]` entry is a route; the library
//! names its own routes `mesh-…` ([`crate::objects::OWNED_ROUTE_PREFIX`]) and leaves every other
//! route exactly as the user wrote it (see [`crate::routes`] for the merge).

use std::collections::BTreeSet;

use mesh_core::{
    HttpMethod, PathMatch, RequestMatch, RetryPolicy, RouteRule, ServiceId, StringMatch, TrafficSplit, units,
};
use serde_json::{Map, Value, json};

use crate::objects;

/// A new VirtualService for `service`'s FQDN host, with no routes yet.
pub(crate) fn new(service: &ServiceId) -> Value {
    super::new_object(
        &objects::virtual_service(service),
        json!({ "hosts": [service.fqdn()], "http": [] }),
    )
}

/// The weighted `route[]` of a split: one destination per version subset.
pub(crate) fn destinations(service: &ServiceId, split: &TrafficSplit) -> Value {
    let host = service.fqdn();
    Value::Array(
        split
            .weights()
            .iter()
            .map(|w| json!({ "destination": { "host": host, "subset": w.version.as_str() }, "weight": w.weight }))
            .collect(),
    )
}

/// A `route[]` sending everything to the host itself, with no subset.
pub(crate) fn host_destination(service: &ServiceId) -> Value {
    json!([{ "destination": { "host": service.fqdn() } }])
}

/// An Istio `StringMatch` (`{exact|prefix|regex: …}`).
pub(crate) fn string_match(m: &StringMatch) -> Value {
    match m {
        StringMatch::Exact(v) => json!({ "exact": v }),
        StringMatch::Prefix(v) => json!({ "prefix": v }),
        StringMatch::Regex(v) => json!({ "regex": v }),
    }
}

/// One `match[]` block: `uri`, `headers`, `method` and `queryParams`, ANDed.
pub(crate) fn http_match(m: &RequestMatch) -> Value {
    let mut out = Map::new();
    if let Some(path) = &m.path {
        let uri = match path {
            PathMatch::Exact(p) => json!({ "exact": p }),
            PathMatch::Prefix(p) => json!({ "prefix": p }),
            PathMatch::Regex(p) => json!({ "regex": p }),
        };
        out.insert("uri".to_owned(), uri);
    }
    if !m.headers.is_empty() {
        let headers: Map<String, Value> = m
            .headers
            .iter()
            .map(|h| (h.name.clone(), string_match(&h.value)))
            .collect();
        out.insert("headers".to_owned(), Value::Object(headers));
    }
    if let Some(method) = m.method {
        out.insert(
            "method".to_owned(),
            json!({ "exact": HttpMethod::as_str(method) }),
        );
    }
    if !m.query.is_empty() {
        let query: Map<String, Value> = m
            .query
            .iter()
            .map(|q| (q.name.clone(), string_match(&q.value)))
            .collect();
        out.insert("queryParams".to_owned(), Value::Object(query));
    }
    Value::Object(out)
}

/// The `retries` value of a policy. `attempts: 0` disables retries (and overrides the mesh-wide
/// default retry policy).
pub(crate) fn retries(policy: &RetryPolicy) -> Value {
    let mut out = Map::new();
    out.insert("attempts".to_owned(), json!(policy.attempts));
    if policy.attempts > 0 {
        if let Some(d) = policy.per_try_timeout {
            out.insert("perTryTimeout".to_owned(), json!(units::format_duration(d)));
        }
        let on = policy.retry_on_string();
        if !on.is_empty() {
            out.insert("retryOn".to_owned(), json!(on));
        }
    }
    Value::Object(out)
}

/// Sets `retries` and `timeout` of `route` from `policy`; an unset overall timeout removes the
/// route's `timeout`.
pub(crate) fn set_retries(route: &mut Value, policy: &RetryPolicy) {
    super::set_path(route, &["retries"], retries(policy));
    match policy.overall_timeout {
        Some(d) => super::set_path(route, &["timeout"], json!(units::format_duration(d))),
        None => {
            if let Some(obj) = route.as_object_mut() {
                obj.remove("timeout");
            }
        }
    }
}

/// One `http[]` route named `name` from a rule: matches, weighted destinations, timeout (the rule's,
/// else its retry policy's overall timeout), retries and fault.
pub(crate) fn route(name: &str, rule: &RouteRule, service: &ServiceId) -> Value {
    let mut out = json!({ "name": name });
    if !rule.matches.is_empty() {
        out["match"] = Value::Array(rule.matches.iter().map(http_match).collect());
    }
    out["route"] = destinations(service, &rule.destinations);
    // The rule's own timeout wins over its retry policy's overall timeout.
    let timeout = rule
        .timeout
        .or_else(|| rule.retries.as_ref().and_then(|p| p.overall_timeout));
    if let Some(d) = timeout {
        out["timeout"] = json!(units::format_duration(d));
    }
    if let Some(p) = &rule.retries {
        out["retries"] = retries(p);
    }
    if let Some(f) = &rule.fault {
        out["fault"] = super::fault::fault(f);
    }
    out
}

/// The name of an `http[]` route, if it has one.
pub(crate) fn route_name(route: &Value) -> Option<&str> {
    route["name"].as_str()
}

/// True when a route has no `match` (or only empty match blocks): it takes every request that
/// reaches it.
pub(crate) fn is_catch_all(route: &Value) -> bool {
    match route["match"].as_array() {
        None => true,
        Some(blocks) => blocks.is_empty() || blocks.iter().any(|b| b.as_object().is_none_or(Map::is_empty)),
    }
}

/// True when a destination `host` names `service`, as a short name resolved in the
/// VirtualService's namespace (the service's own) or as a longer form.
pub(crate) fn host_is(host: &str, service: &ServiceId) -> bool {
    // Compared piece by piece: this runs for every route destination of every plan.
    let Some(rest) = host.strip_prefix(service.name.as_str()) else {
        return false;
    };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest
        .strip_prefix('.')
        .and_then(|r| r.strip_prefix(service.namespace.as_str()))
    else {
        return false;
    };
    matches!(rest, "" | ".svc" | ".svc.cluster.local")
}

/// The subsets of `service` that a list of routes sends traffic to.
pub(crate) fn referenced_subsets<'a>(
    routes: impl IntoIterator<Item = &'a Value>,
    service: &ServiceId,
) -> BTreeSet<String> {
    routes
        .into_iter()
        .flat_map(|r| r["route"].as_array().into_iter().flatten())
        .filter(|d| {
            d["destination"]["host"]
                .as_str()
                .is_some_and(|h| host_is(h, service))
        })
        .filter_map(|d| d["destination"]["subset"].as_str().map(str::to_owned))
        .collect()
}

/// The `http[]` routes of a VirtualService (for the `testing` checks).
#[cfg(any(test, feature = "testing"))]
pub(crate) fn http_routes(vs: &Value) -> Vec<Value> {
    vs["spec"]["http"].as_array().cloned().unwrap_or_default()
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn new_example() {
        let vs = crate::translate::virtual_service::new(&"prod/reviews".parse().unwrap());
        assert_eq!(vs["spec"]["hosts"][0], "reviews.prod.svc.cluster.local");
        assert_eq!(vs["spec"]["http"], serde_json::json!([]));
    }

    #[test]
    fn destinations_example() {
        use mesh_core::TrafficSplit;
        let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap();
        let route = crate::translate::virtual_service::destinations(&"prod/reviews".parse().unwrap(), &split);
        assert_eq!(route[1]["destination"]["subset"], "v2");
        assert_eq!(route[1]["weight"], 10);
    }

    #[test]
    fn host_destination_example() {
        let route = crate::translate::virtual_service::host_destination(&"prod/api".parse().unwrap());
        assert_eq!(route[0]["destination"]["host"], "api.prod.svc.cluster.local");
    }

    #[test]
    fn string_match_example() {
        use mesh_core::StringMatch;
        let m = crate::translate::virtual_service::string_match(&StringMatch::Prefix("/api".into()));
        assert_eq!(m, serde_json::json!({"prefix": "/api"}));
    }

    #[test]
    fn http_match_example() {
        use mesh_core::{HttpMethod, PathMatch, RequestMatch};
        let m = RequestMatch {
            path: Some(PathMatch::Exact("/login".into())),
            method: Some(HttpMethod::Post),
            ..Default::default()
        };
        let v = crate::translate::virtual_service::http_match(&m);
        assert_eq!(v["uri"]["exact"], "/login");
        assert_eq!(v["method"]["exact"], "POST");
    }

    #[test]
    fn retries_example() {
        use mesh_core::{RetryOn, RetryPolicy};
        use std::time::Duration;
        let p = RetryPolicy {
            attempts: 3,
            per_try_timeout: Some(Duration::from_secs(2)),
            retry_on: vec![RetryOn::ConnectFailure],
            retry_on_status: vec![503],
            overall_timeout: None,
        };
        let r = crate::translate::virtual_service::retries(&p);
        assert_eq!(
            r,
            serde_json::json!({"attempts": 3, "perTryTimeout": "2s", "retryOn": "connect-failure,503"})
        );
    }

    #[test]
    fn set_retries_example() {
        use mesh_core::{RetryOn, RetryPolicy};
        use std::time::Duration;
        let mut route = serde_json::json!({"name": "mesh-default", "timeout": "1s"});
        let p = RetryPolicy {
            attempts: 2,
            per_try_timeout: None,
            retry_on: vec![RetryOn::Reset],
            retry_on_status: vec![],
            overall_timeout: Some(Duration::from_secs(5)),
        };
        crate::translate::virtual_service::set_retries(&mut route, &p);
        assert_eq!(route["timeout"], "5s");
        assert_eq!(route["retries"]["attempts"], 2);
    }

    #[test]
    fn route_example() {
        use mesh_core::{RouteRule, TrafficSplit};
        let rule = RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap());
        let r = crate::translate::virtual_service::route("mesh-default", &rule, &"prod/api".parse().unwrap());
        assert_eq!(r["name"], "mesh-default");
        assert!(r.get("match").is_none());
        assert_eq!(r["route"][0]["destination"]["subset"], "v1");
    }

    #[test]
    fn route_name_example() {
        assert_eq!(
            crate::translate::virtual_service::route_name(&serde_json::json!({"name": "a"})),
            Some("a")
        );
    }

    #[test]
    fn is_catch_all_example() {
        use crate::translate::virtual_service::is_catch_all;
        assert!(is_catch_all(&serde_json::json!({"route": []})));
        assert!(!is_catch_all(
            &serde_json::json!({"match": [{"uri": {"prefix": "/a"}}]})
        ));
    }

    #[test]
    fn host_is_example() {
        use crate::translate::virtual_service::host_is;
        let svc = "prod/reviews".parse().unwrap();
        assert!(host_is("reviews", &svc));
        assert!(host_is("reviews.prod.svc.cluster.local", &svc));
        assert!(!host_is("reviews.staging", &svc));
    }

    #[test]
    fn referenced_subsets_example() {
        let routes = serde_json::json!([{"route": [
            {"destination": {"host": "reviews.prod.svc.cluster.local", "subset": "v2"}},
            {"destination": {"host": "ratings", "subset": "v9"}}]}]);
        let subsets = crate::translate::virtual_service::referenced_subsets(
            routes.as_array().unwrap(),
            &"prod/reviews".parse().unwrap(),
        );
        assert_eq!(subsets.into_iter().collect::<Vec<_>>(), ["v2"]);
    }

    #[test]
    fn http_routes_example() {
        let vs = serde_json::json!({"spec": {"http": [{"name": "a"}]}});
        assert_eq!(crate::translate::virtual_service::http_routes(&vs).len(), 1);
    }
}
