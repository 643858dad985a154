//! Field ownership for the fake API server (opt-in): which field manager owns which field, and
//! the 409 a server-side apply gets when it would change a field another manager owns.
//!
//! Fields are leaves: scalars, lists (atomic, as in the mesh CRDs) and empty objects; objects are
//! walked. Under `metadata`, only labels and annotations are fields.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// A field path (`["spec", "http"]`).
pub(super) type FieldPath = Vec<String>;

/// Who owns each field of one object.
#[derive(Debug, Default, Clone)]
pub(super) struct Owners(BTreeMap<FieldPath, BTreeSet<String>>);

impl Owners {
    /// Fields `patch` would change that another manager owns: `(manager, field)`.
    pub(super) fn conflicts(
        &self,
        manager: &str,
        current: &Value,
        patch: &Value,
    ) -> Vec<(String, FieldPath)> {
        let mut out = Vec::new();
        for (path, value) in fields(patch) {
            let Some(owners) = self.0.get(&path) else { continue };
            if value_at(current, &path) == Some(value) {
                continue;
            }
            if let Some(other) = owners.iter().find(|m| *m != manager) {
                out.push((other.clone(), path));
            }
        }
        out
    }

    /// Records a server-side apply: `manager` owns every field of `patch` (alone when forced),
    /// and no longer owns fields it applied before but not now.
    pub(super) fn applied(&mut self, manager: &str, previous: Option<&Value>, patch: &Value, force: bool) {
        let now: BTreeSet<FieldPath> = fields(patch).into_iter().map(|(p, _)| p).collect();
        if let Some(prev) = previous {
            for (path, _) in fields(prev) {
                if !now.contains(&path)
                    && let Some(owners) = self.0.get_mut(&path)
                {
                    owners.remove(manager);
                }
            }
        }
        for path in now {
            let owners = self.0.entry(path).or_default();
            if force {
                owners.clear();
            }
            owners.insert(manager.to_owned());
        }
        self.0.retain(|_, owners| !owners.is_empty());
    }

    /// Records an update (create or replace): `manager` alone owns every field it changed.
    pub(super) fn updated(&mut self, manager: &str, old: Option<&Value>, new: &Value) {
        let new_fields = fields(new);
        let kept: BTreeSet<&FieldPath> = new_fields.iter().map(|(p, _)| p).collect();
        self.0.retain(|path, _| kept.contains(path));
        for (path, value) in &new_fields {
            if old.and_then(|o| value_at(o, path)) != Some(value) {
                self.0.insert(path.clone(), BTreeSet::from([manager.to_owned()]));
            }
        }
    }
}

/// The 409 body of an apply that conflicts.
pub(super) fn conflict_body(api_version: &str, conflicts: &[(String, FieldPath)]) -> Value {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, path)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{manager}\" using {api_version}"),
                "field": display(path),
            })
        })
        .collect();
    let listed: Vec<String> = conflicts
        .iter()
        .map(|(m, p)| format!("conflict with \"{m}\" using {api_version}: {}", display(p)))
        .collect();
    let message = format!(
        "Apply failed with {} conflict(s): {}",
        conflicts.len(),
        listed.join("; ")
    );
    super::answers::status_body(409, "Conflict", &message, json!({ "causes": causes }))
}

/// `.spec.http`.
fn display(path: &FieldPath) -> String {
    path.iter().map(|s| format!(".{s}")).collect()
}

/// Every field of an object and its value.
fn fields(obj: &Value) -> Vec<(FieldPath, &Value)> {
    let mut out = Vec::new();
    let Some(map) = obj.as_object() else {
        return out;
    };
    for (k, v) in map {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "metadata" => {
                for part in ["labels", "annotations"] {
                    if let Some(inner) = v.get(part) {
                        walk(inner, vec!["metadata".to_owned(), part.to_owned()], &mut out);
                    }
                }
            }
            _ => walk(v, vec![k.clone()], &mut out),
        }
    }
    out
}

fn walk<'a>(v: &'a Value, path: FieldPath, out: &mut Vec<(FieldPath, &'a Value)>) {
    match v.as_object() {
        Some(map) if !map.is_empty() => {
            for (k, child) in map {
                let mut p = path.clone();
                p.push(k.clone());
                walk(child, p, out);
            }
        }
        _ => out.push((path, v)),
    }
}

fn value_at<'a>(obj: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(obj, |cur, k| cur.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_apply_conflicts_only_on_changed_fields_owned_by_others() {
        let mut owners = Owners::default();
        let user = json!({ "metadata": { "name": "r", "labels": { "app": "r" } }, "spec": { "hosts": ["r"], "http": [1] } });
        owners.updated("kubectl", None, &user);
        // Same values: shared ownership, no conflict.
        let same = json!({ "spec": { "hosts": ["r"] } });
        assert!(owners.conflicts("mesh", &user, &same).is_empty());
        let change = json!({ "spec": { "http": [2] }, "metadata": { "labels": { "x": "y" } } });
        let conflicts = owners.conflicts("mesh", &user, &change);
        assert_eq!(
            conflicts,
            vec![("kubectl".to_owned(), vec!["spec".to_owned(), "http".to_owned()])]
        );
        owners.applied("mesh", None, &change, true);
        assert!(owners.conflicts("mesh", &user, &change).is_empty());
        let body = conflict_body("networking.istio.io/v1", &conflicts);
        assert_eq!(body["details"]["causes"][0]["field"], ".spec.http");
    }
}
