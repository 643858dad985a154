//! Version subsets: Linkerd has none, so each version gets its own Service.

use mesh_core::{SelectorLabels, ServiceId, Subset};
use serde_json::{Map, Value, json};

use crate::objects;

/// The selector of the apex Service, or `<app label>: <name>` when it has none.
pub(crate) fn apex_selector(
    id: &ServiceId,
    apex: Option<&Value>,
    keys: &SelectorLabels,
) -> Map<String, Value> {
    apex.and_then(|a| a["spec"]["selector"].as_object().cloned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| Map::from_iter([(keys.app().to_owned(), json!(id.name.as_str()))]))
}

/// The ports of the apex Service, keeping only what a per-version copy needs.
pub(crate) fn copied_ports(apex: &Value) -> Vec<Value> {
    apex["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let mut out = Map::new();
            for key in ["name", "port", "targetPort", "protocol", "appProtocol"] {
                if !p[key].is_null() {
                    out.insert(key.to_owned(), p[key].clone());
                }
            }
            Value::Object(out)
        })
        .collect()
}

/// The first port of a Service, which routes use as parent and backend port.
pub(crate) fn first_port(svc: &Value) -> Option<u16> {
    svc["spec"]["ports"][0]["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
}

/// The per-version Service of `subset`: the apex selector plus the subset's labels, the apex ports.
pub(crate) fn version_service(id: &ServiceId, apex: &Value, subset: &Subset, keys: &SelectorLabels) -> Value {
    let mut selector = apex_selector(id, Some(apex), keys);
    for (k, v) in subset.effective_labels_with(keys) {
        selector.insert(k, json!(v));
    }
    let target = objects::version_service(id, &subset.version);
    let mut body = objects::owned_object(
        &target,
        json!({ "selector": selector, "ports": copied_ports(apex) }),
    );
    body["metadata"]["labels"]["meshctl.dev/version-of"] = json!(id.name.as_str());
    body
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn version_service_example() {
        use mesh_core::{Subset, Version};
        use serde_json::json;
        let apex =
            json!({"spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}});
        let v2 = Subset::for_version(Version::new("v2").unwrap());
        let keys = Default::default();
        let svc =
            crate::translate::subsets::version_service(&"prod/reviews".parse().unwrap(), &apex, &v2, &keys);
        assert_eq!(svc["metadata"]["name"], "reviews-v2");
        assert_eq!(
            svc["spec"]["selector"],
            json!({"app": "reviews", "version": "v2"})
        );
        assert_eq!(svc["spec"]["ports"][0]["port"], 9080);
    }
}
