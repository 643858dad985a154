//! `ServiceEntry`: registers a service whose instances run outside Kubernetes (VMs).
//!
//! The entry is `MESH_INTERNAL` and selects its instances, one
//! [`WorkloadEntry`](super::workload_entry) each, with `workloadSelector.labels` (`app: <name>`).
//! Its `resolution` is `STATIC` while every instance is an IP address, and `DNS` once one is a
//! host name: under `STATIC` Envoy would take the name as an address and never resolve it.
//! A WorkloadSelector only matches WorkloadEntries in the same namespace, so both live in the
//! service's namespace.

use std::collections::BTreeMap;

use mesh_core::{Protocol, SelectorLabels, ServiceDefinition};
use serde_json::{Value, json};

use crate::objects::{self, WORKLOAD_ENTRIES_ANNOTATION};

/// The port name Istio infers the protocol from (`http`, `http2`, `grpc`, `tcp`).
pub(crate) fn port_name(protocol: Protocol) -> &'static str {
    protocol.as_str()
}

/// The `ports[].protocol` value (`HTTP`, `HTTP2`, `GRPC`, `TCP`).
pub(crate) fn istio_protocol(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "HTTP",
        Protocol::Http2 => "HTTP2",
        Protocol::Grpc => "GRPC",
        Protocol::Tcp => "TCP",
    }
}

/// The labels that tie a service's WorkloadEntries to its ServiceEntry: `app: <name>`.
pub(crate) fn selector_labels(def: &ServiceDefinition, keys: &SelectorLabels) -> BTreeMap<String, String> {
    BTreeMap::from([(keys.app().to_owned(), def.name.to_string())])
}

/// The WorkloadEntry names registered per version, as recorded on a ServiceEntry; the key `-`
/// stands for "no version".
pub(crate) fn registered_workloads(service_entry: &Value) -> BTreeMap<String, Vec<String>> {
    mesh_kube::keys::annotation(service_entry, WORKLOAD_ENTRIES_ANNOTATION)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default()
}

/// The key under which [`registered_workloads`] records a definition's entries.
pub(crate) fn version_key(def: &ServiceDefinition) -> String {
    def.version
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// `DNS` when an endpoint of `def` is a host name (or `dns` says the entry already resolves
/// names), else `STATIC`.
pub(crate) fn resolution(def: &ServiceDefinition, dns: bool) -> &'static str {
    let names_a_host = def
        .endpoints
        .iter()
        .any(|e| e.address.parse::<std::net::IpAddr>().is_err());
    if dns || names_a_host { "DNS" } else { "STATIC" }
}

/// Whether an existing ServiceEntry resolves host names (`resolution: DNS`).
pub(crate) fn resolves_names(service_entry: &Value) -> bool {
    service_entry["spec"]["resolution"] == "DNS"
}

