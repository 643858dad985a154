//! `inject_fault` / `remove_fault` on the service's own service-defaults.
//!
//! - Enterprise 1.18+: an `EnvoyExtensions` entry `builtin/fault-injection`.
//! - CE (or older Enterprise), only when the caller opted in: an abort through a `builtin/lua`
//!   extension on the inbound listener. A delay is never emulated.
//!
//! The service-defaults `Meta` gets a marker `mesh-fault-<key>` holding the fault and what the
//! injection created (the entry, its `Meta`, its `EnvoyExtensions`, its `Protocol`), so that
//! `remove_fault` restores the entry exactly, from any process.

use mesh_core::{Error, Fault, FaultId, Feature, MeshKind, Result, ServiceId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    EntryKey,
    planner::{Deps, Planner, is_l7, l7},
};
use crate::model::{ConfigEntry, EntryKind, EnvoyExtension, ServiceDefaults};

/// The extension name on Enterprise 1.18+.
pub const FAULT_EXTENSION: &str = "builtin/fault-injection";
/// The extension used for the opt-in abort emulation.
pub const LUA_EXTENSION: &str = "builtin/lua";

/// What the marker in `Meta` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Marker {
    fault: Fault,
    /// What the injection created: `entry`, `meta`, `extensions`, `protocol`.
    #[serde(default)]
    created: Vec<String>,
}

/// The Envoy extension that carries `fault`: native on Enterprise 1.18+, Lua otherwise.
///
/// ```
/// use mesh_consul::translate::fault_extension;
/// use mesh_core::{Fault, HttpStatus, Percent};
/// let abort = Fault::Abort { percent: Percent::new(5.0).unwrap(), http_status: HttpStatus::new(503).unwrap() };
/// let native = fault_extension(&abort, true).unwrap();
/// assert_eq!(native.name, "builtin/fault-injection");
/// let args = serde_json::Value::Object(native.arguments.unwrap());
/// assert_eq!(args["Config"]["Abort"]["HttpStatus"], 503);
/// let lua = fault_extension(&abort, false).unwrap();
/// assert_eq!(lua.arguments.unwrap()["Listener"], "inbound");
/// ```
///
/// # Errors
/// [`Error::Unsupported`] for a delay without the native extension.
pub fn fault_extension(fault: &Fault, native: bool) -> Result<EnvoyExtension> {
    let arguments = match (fault, native) {
        (Fault::Abort { percent, http_status }, true) => json!({
            "Config": {"Abort": {"HttpStatus": http_status.code(), "Percentage": number(percent.value())}}
        }),
        (Fault::Delay { percent, duration }, true) => json!({
            "Config": {"Delay": {"Duration": u64::try_from(duration.as_millis()).unwrap_or(u64::MAX), "Percentage": number(percent.value())}}
        }),
        (Fault::Abort { percent, http_status }, false) => json!({
            "ProxyType": "connect-proxy",
            "Listener": "inbound",
            "Script": lua_abort_script(percent.fraction(), http_status.code()),
        }),
        (Fault::Delay { .. }, false) => {
            return Err(Error::unsupported(
                MeshKind::Consul,
                Feature::FaultDelay,
                "a delay needs builtin/fault-injection (Consul Enterprise 1.18+); Lua has no safe delay",
            ));
        }
    };
    let serde_json::Value::Object(arguments) = arguments else {
        return Err(Error::invalid("fault", "arguments are an object"));
    };
    Ok(EnvoyExtension {
        name: (if native { FAULT_EXTENSION } else { LUA_EXTENSION }).to_owned(),
        arguments: Some(arguments),
        ..EnvoyExtension::default()
    })
}

/// A whole number as an integer (`5`, as Consul's examples write it), anything else as a float.
fn number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && (0.0..=100.0).contains(&v) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, within 0..=100
        let whole = v as u64;
        json!(whole)
    } else {
        json!(v)
    }
}

fn lua_abort_script(fraction: f64, status: u16) -> String {
    format!(
        "function envoy_on_request(request_handle)\n  if math.random() < {fraction} then\n    request_handle:respond({{[\":status\"] = \"{status}\"}}, \"fault injected by mesh\")\n  end\nend\n"
    )
}

fn native(p: &Planner<'_>) -> bool {
    p.ctx.version.is_enterprise() && p.ctx.version.at_least(1, 18)
}

fn defaults_key(p: &Planner<'_>, service: &ServiceId, feature: Feature) -> Result<EntryKey> {
    let ns = p.ns(service, feature)?;
    Ok(EntryKey::new(
        EntryKind::ServiceDefaults,
        ns.as_deref(),
        service.name.as_str(),
    ))
}

pub(super) fn inject(p: &mut Planner<'_>, service: &ServiceId, fault: &Fault) -> Result<()> {
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

pub(super) fn remove(p: &mut Planner<'_>, fault_id: &FaultId) -> Result<()> {
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
            && let Some(i) = list.iter().position(|e| e == &ext)
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
    if created("entry")
        && ConfigEntry::ServiceDefaults(sd.clone()).into_write_body()
            == ConfigEntry::ServiceDefaults(untouched).into_write_body()
    {
        p.delete(&key, deps.withdraws);
    } else {
        p.put(&key, ConfigEntry::ServiceDefaults(sd), deps);
    }
    Ok(())
}
