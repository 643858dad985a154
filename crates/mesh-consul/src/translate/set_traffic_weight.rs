//! `set_traffic_weight` as a service-splitter, after the protocol and the resolver subsets.

use mesh_core::{Feature, Result, ServiceId, TrafficSplit, Version};

use super::{
    EntryKey,
    planner::Planner,
    shared_entries::splitter_for,
    shared_entries::{ensure_l7, ensure_subsets},
};
use crate::model::{ConfigEntry, EntryKind};

pub(super) fn plan(p: &mut Planner<'_>, service: &ServiceId, split: &TrafficSplit) -> Result<()> {
    let ns = p.ns(service, Feature::TrafficSplit)?;
    let ns = ns.as_deref();
    p.observe(service, ns);
    ensure_l7(p, service, ns);
    let versions: Vec<Version> = split.versions().cloned().collect();
    ensure_subsets(p, service, ns, &versions);
    let key = EntryKey::new(EntryKind::ServiceSplitter, ns, service.name.as_str());
    let current = match p.current(&key) {
        Some(ConfigEntry::ServiceSplitter(s)) => Some(s),
        _ => None,
    };
    let router = EntryKey::new(EntryKind::ServiceRouter, ns, service.name.as_str());
    if let Some(ConfigEntry::ServiceRouter(r)) = p.current(&router)
        && r.routes.iter().flatten().any(|route| {
            let all = route
                .route_match
                .as_ref()
                .and_then(|m| m.http.as_ref())
                .is_none_or(|h| {
                    h.path_prefix.as_deref().is_none_or(|x| x == "/")
                        && h.path_exact.is_none()
                        && h.path_regex.is_none()
                        && h.header.is_none()
                        && h.query_param.is_none()
                        && h.methods.is_none()
                });
            all && route
                .destination
                .as_ref()
                .is_some_and(|d| d.service_subset.is_some())
        })
    {
        p.warn(format!(
            "the service-router of {service} sends all traffic to one subset before the splitter is reached; the split applies only after that route is removed"
        ));
    }
    let entry = ConfigEntry::ServiceSplitter(splitter_for(service, current, split));
    p.put_route_entry(service, &key, entry);
    Ok(())
}
