//! What an entry means, as opposed to how the agent spells it: the one comparison behind every
//! "is this entry already as wanted?" of the translation.
//!
//! A real agent answers an entry with defaults filled in and values respelled (Consul 1.22.7,
//! measured in the test environment): `Protocol: ""`, `TransparentProxy: {}`, `MeshGateway: {}`
//! and `Expose: {}` on service-defaults and proxy-defaults; `Peer: ""` and `MeshGateway: {}` on
//! each upstream override; `Required: false`, `ConsulVersion: ""` and `EnvoyVersion: ""` on each
//! Envoy extension; `Precedence` and `Type: "consul"` on each intention source; a `Hash`;
//! `PassiveHealthCheck` durations as integer nanoseconds and other durations in Go's spelling
//! (`"1.5s"` for `"1500ms"`); and a `false` left out. [`settings`] maps both spellings to one.

use serde_json::{Map, Value};

use super::{ConfigEntry, EntryKind};

/// Fields whose value is a duration: a Go duration string or integer nanoseconds.
const DURATIONS: [&str; 6] = [
    "ConnectTimeout",
    "RequestTimeout",
    "IdleTimeout",
    "PerTryTimeout",
    "Interval",
    "BaseEjectionTime",
];

/// Fields the agent computes: never a setting.
const COMPUTED: [&str; 3] = ["Hash", "CreateIndex", "ModifyIndex"];

/// Maps whose content is the user's (Envoy's or the extension's own), compared verbatim.
const OPAQUE: [&str; 3] = ["Config", "Arguments", "Meta"];

/// The settings of `entry`: its JSON with what the agent computes dropped, every zero value (`""`,
/// `false`, `{}`, `[]`, `null`) dropped as absent, each duration as integer nanoseconds and, on
/// intention sources, `Precedence` and the default `Type: "consul"` dropped. Two entries with the
/// same settings configure the same thing.
pub(crate) fn settings(entry: &ConfigEntry) -> Value {
    let mut v = entry.to_json();
    if let Value::Object(fields) = &mut v {
        for f in COMPUTED {
            fields.remove(f);
        }
        if entry.kind() == EntryKind::ServiceIntentions
            && let Some(Value::Array(sources)) = fields.get_mut("Sources")
        {
            for source in sources.iter_mut().filter_map(Value::as_object_mut) {
                source.remove("Precedence");
                if source.get("Type").and_then(Value::as_str) == Some("consul") {
                    source.remove("Type");
                }
            }
        }
    }
    normalise(&mut v);
    v
}

/// Whether `a` and `b` configure the same thing ([`settings`]).
pub(crate) fn same_settings(a: &ConfigEntry, b: &ConfigEntry) -> bool {
    settings(a) == settings(b)
}

fn normalise(v: &mut Value) {
    match v {
        Value::Object(fields) => normalise_fields(fields),
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn normalise_fields(fields: &mut Map<String, Value>) {
    for (key, value) in fields.iter_mut() {
        if DURATIONS.contains(&key.as_str()) {
            if let Some(nanos) = nanos(value) {
                *value = Value::from(nanos);
            }
        } else if !OPAQUE.contains(&key.as_str()) {
            normalise(value);
        }
    }
    fields.retain(|_, value| !is_zero(value));
}

/// A duration as integer nanoseconds, from either spelling.
pub(crate) fn nanos(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => mesh_core::units::parse_duration(s)
            .ok()
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        _ => None,
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::same_settings;
    use crate::model::ConfigEntry;

    fn entry(v: serde_json::Value) -> ConfigEntry {
        ConfigEntry::from_json(v).unwrap()
    }

    #[test]
    fn what_the_agent_fills_in_is_not_a_setting() {
        let written = entry(json!({"Kind": "service-defaults", "Name": "web",
            "UpstreamConfig": {"Overrides": [{"Name": "db", "PassiveHealthCheck": {"Interval": "10s", "MaxFailures": 5}}]},
            "EnvoyExtensions": [{"Name": "builtin/lua", "Arguments": {"Script": "x"}}]}));
        let answered = entry(json!({"Kind": "service-defaults", "Name": "web", "Protocol": "",
            "TransparentProxy": {}, "MeshGateway": {}, "Expose": {}, "Hash": 1, "ModifyIndex": 7,
            "UpstreamConfig": {"Overrides": [{"Name": "db", "Peer": "", "MeshGateway": {},
                "PassiveHealthCheck": {"Interval": 10_000_000_000_u64, "MaxFailures": 5}}]},
            "EnvoyExtensions": [{"Name": "builtin/lua", "Required": false, "Arguments": {"Script": "x"},
                "ConsulVersion": "", "EnvoyVersion": ""}]}));
        assert!(same_settings(&written, &answered));
        let intentions = |extra: serde_json::Value| {
            let mut source = json!({"Name": "web", "Action": "allow"});
            source
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            entry(json!({"Kind": "service-intentions", "Name": "db", "Sources": [source]}))
        };
        assert!(same_settings(
            &intentions(json!({})),
            &intentions(json!({"Precedence": 9, "Type": "consul"}))
        ));
        let router = |t: &str| {
            entry(json!({"Kind": "service-router", "Name": "web",
                "Routes": [{"Destination": {"RequestTimeout": t}}]}))
        };
        assert!(same_settings(&router("1500ms"), &router("1.5s")));
    }

    #[test]
    fn a_setting_still_differs() {
        let sd = |v: serde_json::Value| {
            entry(json!({"Kind": "service-defaults", "Name": "web", "UpstreamConfig": {"Overrides": [v]}}))
        };
        assert!(!same_settings(
            &sd(json!({"Name": "db", "PassiveHealthCheck": {"Interval": "10s"}})),
            &sd(json!({"Name": "db", "PassiveHealthCheck": {"Interval": 20_000_000_000_u64}}))
        ));
        assert!(!same_settings(
            &sd(json!({"Name": "db", "PassiveHealthCheck": {"EnforcingConsecutive5xx": 0}})),
            &sd(json!({"Name": "db"}))
        ));
        let source = |t: &str| {
            entry(
                json!({"Kind": "service-intentions", "Name": "db", "Sources": [{"Name": "web", "Action": "allow", "Type": t}]}),
            )
        };
        assert!(!same_settings(&source("consul"), &source("other")));
        let meta = |v: &str| entry(json!({"Kind": "service-defaults", "Name": "web", "Meta": {"k": v}}));
        assert!(!same_settings(
            &meta(""),
            &entry(json!({"Kind": "service-defaults", "Name": "web", "Meta": {}}))
        ));
    }
}
