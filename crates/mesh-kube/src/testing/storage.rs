//! The fake API server's object store: objects keyed by group, plural, namespace and name (so an
//! object is stored once and read through any served version), the `resourceVersion` counter,
//! and what a create or an update stamps on an object (`resourceVersion`, `uid`, `generation`,
//! `creationTimestamp`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ResourceType;

/// `(group, plural, namespace, name)`: objects are stored once for every served version.
pub(super) type Key = (String, String, Option<String>, String);

/// The key of the object `name` of type `rt` in `ns`.
pub(super) fn key(rt: &ResourceType, ns: Option<String>, name: &str) -> Key {
    (rt.group.clone(), rt.plural.clone(), ns, name.to_owned())
}

/// The stored objects and the next `resourceVersion`.
pub(super) struct Store {
    objects: BTreeMap<Key, Value>,
    next_rv: u64,
}

impl Store {
    pub(super) fn new() -> Self {
        Self {
            objects: BTreeMap::new(),
            next_rv: 1,
        }
    }

    pub(super) fn get(&self, key: &Key) -> Option<&Value> {
        self.objects.get(key)
    }

    pub(super) fn contains(&self, key: &Key) -> bool {
        self.objects.contains_key(key)
    }

    pub(super) fn put(&mut self, key: Key, obj: Value) {
        self.objects.insert(key, obj);
    }

    pub(super) fn remove(&mut self, key: &Key) {
        self.objects.remove(key);
    }

    /// Every stored object.
    pub(super) fn all(&self) -> Vec<Value> {
        self.objects.values().cloned().collect()
    }

    /// The objects of type `rt` in `ns` (in every namespace when `None`) that match the label
    /// `selector`, as seen through `rt`'s version.
    pub(super) fn list(&self, rt: &ResourceType, ns: Option<&str>, selector: Option<&String>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((g, p, n, _), _)| {
                *g == rt.group && *p == rt.plural && (ns.is_none() || n.as_deref() == ns)
            })
            .filter(|(_, obj)| selector.is_none_or(|s| labels_match(obj, s)))
            .map(|(_, obj)| as_version(obj, rt))
            .collect()
    }

    /// The `resourceVersion` of the last write, what a list answers with.
    pub(super) fn last_resource_version(&self) -> String {
        (self.next_rv - 1).to_string()
    }

    /// Stamps a new object: the next `resourceVersion`, a `uid`, `generation` 1 and a
    /// `creationTimestamp`.
    pub(super) fn stamp_new(&mut self, obj: &mut Value) {
        let rv = self.bump();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::from(rv.clone()));
            meta.insert(
                "uid".into(),
                Value::from(format!("00000000-0000-0000-0000-{rv:0>12}")),
            );
            meta.insert("generation".into(), Value::from(1));
            meta.insert("creationTimestamp".into(), Value::from("2026-01-01T00:00:00Z"));
        }
    }

    /// Stamps an update of `current`: the next `resourceVersion`, the same `uid` and
    /// `creationTimestamp`, and the `generation` bumped when the spec changed.
    pub(super) fn stamp_update(&mut self, current: &Value, obj: &mut Value) {
        let rv = self.bump();
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1)
            + i64::from(current.get("spec") != obj.get("spec"));
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["uid", "creationTimestamp"] {
                if let Some(v) = current["metadata"].get(k) {
                    meta.insert(k.into(), v.clone());
                }
            }
            meta.insert("resourceVersion".into(), Value::from(rv));
            meta.insert("generation".into(), Value::from(generation));
        }
    }

    fn bump(&mut self) -> String {
        let rv = self.next_rv;
        self.next_rv += 1;
        rv.to_string()
    }
}

/// The stored object as seen through `rt`'s version.
pub(super) fn as_version(obj: &Value, rt: &ResourceType) -> Value {
    let mut obj = obj.clone();
    obj["apiVersion"] = Value::from(rt.api_version());
    obj
}

/// Equality and existence selectors: `a=b,c=d` (also `==`), and `e` (the label is set).
fn labels_match(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let label = |k: &str| obj["metadata"]["labels"][k.trim()].as_str().map(str::to_owned);
        match term.split_once("==").or_else(|| term.split_once('=')) {
            Some((k, v)) => label(k).as_deref() == Some(v.trim()),
            None => label(term).is_some(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selectors() {
        let obj = json!({ "metadata": { "labels": { "app": "reviews", "v": "1" } } });
        assert!(labels_match(&obj, "app=reviews,v==1"));
        assert!(!labels_match(&obj, "app=ratings"));
        assert!(labels_match(&obj, "app,v=1"), "app is set");
        assert!(!labels_match(&obj, "tier"), "tier is not");
    }
}
