//! Consul on Kubernetes: a config entry as the consul-k8s custom resource that declares it
//! (`consul.hashicorp.com/v1alpha1` `ServiceDefaults`, `ServiceResolver`, `ServiceSplitter`,
//! `ServiceRouter`, `ServiceIntentions`, `ProxyDefaults`, `Mesh`), so that a Consul render can be
//! applied with `kubectl` or kept in a GitOps repository. Pure: no I/O.
//!
//! The entry's fields become the resource's `spec` with the first letter lowered
//! (`UpstreamConfig` → `upstreamConfig`, `MutualTLSMode` → `mutualTLSMode`), and all-capital names
//! lowered whole (`HTTP` → `http`). Map keys that are names (resolver subsets) and extension
//! arguments are kept as written. An intention's `Name` is its `spec.destination.name`.

use mesh_core::{Error, Plan, WriteAction};
use serde_json::{Map, Value, json};

/// The consul-k8s API group and version.
pub(crate) const API_VERSION: &str = "consul.hashicorp.com/v1alpha1";

/// The consul-k8s kind of a config-entry kind (`service-router` → `ServiceRouter`).
pub(crate) fn kind_of(entry_kind: &str) -> Option<&'static str> {
    Some(match entry_kind {
        "service-defaults" => "ServiceDefaults",
        "service-resolver" => "ServiceResolver",
        "service-splitter" => "ServiceSplitter",
        "service-router" => "ServiceRouter",
        "service-intentions" => "ServiceIntentions",
        "proxy-defaults" => "ProxyDefaults",
        "mesh" => "Mesh",
        _ => return None,
    })
}

/// The custom resource declaring `entry` (a config entry as Consul's API takes it) in the
/// Kubernetes namespace `namespace`.
///
/// ```
/// use serde_json::json;
/// let entry = json!({"Kind": "service-splitter", "Name": "reviews",
///     "Splits": [{"Weight": 90, "ServiceSubset": "v1"}, {"Weight": 10, "ServiceSubset": "v2"}]});
/// let crd = mesh_consul::crd::to_resource(&entry, "shop").unwrap();
/// assert_eq!(crd["kind"], "ServiceSplitter");
/// assert_eq!(crd["metadata"], json!({"name": "reviews", "namespace": "shop"}));
/// assert_eq!(crd["spec"]["splits"][1], json!({"weight": 10, "serviceSubset": "v2"}));
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for an entry kind consul-k8s has no resource for, or an entry without
/// a `Kind` or `Name`.
pub fn to_resource(entry: &Value, namespace: &str) -> Result<Value, Error> {
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::invalid("entry", format!("a config entry needs a string {name}")))
    };
    let entry_kind = field("Kind")?;
    // The mesh entry is a singleton without a name; consul-k8s names its resource `mesh`.
    let name = match (entry_kind, field("Name")) {
        ("mesh", Err(_)) => "mesh",
        (_, name) => name?,
    };
    let kind = kind_of(entry_kind).ok_or_else(|| {
        Error::invalid(
            "entry",
            format!("consul-k8s has no custom resource for {entry_kind} entries"),
        )
    })?;
    let mut spec = Map::new();
    for (key, value) in entry.as_object().into_iter().flatten() {
        match key.as_str() {
            // Where the entry lives comes from the resource's metadata; Meta is consul-k8s's own.
            "Kind" | "Name" | "Namespace" | "Partition" | "Meta" | "CreateIndex" | "ModifyIndex" => {}
            _ => {
                spec.insert(field_name(key), spec_value(key, value));
            }
        }
    }
    if entry_kind == "service-intentions" {
        spec.insert("destination".into(), json!({ "name": name }));
        // consul-k8s sources are Consul services: the resource has no `type` for the default one.
        for source in spec
            .get_mut("sources")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object_mut)
        {
            if source.get("type").and_then(Value::as_str) == Some("consul") {
                source.remove("type");
            }
        }
    }
    Ok(json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": { "name": name, "namespace": namespace },
        "spec": spec,
    }))
}

