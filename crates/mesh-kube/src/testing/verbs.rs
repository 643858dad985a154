//! The API verbs besides server-side apply, as the API server answers them: `GET` of one object
//! or a list (with a label selector), create (`POST`), replace (`PUT`, with its
//! `resourceVersion` precondition), a JSON merge patch (RFC 7386, as kube-runtime's event
//! recorder counts a repeated Event) and delete (with its precondition). Dry runs answer without
//! storing; each write records its field manager's fields when ownership is tracked.

use serde_json::{Value, json};

use super::{
    RecordedRequest,
    answers::{Answer, already_exists, bad_request, deleted, invalid, object_not_found, stale},
    state::State,
    storage::{as_version, key},
    validation::check,
};
use crate::ResourceType;

/// The `Content-Type` of a JSON merge patch.
pub(super) const MERGE_PATCH: &str = "application/merge-patch+json";

/// RFC 7386: `patch`'s members replace `target`'s, objects merge member by member, `null`
/// removes.
fn merge_patch_into(target: &mut Value, patch: &Value) {
    let Value::Object(members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (k, v) in members {
        if v.is_null() {
            if let Some(map) = target.as_object_mut() {
                map.remove(k);
            }
        } else {
            merge_patch_into(&mut target[k.as_str()], v);
        }
    }
}

impl State {
    /// `GET` of the object `name`.
    pub(super) fn read(&self, rt: &ResourceType, ns: Option<String>, name: &str) -> Answer {
        match self.store.get(&key(rt, ns, name)) {
            Some(obj) => Answer(200, as_version(obj, rt)),
            None => object_not_found(rt, name),
        }
    }

    /// `GET` of every object of `rt` in `ns` (in every namespace when `None`).
    pub(super) fn list(&self, rt: &ResourceType, ns: Option<&str>, selector: Option<&String>) -> Answer {
        let items = self.store.list(rt, ns, selector);
        Answer(
            200,
            json!({
                "apiVersion": rt.api_version(), "kind": format!("{}List", rt.kind),
                "metadata": { "resourceVersion": self.store.last_resource_version() }, "items": items
            }),
        )
    }

    pub(super) fn create(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let Some(mut obj) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        let Some(name) = obj["metadata"]["name"].as_str().map(str::to_owned) else {
            return invalid(rt, "", "metadata.name", "name or generateName is required");
        };
        self.catalog.keep_status(rt, None, &mut obj);
        if let Some(bad) = check(rt, ns.as_deref(), &obj, self.validate) {
            return bad;
        }
        let key = key(rt, ns, &name);
        if self.store.contains(&key) {
            return already_exists(rt, &name);
        }
        self.store.stamp_new(&mut obj);
        if !dry {
            let manager = req.field_manager().unwrap_or("unknown").to_owned();
            if let Some(owners) = self.managers.owners_of(&key) {
                owners.updated(&manager, None, &obj);
            }
            self.store.put(key, obj.clone());
        }
        Answer(201, obj)
    }

    pub(super) fn replace(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let Some(obj) = req.body.clone() else {
            return bad_request("the body is not a JSON object");
        };
        self.update(rt, ns, name, req, dry, |_| obj)
    }

    /// A `PATCH` with a JSON merge patch of the object `name`.
    pub(super) fn merge_patch(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let Some(patch) = req.body.clone().filter(Value::is_object) else {
            return bad_request("the body is not a JSON object");
        };
        self.update(rt, ns, name, req, dry, |current| {
            let mut obj = current.clone();
            merge_patch_into(&mut obj, &patch);
            obj
        })
    }

    /// Stores what `new` makes of the object `name` as it is, guarded by the `resourceVersion`
    /// the result carries.
    fn update(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
        new: impl FnOnce(&Value) -> Value,
    ) -> Answer {
        let key = key(rt, ns.clone(), name);
        let Some(current) = self.store.get(&key).cloned() else {
            return object_not_found(rt, name);
        };
        let mut obj = new(&current);
        if let Some(conflict) = stale(rt, name, &current, obj["metadata"]["resourceVersion"].as_str()) {
            return conflict;
        }
        self.catalog.keep_status(rt, Some(&current), &mut obj);
        if let Some(bad) = check(rt, ns.as_deref(), &obj, self.validate) {
            return bad;
        }
        self.store.stamp_update(&current, &mut obj);
        if !dry {
            let manager = req.field_manager().unwrap_or("unknown").to_owned();
            if let Some(owners) = self.managers.owners_of(&key) {
                owners.updated(&manager, Some(&current), &obj);
            }
            self.store.put(key, obj.clone());
        }
        Answer(200, obj)
    }

    pub(super) fn delete(
        &mut self,
        rt: &ResourceType,
        ns: Option<String>,
        name: &str,
        req: &RecordedRequest,
        dry: bool,
    ) -> Answer {
        let key = key(rt, ns, name);
        let Some(current) = self.store.get(&key) else {
            return object_not_found(rt, name);
        };
        let want = req
            .body
            .as_ref()
            .and_then(|b| b["preconditions"]["resourceVersion"].as_str());
        if let Some(conflict) = stale(rt, name, current, want) {
            return conflict;
        }
        if !dry {
            self.store.remove(&key);
            self.managers.forget(&key);
        }
        deleted(rt, name)
    }
}
