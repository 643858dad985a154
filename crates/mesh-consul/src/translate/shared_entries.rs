//! Entry edits several operations share: the L7 protocol a router or splitter needs, the
//! subsets routes send traffic to, and the splitter of a set of versions.

use std::collections::BTreeMap;

use mesh_core::{ServiceId, Subset, TrafficSplit, Version};

use super::{
    EntryKey,
    planner::{Deps, Planner, is_l7, l7, subset},
    subset_filter,
};
use crate::model::{
    ConfigEntry, EntryKind, ResolverSubset, ServiceDefaults, ServiceResolver, ServiceSplit, ServiceSplitter,
};

/// Makes sure `service` has an L7 protocol, writing `Protocol: http` on its service-defaults when
/// it has none (keeping every other field).
pub(crate) fn ensure_l7(p: &mut Planner<'_>, service: &ServiceId, ns: Option<&str>) {
    let key = EntryKey::new(EntryKind::ServiceDefaults, ns, service.name.as_str());
    let mut sd = match p.current(&key) {
        Some(ConfigEntry::ServiceDefaults(sd)) => sd,
        _ => ServiceDefaults {
            name: service.name.to_string(),
            ..ServiceDefaults::default()
        },
    };
    if is_l7(sd.protocol.as_deref()) {
        return;
    }
    p.warn(format!(
        "service-defaults of {service}: Protocol set to \"http\" (was {:?}); Consul routes and splits only L7 traffic",
        sd.protocol.as_deref().unwrap_or("unset, i.e. tcp")
    ));
    sd.protocol = Some("http".into());
    let deps = Deps {
        provides: vec![l7(service)],
        ..Deps::default()
    };
    p.put(&key, ConfigEntry::ServiceDefaults(sd), deps);
}

/// Makes sure the resolver of `service` defines a subset for each of `versions`, adding the
/// missing ones (filtered on `Service.Meta.version`) and keeping the rest.
pub(crate) fn ensure_subsets(
    p: &mut Planner<'_>,
    service: &ServiceId,
    ns: Option<&str>,
    versions: &[Version],
) {
    let key = EntryKey::new(EntryKind::ServiceResolver, ns, service.name.as_str());
    let mut resolver = match p.current(&key) {
        Some(ConfigEntry::ServiceResolver(r)) => r,
        _ => ServiceResolver {
            name: service.name.to_string(),
            ..ServiceResolver::default()
        },
    };
    let missing: Vec<&Version> = versions
        .iter()
        .filter(|v| !resolver.has_subset(v.as_str()))
        .collect();
    if missing.is_empty() {
        return;
    }
    let subsets = resolver.subsets.get_or_insert_with(BTreeMap::new);
    for v in &missing {
        let filter = subset_filter(&Subset::for_version((*v).clone()), &p.ctx.selector_labels);
        subsets.insert(
            v.to_string(),
            ResolverSubset {
                filter: Some(filter),
                ..ResolverSubset::default()
            },
        );
    }
    let provides = resolver
        .subset_names()
        .iter()
        .filter_map(|s| subset(service, s))
        .collect();
    p.put(
        &key,
        ConfigEntry::ServiceResolver(resolver),
        Deps {
            provides,
            ..Deps::default()
        },
    );
}

/// The splitter body of `split`: one split per version, weights summing to 100.
pub(crate) fn splitter_for(
    service: &ServiceId,
    current: Option<ServiceSplitter>,
    split: &TrafficSplit,
) -> ServiceSplitter {
    let mut splitter = current.unwrap_or_else(|| ServiceSplitter {
        name: service.name.to_string(),
        ..ServiceSplitter::default()
    });
    splitter.splits = split
        .weights()
        .iter()
        .map(|w| ServiceSplit {
            weight: f64::from(w.weight),
            service_subset: Some(w.version.to_string()),
            ..ServiceSplit::default()
        })
        .collect();
    splitter
}
