//! HTTPRoutes with the apex Service as parent: route rules, weighted splits, and merging with the
//! rules a user wrote into the same route.

use mesh_core::{
    Error, HeaderMatch, MeshKind, PathMatch, QueryMatch, RequestMatch, RouteRule, ServiceId, StringMatch,
    TrafficSplit,
};
use serde_json::{Map, Value, json};

use crate::objects::{self, OWNED_RULES_ANNOTATION};

/// Gateway API and Linkerd both cap `spec.rules` at 16.
pub(crate) const MAX_RULES: usize = 16;

/// The parent reference to the apex Service (`group: core`, `kind: Service`, the port).
pub(crate) fn service_parent(id: &ServiceId, port: u16) -> Value {
    json!({ "group": "core", "kind": "Service", "name": id.name.as_str(), "port": port })
}

/// A weighted backend reference to a Service.
pub(crate) fn backend(name: &str, port: u16, weight: u32) -> Value {
    json!({ "name": name, "port": port, "weight": weight })
}

/// The backends of a split: one per-version Service each, weighted as given.
pub(crate) fn split_backends(id: &ServiceId, split: &TrafficSplit, port: u16) -> Vec<Value> {
    split
        .weights()
        .iter()
        .map(|w| {
            backend(
                &objects::version_service_name(id, &w.version),
                port,
                u32::from(w.weight),
            )
        })
        .collect()
}

/// Escapes `s` for use inside an RE2 expression.
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header or query-parameter value match. Gateway API has only `Exact` and
/// `RegularExpression`, so a prefix becomes the anchored expression `^<escaped prefix>.*`.
fn value_match(name: &str, m: &StringMatch) -> Value {
    let (kind, value) = match m {
        StringMatch::Exact(v) => ("Exact", v.clone()),
        StringMatch::Prefix(v) => ("RegularExpression", format!("^{}.*", regex_escape(v))),
        StringMatch::Regex(v) => ("RegularExpression", v.clone()),
    };
    json!({ "type": kind, "name": name, "value": value })
}

/// One match block as an HTTPRoute match.
pub(crate) fn request_match(m: &RequestMatch) -> Value {
    let mut out = Map::new();
    if let Some(path) = &m.path {
        let (kind, value) = match path {
            PathMatch::Exact(v) => ("Exact", v),
            PathMatch::Prefix(v) => ("PathPrefix", v),
            PathMatch::Regex(v) => ("RegularExpression", v),
        };
        out.insert("path".into(), json!({ "type": kind, "value": value }));
    }
    if !m.headers.is_empty() {
        let headers = m
            .headers
            .iter()
            .map(|HeaderMatch { name, value }| value_match(name, value));
        out.insert("headers".into(), Value::Array(headers.collect()));
    }
    if !m.query.is_empty() {
        let query = m
            .query
            .iter()
            .map(|QueryMatch { name, value }| value_match(name, value));
        out.insert("queryParams".into(), Value::Array(query.collect()));
    }
    if let Some(method) = m.method {
        out.insert("method".into(), json!(method.as_str()));
    }
    Value::Object(out)
}

/// A route rule as an HTTPRoute rule. Retries and faults are not part of a Linkerd rule: retries are
/// Service or route annotations ([`crate::translate::retry`]) and faults are weighted backends
/// ([`crate::translate::fault`]).
///
/// # Errors
/// [`Error::Unsupported`] for a rule carrying retries or a fault; [`Error::InvalidInput`] past the
/// HTTPRoute limits (8 matches, 16 backends, 16 headers or query parameters per match).
pub(crate) fn rule(id: &ServiceId, r: &RouteRule, port: u16) -> Result<Value, Error> {
    if r.retries.is_some() {
        return Err(Error::unsupported(
            MeshKind::Linkerd,
            mesh_core::Feature::RetryAttempts,
            "Linkerd configures retries per Service or per HTTPRoute (annotations), not per rule; \
             use set_retry_policy",
        ));
    }
    if let Some(f) = &r.fault {
        let feature = match f {
            mesh_core::Fault::Delay { .. } => mesh_core::Feature::FaultDelay,
            mesh_core::Fault::Abort { .. } => mesh_core::Feature::FaultAbort,
        };
        return Err(Error::unsupported(
            MeshKind::Linkerd,
            feature,
            "Linkerd HTTPRoute rules have no fault filter; use inject_fault (abort only, via an \
             error backend)",
        ));
    }
    let too_many = |field: &str, n: usize, max: usize| {
        (n > max).then(|| {
            Error::invalid(
                field,
                format!("{n} entries; an HTTPRoute rule takes at most {max}"),
            )
        })
    };
    let limits = [
        too_many("matches", r.matches.len(), 8),
        too_many("destinations", r.destinations.weights().len(), 16),
    ];
    let per_match = r.matches.iter().enumerate().flat_map(|(i, m)| {
        [
            too_many(&format!("matches[{i}].headers"), m.headers.len(), 16),
            too_many(&format!("matches[{i}].query"), m.query.len(), 16),
        ]
    });
    if let Some(e) = limits.into_iter().chain(per_match).flatten().next() {
        return Err(e);
    }
    let mut out = Map::new();
    if !r.matches.is_empty() {
        out.insert(
            "matches".into(),
            Value::Array(r.matches.iter().map(request_match).collect()),
        );
    }
    out.insert(
        "backendRefs".into(),
        Value::Array(split_backends(id, &r.destinations, port)),
    );
    if let Some(t) = r.timeout {
        out.insert(
            "timeouts".into(),
            json!({ "request": mesh_core::units::format_duration(t) }),
        );
    }
    Ok(Value::Object(out))
}

