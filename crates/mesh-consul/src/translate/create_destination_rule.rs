//! `create_destination_rule` as a service-resolver, and the helpers that make sure a service has an
//! L7 protocol and the subsets a route needs.

use std::collections::BTreeMap;

use mesh_core::{DestinationPolicy, Error, Feature, LoadBalancer, MeshKind, Result, Subset};

use super::{
    EntryKey,
    planner::{Deps, Planner, subset},
};
use crate::model::{ConfigEntry, EntryKind, ResolverSubset, ServiceResolver};

/// The catalog filter that selects the instances of `subset` (`Service.Meta.version == v1`).
pub(crate) fn subset_filter(subset: &Subset, keys: &mesh_core::SelectorLabels) -> String {
    subset
        .effective_labels_with(keys)
        .iter()
        .map(|(k, v)| format!("Service.Meta.{k} == {v:?}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Consul's name of a load-balancing policy.
pub(crate) fn lb_policy(lb: LoadBalancer) -> &'static str {
    match lb {
        LoadBalancer::RoundRobin => "round_robin",
        LoadBalancer::LeastRequest => "least_request",
        LoadBalancer::Random => "random",
        LoadBalancer::RingHash => "ring_hash",
        LoadBalancer::Maglev => "maglev",
    }
}

pub(super) fn plan(p: &mut Planner<'_>, policy: &DestinationPolicy) -> Result<()> {
    let service = &policy.service;
    let ns = p.ns(service, Feature::Subsets)?;
    refuse_caller_side_fields(policy)?;
    p.observe(service, ns.as_deref());
    let key = EntryKey::new(EntryKind::ServiceResolver, ns.as_deref(), service.name.as_str());
    let mut resolver = match p.current(&key) {
        Some(ConfigEntry::ServiceResolver(r)) => r,
        _ => ServiceResolver {
            name: service.name.to_string(),
            ..ServiceResolver::default()
        },
    };
    let old = resolver.subset_names();
    let subsets: BTreeMap<String, ResolverSubset> = policy
        .subsets
        .iter()
        .map(|s| {
            let mut kept = resolver
                .subsets
                .as_ref()
                .and_then(|m| m.get(s.version.as_str()).cloned())
                .unwrap_or_default();
            kept.filter = Some(subset_filter(s, &p.ctx.selector_labels));
            (s.version.to_string(), kept)
        })
        .collect();
    if let Some(default) = &resolver.default_subset
        && !subsets.contains_key(default)
    {
        p.warn(format!(
            "DefaultSubset {default:?} of {service} is no longer defined and was cleared"
        ));
        resolver.default_subset = None;
    }
    resolver.subsets = (!subsets.is_empty()).then_some(subsets);
    if let Some(lb) = policy.load_balancer {
        let balancer = resolver.load_balancer.get_or_insert_with(Default::default);
        balancer.policy = Some(lb_policy(lb).into());
        // Without a hash policy Consul hashes nothing and picks at random: hash on the caller's
        // address, as Istio's consistent hash does here.
        balancer.hash_policies = matches!(lb, LoadBalancer::RingHash | LoadBalancer::Maglev)
            .then(|| vec![serde_json::json!({ "SourceIP": true })]);
    }
    if let Some(t) = policy.connection_pool.as_ref().and_then(|c| c.connect_timeout) {
        resolver.connect_timeout = Some(mesh_core::units::format_duration(t));
    }
    let new = resolver.subset_names();
    let deps = Deps {
        provides: new.iter().filter_map(|s| subset(service, s)).collect(),
        withdraws: old
            .iter()
            .filter(|s| !new.contains(s))
            .filter_map(|s| subset(service, s))
            .collect(),
        ..Deps::default()
    };
    p.put(&key, ConfigEntry::ServiceResolver(resolver), deps);
    Ok(())
}

/// Connection limits and outlier detection live on the callers' service-defaults in Consul, not on
/// the destination: refuse them here, by name, and point at `configure_circuit_breaker`.
fn refuse_caller_side_fields(policy: &DestinationPolicy) -> Result<()> {
    let refuse = |feature| {
        Err(Error::unsupported(
            MeshKind::Consul,
            feature,
            "Consul sets limits and outlier detection on each caller's service-defaults \
             (UpstreamConfig.Overrides), not on the destination; use configure_circuit_breaker with the callers",
        ))
    };
    if let Some(pool) = &policy.connection_pool {
        if pool.max_connections.is_some() || pool.max_pending_requests.is_some() {
            return refuse(Feature::CircuitBreakerMaxConnections);
        }
        if pool.max_retries.is_some() {
            return refuse(Feature::CircuitBreakerMaxRetries);
        }
    }
    if let Some(od) = &policy.outlier_detection
        && (od.consecutive_errors.is_some()
            || od.interval.is_some()
            || od.base_ejection_time.is_some()
            || od.max_ejection_percent.is_some())
    {
        return refuse(Feature::CircuitBreakerConsecutiveErrors);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use mesh_core::{Subset, Version};

    use super::subset_filter;

    #[test]
    fn a_subset_filters_on_the_version_metadata() {
        let s = Subset::for_version(Version::new("v1").unwrap());
        assert_eq!(
            subset_filter(&s, &Default::default()),
            "Service.Meta.version == \"v1\""
        );
    }
}
