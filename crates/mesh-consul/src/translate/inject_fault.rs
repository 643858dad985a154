//! `inject_fault` on Consul.

use mesh_core::{Error, Fault, FaultId, Feature, MeshKind, Result, ServiceId};

use super::fault::{Marker, defaults_key, fault_extension, native};
use super::planner::{Deps, Planner, is_l7, l7};
use crate::model::{ConfigEntry, ServiceDefaults};

pub(super) fn plan(p: &mut Planner<'_>, service: &ServiceId, fault: &Fault) -> Result<()> {
    let feature = match fault {
        Fault::Delay { .. } => Feature::FaultDelay,
        Fault::Abort { .. } => Feature::FaultAbort,
    };
    let key = defaults_key(p, service, feature)?;
    let native = native(p);
    if !native {
        p.warn("emulated: the abort is a builtin/lua extension on the service's inbound listener, so it hits every caller; the status is returned by the server's sidecar");
    }
    let extension = fault_extension(fault, native)?;
    let id = FaultId::new(MeshKind::Consul, service.clone(), fault.fingerprint())?;
    p.observe(service, key.namespace.as_deref());
    let current = p.current(&key);
    let mut created = Vec::new();
    let mut sd = match current {
        Some(ConfigEntry::ServiceDefaults(sd)) => sd,
        _ => {
            created.push("entry".to_owned());
            ServiceDefaults {
                name: service.name.to_string(),
                ..ServiceDefaults::default()
            }
        }
    };
    if sd
        .meta
        .meta
        .as_ref()
        .is_some_and(|m| m.contains_key(&id.marker()))
    {
        // Already injected: converge.
        return Ok(());
    }
    let mut deps = Deps::default();
    if !is_l7(sd.protocol.as_deref()) {
        created.push("protocol".to_owned());
        sd.protocol = Some("http".into());
        deps.provides.push(l7(service));
        p.warn(format!(
            "service-defaults of {service}: Protocol set to \"http\"; HTTP faults need an L7 protocol"
        ));
    }
    if sd.meta.meta.is_none() {
        created.push("meta".to_owned());
    }
    if sd.envoy_extensions.is_none() {
        created.push("extensions".to_owned());
    }
    sd.envoy_extensions.get_or_insert_with(Vec::new).push(extension);
    let marker = Marker {
        fault: fault.clone(),
        created,
    };
    let marker = serde_json::to_string(&marker).map_err(|e| Error::invalid("fault", e.to_string()))?;
    sd.meta
        .meta
        .get_or_insert_with(Default::default)
        .insert(id.marker(), marker);
    p.put(&key, ConfigEntry::ServiceDefaults(sd), deps);
    Ok(())
}