/// The rules the library wrote into `route`, as recorded in its annotation.
pub(crate) fn owned_rules(route: &Value) -> Vec<Value> {
    mesh_kube::keys::annotation(route, OWNED_RULES_ANNOTATION)
        .and_then(|s| serde_json::from_str::<Vec<Value>>(s).ok())
        .unwrap_or_default()
}

/// True when `stored` is the rule the library wrote as `ours`: it holds everything written, and
/// beyond that only what the API server adds by default (the catch-all match, `group`/`kind` of
/// backends). A rule the user edited, or wrote with extra matches, filters or timeouts, is not.
pub(crate) fn is_library_rule(stored: &Value, ours: &Value) -> bool {
    let default_matches = json!([{ "path": { "type": "PathPrefix", "value": "/" } }]);
    let extra_is_default = |key: &str, default: Option<&Value>| {
        ours.get(key).is_some()
            || match stored.get(key) {
                None | Some(Value::Null) => true,
                Some(Value::Array(a)) if a.is_empty() => true,
                Some(v) => default.is_some_and(|d| objects::contains(v, d) && objects::contains(d, v)),
            }
    };
    objects::contains(stored, ours)
        && extra_is_default("matches", Some(&default_matches))
        && extra_is_default("filters", None)
        && extra_is_default("timeouts", None)
}

/// The rules of `route` that the library did not write (the user's), in their order. A stored rule
/// is the library's when [`is_library_rule`] says so; a rule the user edited counts as the user's
/// and is kept.
pub(crate) fn user_rules(route: &Value) -> Vec<Value> {
    let mut ours = owned_rules(route);
    let mut out = Vec::new();
    for stored in route["spec"]["rules"].as_array().into_iter().flatten() {
        match ours.iter().position(|o| is_library_rule(stored, o)) {
            Some(i) => {
                ours.remove(i);
            }
            None => out.push(stored.clone()),
        }
    }
    out
}

/// Where the HTTPRoute goes next: the body, and whether it replaces an existing object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RouteUpdate {
    /// The full object to write.
    pub(crate) body: Value,
    /// The `resourceVersion` read, when the route exists (a guarded replace); `None` for a create.
    pub(crate) resource_version: Option<String>,
    /// True when the stored route already holds exactly this (nothing to write).
    pub(crate) unchanged: bool,
}

/// Builds the next state of the service's HTTPRoute: the user's rules first, in their order, then
/// `ours`, with `ours` recorded in the ownership annotation. `extra_annotations` are set (a `Null`
/// value removes the key).
///
/// # Errors
/// [`Error::InvalidInput`] when the merged route would exceed [`MAX_RULES`] rules.
pub(crate) fn update(
    target: &mesh_core::ObjectRef,
    id: &ServiceId,
    port: u16,
    existing: Option<&Value>,
    ours: Vec<Value>,
    extra_annotations: &Map<String, Value>,
) -> Result<RouteUpdate, Error> {
    let user = existing.map(user_rules).unwrap_or_default();
    if user.len() + ours.len() > MAX_RULES {
        return Err(Error::invalid(
            "rules",
            format!(
                "the HTTPRoute would hold {} user and {} library rules; at most {MAX_RULES} fit",
                user.len(),
                ours.len()
            ),
        ));
    }
    let owned_json = serde_json::to_string(&ours).unwrap_or_default();
    let rules: Vec<Value> = user.into_iter().chain(ours).collect();
    let parent = service_parent(id, port);
    let mut body = match existing {
        Some(old) => {
            let mut b = old.clone();
            if let Some(m) = b["metadata"].as_object_mut() {
                m.remove("managedFields");
            }
            if let Some(o) = b.as_object_mut() {
                o.remove("status");
            }
            let parents = b["spec"]["parentRefs"].as_array().cloned().unwrap_or_default();
            if !parents
                .iter()
                .any(|p| objects::contains(p, &parent) || same_parent(p, &parent))
            {
                let mut parents = parents;
                parents.push(parent);
                b["spec"]["parentRefs"] = Value::Array(parents);
            }
            b
        }
        None => objects::owned_object(target, json!({ "parentRefs": [parent] })),
    };
    body["spec"]["rules"] = Value::Array(rules);
    let mut annotations = objects::annotations(&body);
    annotations.insert(OWNED_RULES_ANNOTATION.into(), json!(owned_json));
    for (k, v) in extra_annotations {
        if v.is_null() {
            annotations.remove(k);
        } else {
            annotations.insert(k.clone(), v.clone());
        }
    }
    body["metadata"]["annotations"] = Value::Object(annotations);
    let unchanged = existing.is_some_and(|old| {
        objects::contains(&old["spec"], &body["spec"])
            && objects::annotations(old) == objects::annotations(&body)
    });
    Ok(RouteUpdate {
        resource_version: existing
            .and_then(|o| o["metadata"]["resourceVersion"].as_str())
            .map(str::to_owned),
        body,
        unchanged,
    })
}

