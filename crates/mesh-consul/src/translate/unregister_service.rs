//! `unregister_service` on Consul.

use mesh_core::{Error, Feature, Result, ServiceId};

use super::{
    EntryKey,
    planner::{Planner, subset},
};
use crate::model::{ConfigEntry, EntryKind};

pub(super) fn plan(p: &mut Planner<'_>, service: &ServiceId) -> Result<()> {
    let ns = p.ns(service, Feature::RegisterService)?;
    let ns = ns.as_deref();
    let name = service.name.as_str();
    let ids = p.snapshot().agent_services.get(name).cloned().unwrap_or_default();
    let entry = |kind| EntryKey::new(kind, ns, name);
    let has_entries = [
        EntryKind::ServiceRouter,
        EntryKind::ServiceSplitter,
        EntryKind::ServiceResolver,
    ]
    .into_iter()
    .any(|k| p.current(&entry(k)).is_some());
    if ids.is_empty() && !has_entries {
        return Err(Error::NotFound {
            kind: "service".into(),
            name: service.to_string(),
        });
    }
    p.observe(service, ns);
    // Break before unmake: the router and splitter go first, then the subsets they used.
    p.delete(&entry(EntryKind::ServiceRouter), Vec::new());
    p.delete(&entry(EntryKind::ServiceSplitter), Vec::new());
    let subsets = match p.current(&entry(EntryKind::ServiceResolver)) {
        Some(ConfigEntry::ServiceResolver(r)) => r.subset_names(),
        _ => Vec::new(),
    };
    let withdraws = subsets.iter().filter_map(|s| subset(service, s)).collect();
    p.delete(&entry(EntryKind::ServiceResolver), withdraws);
    for id in &ids {
        p.deregister_instance(ns, id);
    }
    if p.current(&entry(EntryKind::ServiceDefaults)).is_some() {
        p.warn(format!(
            "service-defaults of {service} is kept: it may carry callers' upstream limits or the protocol other services rely on"
        ));
    }
    Ok(())
}
