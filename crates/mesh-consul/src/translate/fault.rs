//! `inject_fault` / `remove_fault` on the service's own service-defaults.
//!
//! - Enterprise 1.18+: an `EnvoyExtensions` entry `builtin/fault-injection`.
//! - CE (or older Enterprise), only when the caller opted in: an abort through a `builtin/lua`
//!   extension on the inbound listener. A delay is never emulated.
//!
//! The service-defaults `Meta` gets a marker `mesh-fault-<key>` holding the fault and what the
//! injection created (the entry, its `Meta`, its `EnvoyExtensions`, its `Protocol`), so that
//! `remove_fault` restores the entry exactly, from any process.

use mesh_core::{Error, Fault, Feature, MeshKind, Result, ServiceId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{EntryKey, planner::Planner};
use crate::model::{EntryKind, EnvoyExtension};

/// The extension name on Enterprise 1.18+.
pub(crate) const FAULT_EXTENSION: &str = "builtin/fault-injection";
/// The extension used for the opt-in abort emulation.
pub(crate) const LUA_EXTENSION: &str = "builtin/lua";

/// What the marker in `Meta` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct Marker {
    pub(super) fault: Fault,
    /// What the injection created: `entry`, `meta`, `extensions`, `protocol`.
    #[serde(default)]
    pub(super) created: Vec<String>,
}

/// The Envoy extension that carries `fault`: native on Enterprise 1.18+, Lua otherwise.
///
/// # Errors
/// [`Error::Unsupported`] for a delay without the native extension.
pub(crate) fn fault_extension(fault: &Fault, native: bool) -> Result<EnvoyExtension> {
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
pub(super) fn number(v: f64) -> serde_json::Value {
    if v.fract() == 0.0 && (0.0..=100.0).contains(&v) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, within 0..=100
        let whole = v as u64;
        json!(whole)
    } else {
        json!(v)
    }
}

pub(super) fn lua_abort_script(fraction: f64, status: u16) -> String {
    format!(
        "function envoy_on_request(request_handle)\n  if math.random() < {fraction} then\n    request_handle:respond({{[\":status\"] = \"{status}\"}}, \"fault injected by mesh\")\n  end\nend\n"
    )
}

pub(super) fn native(p: &Planner<'_>) -> bool {
    p.ctx.version.is_enterprise() && p.ctx.version.at_least(1, 18)
}

pub(super) fn defaults_key(p: &Planner<'_>, service: &ServiceId, feature: Feature) -> Result<EntryKey> {
    let ns = p.ns(service, feature)?;
    Ok(EntryKey::new(
        EntryKind::ServiceDefaults,
        ns.as_deref(),
        service.name.as_str(),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mesh_core::{Fault, HttpStatus, Percent};
    use serde_json::Value;

    use super::fault_extension;

    #[test]
    fn an_abort_is_native_on_enterprise_and_lua_otherwise() {
        let abort = Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: HttpStatus::new(503).unwrap(),
        };
        let native = fault_extension(&abort, true).unwrap();
        assert_eq!(native.name, "builtin/fault-injection");
        let args = Value::Object(native.arguments.unwrap());
        assert_eq!(args["Config"]["Abort"]["HttpStatus"], 503);
        let lua = fault_extension(&abort, false).unwrap();
        assert_eq!(lua.arguments.unwrap()["Listener"], "inbound");
    }

    #[test]
    fn emitted_fault_extensions_match_the_upstream_examples() {
        let read = |f: &str| -> Value {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/upstream")
                .join(f);
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        };
        let abort = Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: HttpStatus::new(503).unwrap(),
        };
        let delay = Fault::Delay {
            percent: Percent::new(50.0).unwrap(),
            duration: Duration::from_millis(100),
        };
        for (fault, file) in [
            (
                abort.clone(),
                "derived-service-defaults-fault-injection-abort-ent.json",
            ),
            (delay, "derived-service-defaults-fault-injection-delay-ent.json"),
        ] {
            let ext = fault_extension(&fault, true).unwrap();
            assert_eq!(
                serde_json::to_value(&ext).unwrap(),
                read(file)["EnvoyExtensions"][0],
                "{file}"
            );
        }
        let lua = serde_json::to_value(fault_extension(&abort, false).unwrap()).unwrap();
        let upstream = read("derived-service-defaults-lua-extension.json");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&lua["Arguments"]),
            keys(&upstream["EnvoyExtensions"][0]["Arguments"])
        );
        assert_eq!(lua["Name"], upstream["EnvoyExtensions"][0]["Name"]);
    }
}
