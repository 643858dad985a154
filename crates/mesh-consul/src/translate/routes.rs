//! `create_virtual_service` as a service-router (plus a splitter for a weighted catch-all), and
//! `set_retry_policy` as router destination retries.

use mesh_core::{
    Error, HttpMethod, PathMatch, RequestMatch, Result, RetryOn, RetryPolicy, RouteRule, ServiceId,
    StringMatch, Version, units::format_duration,
};

use crate::model::{HeaderMatcher, HttpRouteMatch, RouteDestination, RouteMatch, ServiceRoute};

pub(super) fn route(route_match: Option<RouteMatch>, destination: RouteDestination) -> ServiceRoute {
    ServiceRoute {
        route_match,
        destination: Some(destination),
        ..ServiceRoute::default()
    }
}

pub(super) fn catch_all_match() -> RouteMatch {
    RouteMatch {
        http: Some(HttpRouteMatch {
            path_prefix: Some("/".into()),
            ..HttpRouteMatch::default()
        }),
        ..RouteMatch::default()
    }
}

pub(super) fn is_catch_all(r: &ServiceRoute) -> bool {
    match r.route_match.as_ref().and_then(|m| m.http.as_ref()) {
        None => true,
        Some(h) => {
            h.path_exact.is_none()
                && h.path_regex.is_none()
                && h.path_prefix.as_deref().is_none_or(|p| p == "/")
                && h.header.as_ref().is_none_or(Vec::is_empty)
                && h.query_param.as_ref().is_none_or(Vec::is_empty)
                && h.methods.as_ref().is_none_or(Vec::is_empty)
        }
    }
}

pub(super) fn destination(service: &ServiceId, rule: &RouteRule) -> Result<RouteDestination> {
    let version = rule
        .destinations
        .versions()
        .next()
        .ok_or_else(|| Error::invalid("destinations", "empty"))?;
    let mut d = RouteDestination {
        service: Some(service.name.to_string()),
        service_subset: Some(version.to_string()),
        ..RouteDestination::default()
    };
    set_retries(&mut d, rule.retries.as_ref());
    if let Some(t) = rule.timeout {
        d.request_timeout = Some(format_duration(t));
    }
    Ok(d)
}

/// Writes `policy` onto a destination: `NumRetries`, `RetryOnConnectFailure`, `RetryOn`,
/// `RetryOnStatusCodes` and the overall `RequestTimeout`. `None` or zero attempts clears them.
pub(super) fn set_retries(d: &mut RouteDestination, policy: Option<&RetryPolicy>) {
    d.num_retries = None;
    d.retry_on_connect_failure = None;
    d.retry_on = None;
    d.retry_on_status_codes = None;
    let Some(policy) = policy.filter(|p| p.attempts > 0) else {
        return;
    };
    d.num_retries = Some(policy.attempts);
    if policy.retry_on.contains(&RetryOn::ConnectFailure) {
        d.retry_on_connect_failure = Some(true);
    }
    let on: Vec<String> = policy
        .retry_on
        .iter()
        .filter(|r| **r != RetryOn::ConnectFailure)
        .map(|r| r.as_str().to_owned())
        .collect();
    d.retry_on = (!on.is_empty()).then_some(on);
    d.retry_on_status_codes = (!policy.retry_on_status.is_empty()).then(|| policy.retry_on_status.clone());
    if let Some(t) = policy.overall_timeout {
        d.request_timeout = Some(format_duration(t));
    }
}

pub(super) fn route_match(m: &RequestMatch) -> RouteMatch {
    let mut http = HttpRouteMatch::default();
    match &m.path {
        Some(PathMatch::Exact(v)) => http.path_exact = Some(v.clone()),
        Some(PathMatch::Prefix(v)) => http.path_prefix = Some(v.clone()),
        Some(PathMatch::Regex(v)) => http.path_regex = Some(v.clone()),
        None => {}
    }
    if !m.headers.is_empty() {
        http.header = Some(
            m.headers
                .iter()
                .map(|h| matcher(&h.name, &h.value, true))
                .collect(),
        );
    }
    if !m.query.is_empty() {
        http.query_param = Some(
            m.query
                .iter()
                .map(|q| matcher(&q.name, &q.value, false))
                .collect(),
        );
    }
    if let Some(method) = m.method {
        http.methods = Some(vec![HttpMethod::as_str(method).to_owned()]);
    }
    RouteMatch {
        http: Some(http),
        ..RouteMatch::default()
    }
}

/// A header (which has `Prefix`) or query-parameter (which has only `Exact`/`Regex`) matcher; a
/// query prefix becomes the equivalent anchored regex.
pub(super) fn matcher(name: &str, value: &StringMatch, has_prefix: bool) -> HeaderMatcher {
    let mut h = HeaderMatcher::named(name);
    match value {
        StringMatch::Exact(v) => h.exact = Some(v.clone()),
        StringMatch::Prefix(v) if has_prefix => h.prefix = Some(v.clone()),
        StringMatch::Prefix(v) => h.regex = Some(format!("^{}.*", regex_escape(v))),
        StringMatch::Regex(v) => h.regex = Some(v.clone()),
    }
    h
}

/// Escapes RE2 metacharacters.
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

pub(super) fn dedup(versions: impl Iterator<Item = Version>) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for v in versions {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
