//! `register_service` on Consul.

use mesh_core::{Feature, Result, ServiceDefinition};

use super::{
    EntryKey,
    planner::{Deps, Planner, is_l7, l7},
    register::registration_bodies,
};
use crate::model::{ConfigEntry, EntryKind, ServiceDefaults};

pub(super) fn plan(p: &mut Planner<'_>, def: &ServiceDefinition) -> Result<()> {
    let service = def.id();
    let ns = p.ns(&service, Feature::RegisterService)?;
    let ns = ns.as_deref();
    p.observe(&service, ns);
    // The protocol first: routes written later need it, and instances are usable at once.
    let key = EntryKey::new(EntryKind::ServiceDefaults, ns, def.name.as_str());
    let mut sd = match p.current(&key) {
        Some(ConfigEntry::ServiceDefaults(sd)) => sd,
        _ => ServiceDefaults {
            name: def.name.to_string(),
            ..ServiceDefaults::default()
        },
    };
    let was_l7 = is_l7(sd.protocol.as_deref());
    sd.protocol = Some(def.protocol.as_str().into());
    let deps = if def.protocol.is_l7() {
        Deps {
            provides: vec![l7(&service)],
            ..Deps::default()
        }
    } else {
        Deps {
            withdraws: if was_l7 { vec![l7(&service)] } else { Vec::new() },
            ..Deps::default()
        }
    };
    p.put(&key, ConfigEntry::ServiceDefaults(sd), deps);
    for body in registration_bodies(def, ns, &p.ctx.selector_labels) {
        p.register_instance(ns, &body);
    }
    p.warn(format!(
        "the sidecar {}-sidecar-proxy is only registered; start Envoy with `consul connect envoy -sidecar-for <id>`",
        def.name
    ));
    Ok(())
}
