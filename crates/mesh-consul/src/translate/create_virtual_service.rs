//! `create_virtual_service` on Consul.

use mesh_core::{Error, Feature, MeshKind, Result, ServiceRoutes};

use super::{
    EntryKey,
    planner::Planner,
    routes::{catch_all_match, dedup, destination, route, route_match},
    shared_entries::splitter_for,
    shared_entries::{ensure_l7, ensure_subsets},
};
use crate::model::{ConfigEntry, EntryKind, ServiceRouter};

pub(super) fn plan(p: &mut Planner<'_>, routes: &ServiceRoutes) -> Result<()> {
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
        p.put_route_entry(service, &key, entry);
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
    p.put_route_entry(service, &key, entry);
    Ok(())
}
