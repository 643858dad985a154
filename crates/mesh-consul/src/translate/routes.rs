//! `create_virtual_service` as a service-router (plus a splitter for a weighted catch-all), and
//! `set_retry_policy` as router destination retries.

use mesh_core::{
    Error, Feature, HttpMethod, MeshKind, PathMatch, RequestMatch, Result, RetryOn, RetryPolicy, RouteRule,
    ServiceId, ServiceRoutes, StringMatch, Version, units::format_duration,
};

use super::{
    EntryKey,
    destination::{ensure_l7, ensure_subsets},
    planner::{Deps, Planner, requirements},
    split::splitter_for,
};
use crate::model::{
    ConfigEntry, EntryKind, HeaderMatcher, HttpRouteMatch, RouteDestination, RouteMatch, ServiceRoute,
    ServiceRouter,
};

pub(super) fn virtual_service(p: &mut Planner<'_>, routes: &ServiceRoutes) -> Result<()> {
    let service = &routes.service;
    let ns = p.ns(service, Feature::Subsets)?;
    let ns = ns.as_deref();
    let mut consul_routes = Vec::new();
    let mut catch_all_split = None;
    for (i, rule) in routes.rules.iter().enumerate() {
        let weighted = rule.destinations.weights().len() > 1;
        if rule.fault.is_some() {
            let feature = match rule.fault {
                Some(mesh_core::Fault::Delay { .. }) => Feature::FaultDelay,
                _ => Feature::FaultAbort,
            };
            return Err(Error::unsupported(
                MeshKind::Consul,
                feature,
                "Consul faults apply to a whole service (service-defaults EnvoyExtensions), not to one route; use inject_fault",
            ));
        }
        if weighted {
            if !rule.matches.is_empty() || i + 1 != routes.rules.len() {
                return Err(Error::unsupported(
                    MeshKind::Consul,
                    Feature::TrafficSplit,
                    format!(
                        "rules[{i}]: a service-router route sends to one subset; a weighted split is only possible on the last, catch-all rule (service-splitter)"
                    ),
                ));
            }
            if rule.timeout.is_some() || rule.retries.is_some() {
                return Err(Error::unsupported(
                    MeshKind::Consul,
                    Feature::RouteTimeout,
                    format!(
                        "rules[{i}]: a weighted catch-all becomes a service-splitter, which has no timeout or retries"
                    ),
                ));
            }
            catch_all_split = Some(rule.destinations.clone());
            continue;
        }
        let destination = destination(service, rule)?;
        if rule.matches.is_empty() {
            consul_routes.push(route(Some(catch_all_match()), destination));
        } else {
            for m in &rule.matches {
                consul_routes.push(route(Some(route_match(m)), destination.clone()));
            }
        }
    }
    p.observe(service, ns);
    ensure_l7(p, service, ns);
    let versions = dedup(
        routes
            .rules
            .iter()
            .flat_map(|r| r.destinations.versions().cloned()),
    );
    ensure_subsets(p, service, ns, &versions);
    if let Some(split) = &catch_all_split {
        let key = EntryKey::new(EntryKind::ServiceSplitter, ns, service.name.as_str());
        let current = match p.current(&key) {
            Some(ConfigEntry::ServiceSplitter(s)) => Some(s),
            _ => None,
        };
        let entry = ConfigEntry::ServiceSplitter(splitter_for(service, current, split));
        let requires = requirements(service, &entry);
        p.put(
            &key,
            entry,
            Deps {
                requires,
                ..Deps::default()
            },
        );
    }
    let key = EntryKey::new(EntryKind::ServiceRouter, ns, service.name.as_str());
    if consul_routes.is_empty() {
        p.delete(&key, Vec::new());
        return Ok(());
    }
    let mut router = match p.current(&key) {
        Some(ConfigEntry::ServiceRouter(r)) => r,
        _ => ServiceRouter {
            name: service.name.to_string(),
            ..ServiceRouter::default()
        },
    };
    router.routes = Some(consul_routes);
    let entry = ConfigEntry::ServiceRouter(router);
    let requires = requirements(service, &entry);
    p.put(
        &key,
        entry,
        Deps {
            requires,
            ..Deps::default()
        },
    );
    Ok(())
}

pub(super) fn retry_policy(p: &mut Planner<'_>, service: &ServiceId, policy: &RetryPolicy) -> Result<()> {
    let ns = p.ns(service, Feature::RetryAttempts)?;
    let ns = ns.as_deref();
    p.observe(service, ns);
    ensure_l7(p, service, ns);
    let key = EntryKey::new(EntryKind::ServiceRouter, ns, service.name.as_str());
    let mut router = match p.current(&key) {
        Some(ConfigEntry::ServiceRouter(r)) => r,
        _ => ServiceRouter {
            name: service.name.to_string(),
            ..ServiceRouter::default()
        },
    };
    let routes = router.routes.get_or_insert_with(Vec::new);
    if !routes.iter().any(is_catch_all) {
        routes.push(route(
            Some(catch_all_match()),
            RouteDestination {
                service: Some(service.name.to_string()),
                ..RouteDestination::default()
            },
        ));
        p.warn(format!(
            "service-router of {service}: a catch-all route (PathPrefix \"/\") was added so that the retries cover all traffic; it sends to the default (resolver) route"
        ));
    }
    for r in routes.iter_mut() {
        set_retries(r.destination.get_or_insert_with(Default::default), Some(policy));
    }
    if policy.attempts == 0 {
        p.warn("attempts 0: every retry field was cleared; Envoy's own default (one retry on connect failure) may still apply");
    }
    let entry = ConfigEntry::ServiceRouter(router);
    let requires = requirements(service, &entry);
    p.put(
        &key,
        entry,
        Deps {
            requires,
            ..Deps::default()
        },
    );
    Ok(())
}

fn route(route_match: Option<RouteMatch>, destination: RouteDestination) -> ServiceRoute {
    ServiceRoute {
        route_match,
        destination: Some(destination),
        ..ServiceRoute::default()
    }
}

fn catch_all_match() -> RouteMatch {
    RouteMatch {
        http: Some(HttpRouteMatch {
            path_prefix: Some("/".into()),
            ..HttpRouteMatch::default()
        }),
        ..RouteMatch::default()
    }
}

fn is_catch_all(r: &ServiceRoute) -> bool {
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

fn destination(service: &ServiceId, rule: &RouteRule) -> Result<RouteDestination> {
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
fn set_retries(d: &mut RouteDestination, policy: Option<&RetryPolicy>) {
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

fn route_match(m: &RequestMatch) -> RouteMatch {
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
fn matcher(name: &str, value: &StringMatch, has_prefix: bool) -> HeaderMatcher {
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

fn dedup(versions: impl Iterator<Item = Version>) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for v in versions {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}
