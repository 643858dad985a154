//! Every upstream Consul body in `testdata/upstream/` parses into the typed models and serializes
//! back to semantically equal JSON.
//!
//! Documented normalizations, applied to the input only:
//! - agent service definitions written in snake_case are compared after their keys are turned
//!   into PascalCase (the agent accepts both; the models always write PascalCase), except inside
//!   opaque maps (`Meta`, `Config`);
//! - a config-file body `{"services": [...]}` is checked one service at a time.

use std::path::PathBuf;

use mesh_consul::model::{AgentServiceRegistration, CaRoots, ConfigEntry};
use serde_json::{Map, Value};

fn upstream_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/upstream")
}

fn pascal(key: &str) -> String {
    if !key.contains('_') && key.chars().next().is_some_and(char::is_uppercase) {
        return key.to_owned();
    }
    key.split('_')
        .map(|part| match part {
            "id" | "tcp" | "http" | "grpc" | "ttl" | "tls" | "sni" | "json" => part.to_uppercase(),
            _ => {
                let mut c = part.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
        })
        .collect()
}

fn normalize_case(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = pascal(k);
                    let opaque = matches!(key.as_str(), "Meta" | "Config");
                    (key, if opaque { v.clone() } else { normalize_case(v) })
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(normalize_case).collect()),
        other => other.clone(),
    }
}

fn roundtrip_registration(input: &Value, file: &str) {
    let parsed: AgentServiceRegistration =
        serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let back = serde_json::to_value(&parsed).unwrap();
    assert_eq!(back, normalize_case(input), "{file}: registration round trip");
}

#[test]
fn all_upstream_bodies_round_trip() {
    let mut files: Vec<_> = std::fs::read_dir(upstream_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 43, "the upstream collection has 43 bodies");
    let mut checked = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let input: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        if file.starts_with("agent-") {
            match input.get("services").and_then(Value::as_array) {
                Some(list) => list.iter().for_each(|s| roundtrip_registration(s, &file)),
                None => roundtrip_registration(&input, &file),
            }
        } else if file.starts_with("connect-ca-roots") {
            let parsed: CaRoots = serde_json::from_value(input.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), input, "{file}");
            assert!(parsed.active_root().is_some());
        } else if file.starts_with("connect-ca-configuration") {
            // Not a config entry: the CA configuration is read-only here and kept as JSON.
            assert!(input["Provider"].is_string());
        } else {
            let entry: ConfigEntry =
                serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
            let back = serde_json::to_value(&entry).unwrap();
            assert_eq!(back, input, "{file}: config entry round trip");
            // A second trip is stable too.
            let again: ConfigEntry = serde_json::from_value(back.clone()).unwrap();
            assert_eq!(again, entry, "{file}");
        }
        checked += 1;
    }
    assert_eq!(checked, 43);
}

#[test]
fn typed_fields_are_read_not_left_in_extra() {
    let read = |f: &str| -> ConfigEntry {
        serde_json::from_str(&std::fs::read_to_string(upstream_dir().join(f)).unwrap()).unwrap()
    };
    let ConfigEntry::ServiceDefaults(sd) = read("api-test-service-defaults-upstream-config.json") else {
        panic!("kind")
    };
    let up = sd.upstream_config.unwrap();
    let defaults = up.defaults.unwrap();
    assert_eq!(defaults.limits.unwrap().max_connections, Some(3));
    assert_eq!(defaults.connect_timeout_ms, Some(5000));
    assert_eq!(defaults.envoy_cluster_json.as_deref(), Some("zip"));
    let overrides = up.overrides.unwrap();
    assert_eq!(
        overrides[0].passive_health_check.as_ref().unwrap().max_failures,
        Some(3)
    );
    assert!(sd.extra.contains_key("TransparentProxy"));
    assert!(!sd.extra.contains_key("Meta") && sd.meta.meta.is_some());

    let ConfigEntry::ServiceResolver(r) = read("api-test-service-resolver-subsets-failover.json") else {
        panic!("kind")
    };
    assert_eq!(r.subset_names(), ["v1", "v2"]);
    assert_eq!(r.subsets.unwrap()["v2"].only_passing, Some(true));

    let ConfigEntry::ServiceSplitter(s) = read("api-test-service-splitter-kitchen-sink.json") else {
        panic!("kind")
    };
    assert!((s.splits[0].weight - 99.1).abs() < 1e-9);

    let ConfigEntry::ServiceDefaults(lua) = read("derived-service-defaults-lua-extension.json") else {
        panic!("kind")
    };
    let ext = &lua.envoy_extensions.unwrap()[0];
    assert_eq!(ext.arguments.as_ref().unwrap()["Listener"], "inbound");

    let get = read("config-api-get-sample-response.json");
    assert_eq!(get.modify_index(), Some(35));
    let body = get.into_write_body().to_json();
    assert!(body.get("ModifyIndex").is_none() && body.get("CreateIndex").is_none());
}