/// True when two parent references name the same Service (group `core`, `""` or omitted).
fn same_parent(a: &Value, b: &Value) -> bool {
    let group = |v: &Value| match v["group"].as_str() {
        None | Some("" | "core") => "core".to_owned(),
        Some(g) => g.to_owned(),
    };
    group(a) == group(b) && a["kind"] == b["kind"] && a["name"] == b["name"]
}

/// The library rules after a weight change: the last catch-all rule gets the new backends, or a
/// catch-all rule is appended when there is none.
pub(crate) fn with_split(mut ours: Vec<Value>, backends: Vec<Value>) -> Vec<Value> {
    match ours.iter().rposition(|r| r.get("matches").is_none()) {
        Some(i) => ours[i]["backendRefs"] = Value::Array(backends),
        None => ours.push(json!({ "backendRefs": backends })),
    }
    ours
}

/// Whether every parent in `status.parents` reports the condition `Accepted: True`; `None` when no
/// parent reports yet.
pub(crate) fn accepted(route: &Value) -> Option<bool> {
    let parents = route["status"]["parents"].as_array().filter(|p| !p.is_empty())?;
    Some(parents.iter().all(|p| {
        p["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Accepted" && c["status"] == "True")
    }))
}

#[cfg(test)]
mod tests {
    use mesh_core::{RequestMatch, RouteRule, TrafficSplit};

    use super::*;

    #[test]
    fn rules_past_the_http_route_limits_are_invalid_input() {
        let id: ServiceId = "prod/api".parse().unwrap();
        let mut r = RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap());
        r.matches = vec![RequestMatch::default(); 9];
        let err = rule(&id, &r, 80).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "matches"),
            "{err:?}"
        );
        let names: Vec<String> = (0..17).map(|i| format!("v{i}")).collect();
        let mut pairs: Vec<(&str, u8)> = names.iter().map(|n| (n.as_str(), 0)).collect();
        pairs[0].1 = 100;
        let r = RouteRule::to(TrafficSplit::try_from_pairs(pairs).unwrap());
        let err = rule(&id, &r, 80).unwrap_err();
        assert!(
            matches!(err, Error::InvalidInput { ref field, .. } if field == "destinations"),
            "{err:?}"
        );
    }
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn service_parent_example() {
        let p = crate::translate::http_route::service_parent(&"prod/api".parse().unwrap(), 8080);
        assert_eq!(p["kind"], "Service");
        assert_eq!(p["group"], "core");
    }

    #[test]
    fn regex_escape_example() {
        assert_eq!(crate::translate::http_route::regex_escape("a.b*"), r"a\.b\*");
    }

    #[test]
    fn is_library_rule_example() {
        use crate::translate::http_route::is_library_rule;
        use serde_json::json;
        let ours = json!({"backendRefs": [{"name": "api-v1", "port": 80, "weight": 100}]});
        let defaulted = json!({"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
            "backendRefs": [{"group": "", "kind": "Service", "name": "api-v1", "port": 80, "weight": 100}]});
        assert!(is_library_rule(&defaulted, &ours));
        let users = json!({"matches": [{"path": {"type": "Exact", "value": "/admin"}}],
            "backendRefs": [{"name": "api-v1", "port": 80, "weight": 100}]});
        assert!(!is_library_rule(&users, &ours));
    }

    #[test]
    fn accepted_example() {
        use serde_json::json;
        let route =
            json!({"status": {"parents": [{"conditions": [{"type": "Accepted", "status": "True"}]}]}});
        assert_eq!(crate::translate::http_route::accepted(&route), Some(true));
        assert_eq!(crate::translate::http_route::accepted(&json!({})), None);
    }
}
