//! `remove_fault` on Consul.

use mesh_core::{Error, FaultId, Feature, MeshKind, Result};

use super::fault::{Marker, defaults_key, fault_extension};
use super::planner::{Deps, Planner, l7};
use crate::model::{ConfigEntry, EnvoyExtension, ServiceDefaults, semantic::same_settings};

pub(super) fn plan(p: &mut Planner<'_>, fault_id: &FaultId) -> Result<()> {
    if fault_id.mesh != MeshKind::Consul {
        return Err(Error::invalid(
            "fault_id",
            format!("belongs to {}, not consul", fault_id.mesh),
        ));
    }
    let service = &fault_id.service;
    let key = defaults_key(p, service, Feature::FaultAbort)?;
    let not_found = || Error::NotFound {
        kind: "fault".into(),
        name: fault_id.to_string(),
    };
    let Some(ConfigEntry::ServiceDefaults(mut sd)) = p.current(&key) else {
        return Err(not_found());
    };
    let marker_key = fault_id.marker();
    let raw = sd
        .meta
        .meta
        .as_mut()
        .and_then(|m| m.remove(&marker_key))
        .ok_or_else(not_found)?;
    let marker: Marker = serde_json::from_str(&raw)
        .map_err(|e| Error::invalid("fault_id", format!("marker {marker_key} is unreadable: {e}")))?;
    p.observe(service, key.namespace.as_deref());
    let mut extension = None;
    for native in [true, false] {
        if let Ok(ext) = fault_extension(&marker.fault, native)
            && let Some(list) = &mut sd.envoy_extensions
            && let Some(i) = list.iter().position(|e| is_same_extension(e, &ext))
        {
            extension = Some(list.remove(i));
            break;
        }
    }
    if extension.is_none() {
        p.warn(format!(
            "the extension of {fault_id} was already gone; only its marker is removed"
        ));
    }
    let created = |what: &str| marker.created.iter().any(|c| c == what);
    if created("extensions") && sd.envoy_extensions.as_ref().is_some_and(Vec::is_empty) {
        sd.envoy_extensions = None;
    }
    if created("meta") && sd.meta.meta.as_ref().is_some_and(|m| m.is_empty()) {
        sd.meta.meta = None;
    }
    let mut deps = Deps::default();
    let in_use = p
        .plan
        .baseline
        .in_use
        .iter()
        .any(|(_, reqs)| reqs.contains(&l7(service)));
    if created("protocol") {
        if in_use {
            p.warn(format!(
                "service-defaults of {service}: Protocol kept at \"http\", a router or splitter needs it"
            ));
        } else {
            sd.protocol = None;
            deps.withdraws.push(l7(service));
        }
    }
    let untouched = ServiceDefaults {
        name: sd.name.clone(),
        meta: crate::model::EntryMeta {
            namespace: sd.meta.namespace.clone(),
            ..Default::default()
        },
        ..ServiceDefaults::default()
    };
    // What the agent filled in (`Protocol: ""`, `MeshGateway: {}`, a `Hash`) is no setting of
    // anyone's: the entry is still as the injection found it.
    if created("entry")
        && same_settings(
            &ConfigEntry::ServiceDefaults(sd.clone()),
            &ConfigEntry::ServiceDefaults(untouched),
        )
    {
        p.delete(&key, deps.withdraws);
    } else {
        p.put(&key, ConfigEntry::ServiceDefaults(sd), deps);
    }
    Ok(())
}

/// Whether `stored` is the extension `ours` describes: its identity is the name and the arguments
/// (which carry the fault), whatever the agent filled in beside them (`Required: false`,
/// `ConsulVersion: ""`, `EnvoyVersion: ""`).
fn is_same_extension(stored: &EnvoyExtension, ours: &EnvoyExtension) -> bool {
    stored.name == ours.name && stored.arguments == ours.arguments
}
