//! Server-side apply on the fake API server (`PATCH` with an apply patch), modelled per field
//! manager at the level of object keys: a manager's apply replaces the lists and scalars it sets,
//! merges maps key by key, and removes the keys it applied before but no longer sends. For that
//! the server keeps the last object each manager applied ([`FieldManagers`]) and, when ownership
//! is tracked, who owns which field ([`Owners`]), so that an apply changing a field another
//! manager owns gets a 409 unless forced. An apply to the `status` subresource replaces the
//! status alone.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{
    RecordedRequest,
    answers::{Answer, bad_request, object_not_found, stale, type_not_found, unsupported_media_type},
    managed::{Owners, conflict_body},
    state::State,
    storage::{Key, key},
    validation::{check, undeclared_in_apply},
};
use crate::ResourceType;

/// What each field manager applied and, when tracked, owns.
pub(super) struct FieldManagers {
    /// The last object each field manager applied, for server-side apply.
    applied: BTreeMap<(Key, String), Value>,
    /// Field owners per object, when ownership is tracked.
    owners: Option<BTreeMap<Key, Owners>>,
}

impl FieldManagers {
    /// No applies yet; ownership not tracked.
    pub(super) fn new() -> Self {
        Self {
            applied: BTreeMap::new(),
            owners: None,
        }
    }

    pub(super) fn track_ownership(&mut self) {
        self.owners.get_or_insert_with(BTreeMap::new);
    }

    /// The owners of the object at `key`, when ownership is tracked.
    pub(super) fn owners_of(&mut self, key: &Key) -> Option<&mut Owners> {
        self.owners.as_mut().map(|o| o.entry(key.clone()).or_default())
    }

    /// Records an apply that landed: `patch` is what `manager` applied last.
    fn applied(&mut self, key: Key, manager: String, patch: Value, force: bool) {
        let previous = self.applied.get(&(key.clone(), manager.clone()));
        if let Some(owners) = self.owners.as_mut() {
            owners
                .entry(key.clone())
                .or_default()
                .applied(&manager, previous, &patch, force);
        }
        self.applied.insert((key, manager), patch);
    }

    /// Forgets a deleted object.
    pub(super) fn forget(&mut self, key: &Key) {
        self.applied.retain(|(k, _), _| k != key);
        if let Some(owners) = &mut self.owners {
            owners.remove(key);
        }
    }
}

impl State {
    /// A `PATCH` of the object `name` (or of its subresource `sub`).
    pub(super) fn apply(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        sub: Option<&str>,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        if req.content_type.as_deref() != Some(crate::request::APPLY_PATCH) {
            return unsupported_media_type();
        }
        let Some(manager) = req.field_manager().map(str::to_owned) else {
            return bad_request("fieldManager is required for apply requests");
        };
        let Some(patch) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        let key = key(rt, ns.clone(), name);
        let current = self.store.get(&key).cloned();
        if let Some(cur) = &current
            && let Some(conflict) = stale(rt, name, cur, patch["metadata"]["resourceVersion"].as_str())
        {
            return conflict;
        }
        let force = req.query.get("force").is_some_and(|f| f == "true");
        if sub.is_none()
            && let (Some(cur), Some(all)) = (&current, &self.managers.owners)
            && let Some(owners) = all.get(&key)
        {
            let conflicts = owners.conflicts(&manager, cur, &patch);
            if !conflicts.is_empty() && !force {
                return Answer(409, conflict_body(&rt.api_version(), &conflicts));
            }
        }
        let has_status = self.catalog.has_status_subresource(rt);
        let mut obj = match (sub, current.clone()) {
            // As the API server does: 404 naming the object, the same answer as for a missing one.
            (Some("status"), _) if !has_status => return object_not_found(rt, name),
            (Some("status"), None) => return object_not_found(rt, name),
            (Some("status"), Some(mut cur)) => {
                cur["status"] = patch["status"].clone();
                cur
            }
            (Some(_), _) => return type_not_found(),
            (None, None) => patch.clone(),
            (None, Some(mut cur)) => {
                if let Some(prev) = self.managers.applied.get(&(key.clone(), manager.clone())) {
                    remove_dropped(&mut cur, prev, &patch);
                }
                merge(&mut cur, &patch);
                cur
            }
        };
        if sub.is_none() {
            self.catalog.keep_status(rt, current.as_ref(), &mut obj);
        }
        if let Some(bad) = undeclared_in_apply(rt, ns.as_deref(), name, &obj, self.validate) {
            return bad;
        }
        if let Some(bad) = check(rt, ns.as_deref(), &obj, self.validate) {
            return bad;
        }
        let code = match &current {
            Some(cur) => {
                self.store.stamp_update(cur, &mut obj);
                200
            }
            None => {
                self.store.stamp_new(&mut obj);
                201
            }
        };
        if !dry {
            self.store.put(key.clone(), obj.clone());
            if sub.is_none() {
                self.managers.applied(key, manager, patch, force);
            }
        }
        Answer(code, obj)
    }
}

/// Merges `patch` into `base`: maps key by key, everything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// Removes from `obj` the keys a manager applied before (`prev`) but no longer applies (`new`).
fn remove_dropped(obj: &mut Value, prev: &Value, new: &Value) {
    let (Value::Object(o), Value::Object(p)) = (obj, prev) else {
        return;
    };
    for (k, pv) in p {
        match new.get(k) {
            None => {
                o.remove(k);
            }
            Some(nv) if pv.is_object() && nv.is_object() => {
                if let Some(ov) = o.get_mut(k) {
                    remove_dropped(ov, pv, nv);
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn apply_merge_keeps_others_and_drops_own_removed_keys() {
        let mut cur =
            json!({ "spec": { "a": 1, "b": 2, "list": [1, 2] }, "metadata": { "labels": { "u": "x" } } });
        let prev = json!({ "spec": { "a": 1, "list": [1, 2] } });
        let new = json!({ "spec": { "list": [3] }, "metadata": { "labels": { "m": "y" } } });
        remove_dropped(&mut cur, &prev, &new);
        merge(&mut cur, &new);
        assert_eq!(
            cur,
            json!({ "spec": { "b": 2, "list": [3] }, "metadata": { "labels": { "u": "x", "m": "y" } } })
        );
    }
}
