//! Ownership marks on the objects the library writes, and the full object each write sends.

use mesh_core::{Write, WriteAction};
use serde_json::{Map, Value};

/// The label every object the library writes carries.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "mesh";

/// Adds the ownership label `app.kubernetes.io/managed-by: mesh` to an object, creating
/// `metadata.labels` as needed. Values that are not objects are left alone.
///
/// ```
/// let mut obj = serde_json::json!({ "metadata": { "name": "reviews" } });
/// mesh_kube::mark_owned(&mut obj);
/// assert_eq!(obj["metadata"]["labels"]["app.kubernetes.io/managed-by"], "mesh");
/// assert!(mesh_kube::is_owned(&obj));
/// ```
pub fn mark_owned(obj: &mut Value) {
    let Some(labels) = object_at(obj, &["metadata", "labels"]) else {
        return;
    };
    labels.insert(MANAGED_BY_LABEL.to_owned(), Value::from(MANAGED_BY_VALUE));
}

/// True when the object carries the ownership label.
///
/// ```
/// assert!(!mesh_kube::is_owned(&serde_json::json!({ "metadata": { "name": "users-own" } })));
/// ```
pub fn is_owned(obj: &Value) -> bool {
    obj.pointer("/metadata/labels")
        .and_then(|l| l.get(MANAGED_BY_LABEL))
        .and_then(Value::as_str)
        == Some(MANAGED_BY_VALUE)
}

/// Sets an annotation (such as a fault id), creating `metadata.annotations` as needed.
///
/// ```
/// let mut obj = serde_json::json!({});
/// mesh_kube::annotate(&mut obj, "meshctl.dev/fault", "mesh-fault-1a2b");
/// assert_eq!(obj["metadata"]["annotations"]["meshctl.dev/fault"], "mesh-fault-1a2b");
/// ```
pub fn annotate(obj: &mut Value, key: &str, value: &str) {
    if let Some(annotations) = object_at(obj, &["metadata", "annotations"]) {
        annotations.insert(key.to_owned(), Value::from(value));
    }
}

/// The object a write sends: its body with `apiVersion`, `kind`, `metadata.name` and
/// `metadata.namespace` filled in from the target, and the ownership label. `None` for deletes
/// and bodiless writes. Status writes keep their metadata as given: the status subresource
/// ignores labels.
///
/// ```
/// use mesh_core::{ObjectRef, Write, WriteAction};
/// let target = ObjectRef::new("security.istio.io/v1", "PeerAuthentication", Some("prod"), "default");
/// let body = serde_json::json!({ "spec": { "mtls": { "mode": "STRICT" } } });
/// let obj = mesh_kube::object_for(&Write::new(WriteAction::Apply, target, Some(body))).unwrap();
/// assert_eq!(obj["kind"], "PeerAuthentication");
/// assert_eq!(obj["metadata"]["namespace"], "prod");
/// assert!(mesh_kube::is_owned(&obj));
/// ```
pub fn object_for(write: &Write) -> Option<Value> {
    if write.action == WriteAction::Delete {
        return None;
    }
    let mut obj = write.body.clone()?;
    let map = obj.as_object_mut()?;
    map.insert(
        "apiVersion".into(),
        Value::from(write.target.api_version.as_str()),
    );
    map.insert("kind".into(), Value::from(write.target.kind.as_str()));
    if let Some(meta) = object_at(&mut obj, &["metadata"]) {
        meta.insert("name".into(), Value::from(write.target.name.as_str()));
        match &write.target.namespace {
            Some(ns) => meta.insert("namespace".into(), Value::from(ns.as_str())),
            None => meta.remove("namespace"),
        };
    }
    if owns_whole_object(write.action, &obj) {
        mark_owned(&mut obj);
    }
    Some(obj)
}

/// Whether a write makes the library the owner of the whole object, so it gets the ownership label.
///
/// A `Create`, or an `Apply` that carries more than metadata, does. A `Replace` is a read-modify-write
/// of an object that may be the user's: it keeps the labels it had (ours, if we created it). An
/// annotation-only `Apply` on a user's object (Linkerd's failure accrual on a Service) and a status
/// write do not claim the object.
fn owns_whole_object(action: WriteAction, obj: &Value) -> bool {
    let metadata_only = obj.as_object().is_some_and(|m| {
        m.keys()
            .all(|k| matches!(k.as_str(), "apiVersion" | "kind" | "metadata"))
    });
    match action {
        WriteAction::Create => true,
        WriteAction::Apply => !metadata_only,
        WriteAction::Replace | WriteAction::ApplyStatus | WriteAction::Delete => false,
    }
}

/// The object at `path` inside `obj`, created (as `{}`) where missing; `None` when something on
/// the way is not an object.
fn object_at<'a>(obj: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut cur = obj;
    for key in path {
        let map = cur.as_object_mut()?;
        cur = map.entry(*key).or_insert_with(|| Value::Object(Map::new()));
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
    }
    cur.as_object_mut()
}

#[cfg(test)]
mod tests {
    use mesh_core::ObjectRef;
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_existing_labels_and_replaces_null_metadata() {
        let mut obj = json!({ "metadata": { "labels": { "app": "reviews" } } });
        mark_owned(&mut obj);
        assert_eq!(obj["metadata"]["labels"]["app"], "reviews");
        let mut obj = json!({ "metadata": null });
        mark_owned(&mut obj);
        assert!(is_owned(&obj));
        let mut scalar = json!(3);
        mark_owned(&mut scalar);
        assert_eq!(scalar, json!(3));
    }

    #[test]
    fn deletes_and_status_writes() {
        let target = ObjectRef::new("v1", "Namespace", None, "prod");
        assert!(object_for(&Write::new(WriteAction::Delete, target.clone(), Some(json!({})))).is_none());
        let status = Write::new(WriteAction::ApplyStatus, target, Some(json!({ "status": {} })));
        let obj = object_for(&status).unwrap();
        assert!(!is_owned(&obj));
        assert!(obj["metadata"].get("namespace").is_none());
    }
}

#[cfg(test)]
mod claim_tests {
    use mesh_core::{ObjectRef, Write, WriteAction};
    use serde_json::json;

    use super::object_for;

    fn labels(action: WriteAction, body: serde_json::Value) -> serde_json::Value {
        let target = ObjectRef::new("v1", "Service", Some("prod"), "reviews");
        object_for(&Write::new(action, target, Some(body))).unwrap()["metadata"]["labels"].clone()
    }

    #[test]
    fn only_writes_that_own_the_whole_object_claim_it() {
        let annotations_only = json!({"metadata": {"annotations": {"retry.linkerd.io/limit": "2"}}});
        assert!(
            labels(WriteAction::Apply, annotations_only).is_null(),
            "a user's Service is not claimed"
        );
        let users_object = json!({"metadata": {"labels": {"team": "a"}}, "spec": {}});
        assert_eq!(
            labels(WriteAction::Replace, users_object),
            json!({"team": "a"}),
            "a replace keeps the labels it read"
        );
        let ours = json!({"spec": {"ports": []}});
        assert_eq!(
            labels(WriteAction::Create, ours)["app.kubernetes.io/managed-by"],
            "mesh"
        );
    }
}