/// The ServiceEntry for `def`, recording `workloads` (version key → WorkloadEntry names).
/// Pass `dns: true` when the entry already resolves names (an earlier version registered host
/// names): it stays `DNS` so that their WorkloadEntries keep working.
pub(crate) fn service_entry(
    def: &ServiceDefinition,
    workloads: &BTreeMap<String, Vec<String>>,
    dns: bool,
    keys: &SelectorLabels,
) -> Value {
    let target = objects::service_entry(&def.id());
    let spec = json!({
        "hosts": [def.id().fqdn()],
        "location": "MESH_INTERNAL",
        "resolution": resolution(def, dns),
        "ports": [{
            "number": def.port.get(),
            "name": port_name(def.protocol),
            "protocol": istio_protocol(def.protocol),
        }],
        "workloadSelector": { "labels": selector_labels(def, keys) },
    });
    let mut se = super::new_object(&target, spec);
    let mut annotations: BTreeMap<String, String> = def
        .metadata
        .iter()
        .filter(|(k, _)| is_annotation_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !workloads.is_empty() {
        let recorded = serde_json::to_string(workloads).unwrap_or_default();
        annotations.insert(WORKLOAD_ENTRIES_ANNOTATION.to_owned(), recorded);
    }
    if !annotations.is_empty() {
        se["metadata"]["annotations"] = json!(annotations);
    }
    se
}

/// True when `key` is a valid Kubernetes annotation key (`[prefix/]name`). Metadata keys that are
/// not are left out of the ServiceEntry; the planner warns about them.
pub(crate) fn is_annotation_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.')
                .all(|label| mesh_core::names::check_rfc1123_label(label).is_ok())
    });
    name_ok && prefix_ok
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn port_name_example() {
        use mesh_core::Protocol;
        assert_eq!(crate::translate::service_entry::port_name(Protocol::Grpc), "grpc");
    }

    #[test]
    fn istio_protocol_example() {
        use mesh_core::Protocol;
        assert_eq!(
            crate::translate::service_entry::istio_protocol(Protocol::Http2),
            "HTTP2"
        );
    }

    #[test]
    fn selector_labels_example() {
        let def = mesh_core::ServiceDefinition::builder("legacy", "prod", 8080).unwrap();
        let labels = crate::translate::service_entry::selector_labels(&def, &Default::default());
        assert_eq!(labels["app"], "legacy");
    }

    #[test]
    fn registered_workloads_example() {
        use crate::translate::service_entry::registered_workloads;
        let se = serde_json::json!({"metadata": {"annotations": {"meshctl.dev/workload-entries": "{\"v1\":[\"a\",\"b\"]}"}}});
        assert_eq!(registered_workloads(&se)["v1"], vec!["a", "b"]);
        // Written by an earlier release, under the old prefix: still read.
        let old = serde_json::json!({"metadata": {"annotations": {"mesh.io/workload-entries": "{\"v1\":[\"a\"]}"}}});
        assert_eq!(registered_workloads(&old)["v1"], vec!["a"]);
        assert!(registered_workloads(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn version_key_example() {
        let def = mesh_core::ServiceDefinition::builder("legacy", "prod", 8080).unwrap();
        assert_eq!(crate::translate::service_entry::version_key(&def), "-");
    }

    #[test]
    fn resolution_example() {
        use crate::translate::service_entry::resolution;
        use mesh_core::{Endpoint, Port, ServiceDefinition};
        let p = Port::new(8080).unwrap();
        let def = ServiceDefinition::builder("legacy", "prod", 8080).unwrap();
        let ip = def.clone().endpoint(Endpoint::new("10.0.0.5", p).unwrap());
        let host = def.endpoint(Endpoint::new("vm-1.example.com", p).unwrap());
        assert_eq!(resolution(&ip, false), "STATIC");
        assert_eq!(resolution(&ip, true), "DNS");
        assert_eq!(resolution(&host, false), "DNS");
    }

    #[test]
    fn resolves_names_example() {
        use crate::translate::service_entry::resolves_names;
        assert!(resolves_names(
            &serde_json::json!({"spec": {"resolution": "DNS"}})
        ));
        assert!(!resolves_names(
            &serde_json::json!({"spec": {"resolution": "STATIC"}})
        ));
    }

    #[test]
    fn service_entry_example() {
        use mesh_core::{Endpoint, Port, ServiceDefinition};
        use std::collections::BTreeMap;
        let def = ServiceDefinition::builder("legacy", "prod", 8080)
            .unwrap()
            .endpoint(Endpoint::new("10.0.0.5", Port::new(8080).unwrap()).unwrap());
        let se = crate::translate::service_entry::service_entry(
            &def,
            &BTreeMap::new(),
            false,
            &Default::default(),
        );
        assert_eq!(se["spec"]["hosts"][0], "legacy.prod.svc.cluster.local");
        assert_eq!(se["spec"]["location"], "MESH_INTERNAL");
        assert_eq!(se["spec"]["resolution"], "STATIC");
        assert_eq!(se["spec"]["ports"][0]["protocol"], "HTTP");
        assert_eq!(se["spec"]["workloadSelector"]["labels"]["app"], "legacy");
    }

    #[test]
    fn is_annotation_key_example() {
        use crate::translate::service_entry::is_annotation_key;
        assert!(is_annotation_key("team"));
        assert!(is_annotation_key("example.com/owner"));
        assert!(!is_annotation_key("has space"));
    }
}
