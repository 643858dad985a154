//! `set_retry_policy` on Consul.

use mesh_core::{Feature, Result, RetryPolicy, ServiceId};

use super::{
    EntryKey,
    planner::Planner,
    routes::{catch_all_match, is_catch_all, route, set_retries},
    shared_entries::ensure_l7,
};
use crate::model::{ConfigEntry, EntryKind, RouteDestination, ServiceRouter};

pub(super) fn plan(p: &mut Planner<'_>, service: &ServiceId, policy: &RetryPolicy) -> Result<()> {
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
    p.put_route_entry(service, &key, entry);
    Ok(())
}