/// What a Consul plan declares as consul-k8s resources, in plan order; and, for each write no
/// resource declares (agent registrations, which consul-k8s makes from the Kubernetes Service
/// itself, and deletions), a line saying so.
///
/// # Errors
/// As [`to_resource`].
pub fn plan_resources(plan: &Plan, namespace: &str) -> Result<(Vec<Value>, Vec<String>), Error> {
    let mut resources = Vec::new();
    let mut notes = Vec::new();
    for w in &plan.writes {
        match (&w.action, &w.body) {
            (WriteAction::Delete, _) => notes.push(format!("delete the resource of {}", w.target)),
            (_, Some(body)) if kind_of(&w.target.kind).is_some() => {
                resources.push(to_resource(body, namespace)?);
            }
            _ => notes.push(format!(
                "{}: consul-k8s registers a Kubernetes Service's pods itself (connect-inject)",
                w.target
            )),
        }
    }
    Ok((resources, notes))
}

/// `UpstreamConfig` → `upstreamConfig`, `HTTP` → `http`, `MutualTLSMode` → `mutualTLSMode`.
fn field_name(key: &str) -> String {
    if key.chars().all(|c| !c.is_lowercase()) {
        return key.to_lowercase();
    }
    let mut chars = key.chars();
    chars
        .next()
        .map(|first| first.to_lowercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The value under `key`, its own field names converted, except where the keys are data.
fn spec_value(key: &str, value: &Value) -> Value {
    match (key, value) {
        // Extension arguments are the extension's own input, passed on as written.
        ("Arguments", v) => v.clone(),
        // Resolver subsets are keyed by subset name.
        ("Subsets" | "Failover", Value::Object(map)) => {
            Value::Object(map.iter().map(|(name, v)| (name.clone(), converted(v))).collect())
        }
        (_, v) => converted(v),
    }
}

fn converted(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (field_name(k), spec_value(k, v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(converted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_consul_k8s() {
        for (entry, crd) in [
            ("UpstreamConfig", "upstreamConfig"),
            ("HTTP", "http"),
            ("MutualTLSMode", "mutualTLSMode"),
            ("SourceIP", "sourceIP"),
            ("ConnectTimeoutMs", "connectTimeoutMs"),
            (
                "AllowEnablingPermissiveMutualTLS",
                "allowEnablingPermissiveMutualTLS",
            ),
        ] {
            assert_eq!(field_name(entry), crd);
        }
    }

    #[test]
    fn subset_names_and_extension_arguments_are_kept() {
        let resolver = json!({"Kind": "service-resolver", "Name": "reviews",
            "Subsets": {"V1": {"Filter": "Service.Meta.version == \"V1\""}}});
        let crd = to_resource(&resolver, "default").unwrap();
        assert_eq!(
            crd["spec"]["subsets"]["V1"]["filter"],
            "Service.Meta.version == \"V1\""
        );
        let defaults = json!({"Kind": "service-defaults", "Name": "reviews",
            "EnvoyExtensions": [{"Name": "builtin/lua", "Arguments": {"ProxyType": "connect-proxy"}}]});
        let crd = to_resource(&defaults, "default").unwrap();
        assert_eq!(
            crd["spec"]["envoyExtensions"][0]["arguments"]["ProxyType"],
            "connect-proxy"
        );
    }

    #[test]
    fn an_intention_names_its_destination() {
        let entry = json!({"Kind": "service-intentions", "Name": "reviews",
            "Sources": [{"Name": "productpage", "Action": "allow"}]});
        let crd = to_resource(&entry, "default").unwrap();
        assert_eq!(crd["spec"]["destination"], json!({"name": "reviews"}));
        assert_eq!(
            crd["spec"]["sources"][0],
            json!({"name": "productpage", "action": "allow"})
        );
        let typed = json!({"Kind": "service-intentions", "Name": "reviews",
            "Sources": [{"Name": "productpage", "Action": "allow", "Type": "consul"}]});
        assert!(
            to_resource(&typed, "default").unwrap()["spec"]["sources"][0]
                .get("type")
                .is_none()
        );
    }

    #[test]
    fn the_mesh_singleton_is_named_mesh() {
        let crd = to_resource(
            &json!({"Kind": "mesh", "AllowEnablingPermissiveMutualTLS": false}),
            "consul",
        )
        .unwrap();
        assert_eq!(crd["kind"], "Mesh");
        assert_eq!(crd["metadata"]["name"], "mesh");
        assert_eq!(crd["spec"], json!({"allowEnablingPermissiveMutualTLS": false}));
    }

    #[test]
    fn an_entry_without_a_resource_is_refused() {
        let err = to_resource(
            &json!({"Kind": "exported-services", "Name": "default"}),
            "default",
        )
        .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
        assert!(to_resource(&json!({"Name": "x"}), "default").is_err());
    }
}
