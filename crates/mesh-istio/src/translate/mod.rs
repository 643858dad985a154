//! Pure translation from `mesh-core` types to Istio objects (`serde_json::Value`), one file per
//! object. Nothing here reads or writes the cluster.
//!
//! Every function writes the exact field names of the pinned Istio 1.29 CRDs (`networking.istio.io/v1`
//! and `security.istio.io/v1`) and uses fully qualified host names ([`mesh_core::ServiceId::fqdn`]).

pub(crate) mod authorization_policy;
pub(crate) mod destination_rule;
pub(crate) mod fault;
pub(crate) mod peer_authentication;
pub(crate) mod service_entry;
pub(crate) mod virtual_service;
pub(crate) mod workload_entry;

use mesh_core::{Error, ObjectRef};
use serde_json::{Map, Value, json};

use crate::objects::{MANAGED_BY, MANAGED_BY_LABEL};

/// A new object of `target`'s kind with the library's ownership label and the given `spec`.
pub(crate) fn new_object(target: &ObjectRef, spec: Value) -> Value {
    // Built field by field: `json!` would copy `spec` through serde.
    let mut labels = Map::new();
    labels.insert(MANAGED_BY_LABEL.to_owned(), Value::from(MANAGED_BY));
    let mut metadata = Map::new();
    metadata.insert("name".to_owned(), Value::from(target.name.as_str()));
    metadata.insert("labels".to_owned(), Value::Object(labels));
    if let Some(ns) = &target.namespace {
        metadata.insert("namespace".to_owned(), Value::from(ns.as_str()));
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".to_owned(), Value::from(target.api_version.as_str()));
    obj.insert("kind".to_owned(), Value::from(target.kind.as_str()));
    obj.insert("metadata".to_owned(), Value::Object(metadata));
    obj.insert("spec".to_owned(), spec);
    Value::Object(obj)
}

/// Reuses an object read from the cluster as the base of a full replacement: keeps its identity,
/// labels, annotations and `resourceVersion`, and drops server-owned bookkeeping (`managedFields`,
/// `status`), so that a guarded PUT changes nothing but what the library means to change.
pub(crate) fn replacement_base(existing: &Value) -> Value {
    let mut out = existing.clone();
    drop_bookkeeping(&mut out);
    out
}

/// Removes `status` and `metadata.managedFields`, and gives the object a `spec` if it has none.
fn drop_bookkeeping(obj: &mut Value) {
    if let Some(obj) = obj.as_object_mut() {
        obj.remove("status");
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        if !obj.contains_key("spec") {
            obj.insert("spec".to_owned(), json!({}));
        }
    }
}

/// [`replacement_base`] with `value` at `path`, without copying what `value` replaces (a
/// VirtualService's whole `http[]` list, say).
pub(crate) fn replacement_base_with(existing: &Value, path: &[&str], value: Value) -> Value {
    /// `v` with `value` at `path`, copying everything else.
    fn replaced(v: &Value, path: &[&str], skip: &[&str], value: Value) -> Value {
        let Some((first, rest)) = path.split_first() else {
            return value;
        };
        let mut out = Map::new();
        let mut child = &Value::Null;
        for (k, x) in v.as_object().into_iter().flatten() {
            if k == first {
                child = x;
            } else if !skip.contains(&k.as_str()) {
                out.insert(k.clone(), x.clone());
            }
        }
        out.insert((*first).to_owned(), replaced(child, rest, &[], value));
        Value::Object(out)
    }
    let mut out = replaced(existing, path, &["status"], value);
    drop_bookkeeping(&mut out);
    out
}

/// The `metadata.resourceVersion` of an object read from the cluster.
pub(crate) fn resource_version(obj: &Value) -> Option<String> {
    obj["metadata"]["resourceVersion"].as_str().map(str::to_owned)
}

/// True when two objects hold the same content: everything but `status` and the server's
/// bookkeeping in `metadata` (`resourceVersion`, `uid`, `generation`, `creationTimestamp`,
/// `managedFields`). Compares in place, without copying either object.
pub(crate) fn same_content(a: &Value, b: &Value) -> bool {
    const SERVER_OWNED: [&str; 5] = [
        "resourceVersion",
        "uid",
        "generation",
        "creationTimestamp",
        "managedFields",
    ];
    fn body(obj: &Value) -> impl Iterator<Item = (&String, &Value)> {
        obj.as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "status" && *k != "metadata")
    }
    fn metadata(obj: &Value) -> impl Iterator<Item = (&String, &Value)> {
        obj["metadata"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| !SERVER_OWNED.contains(&k.as_str()))
    }
    body(a).eq(body(b)) && metadata(a).eq(metadata(b))
}

/// Sets `value` at `path` below `root`, turning missing or non-object levels into objects.
pub(crate) fn set_path(root: &mut Value, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *root = value;
        return;
    };
    if !root.is_object() {
        *root = Value::Object(Map::new());
    }
    if let Value::Object(map) = root {
        set_path(map.entry(*first).or_insert(Value::Null), rest, value);
    }
}

/// A count as Istio's `int32`, or an error naming the field.
pub(crate) fn int32(field: &str, value: u32) -> Result<i64, Error> {
    if i32::try_from(value).is_err() {
        return Err(Error::invalid(
            field,
            format!("{value} exceeds Istio's int32 limit {}", i32::MAX),
        ));
    }
    Ok(i64::from(value))
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn new_object_example() {
        use crate::{objects, translate};
        let obj = translate::new_object(
            &objects::virtual_service(&"prod/api".parse().unwrap()),
            serde_json::json!({}),
        );
        assert_eq!(obj["apiVersion"], "networking.istio.io/v1");
        assert_eq!(obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "mesh");
    }

    #[test]
    fn replacement_base_example() {
        let read = serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "api", "namespace": "prod", "resourceVersion": "7", "managedFields": [{}]},
            "spec": {"hosts": ["api.prod.svc.cluster.local"]}, "status": {}
        });
        let base = crate::translate::replacement_base(&read);
        assert_eq!(base["metadata"]["resourceVersion"], "7");
        assert!(base["metadata"].get("managedFields").is_none());
        assert!(base.get("status").is_none());
    }

    #[test]
    fn replacement_base_with_example() {
        let read = serde_json::json!({
            "metadata": {"name": "api", "resourceVersion": "7", "managedFields": [{}]},
            "spec": {"hosts": ["api"], "http": [{"name": "old"}]}, "status": {}
        });
        let base = crate::translate::replacement_base_with(&read, &["spec", "http"], serde_json::json!([]));
        assert_eq!(
            base,
            serde_json::json!({
                "metadata": {"name": "api", "resourceVersion": "7"},
                "spec": {"hosts": ["api"], "http": []}
            })
        );
    }

    #[test]
    fn resource_version_example() {
        let obj = serde_json::json!({"metadata": {"resourceVersion": "42"}});
        assert_eq!(crate::translate::resource_version(&obj), Some("42".to_owned()));
    }
}
