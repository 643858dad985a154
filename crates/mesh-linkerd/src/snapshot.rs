//! What a plan is computed against: objects read from the cluster, or simulated.

use std::{collections::BTreeMap, future::Future};

use mesh_core::{Error, ObjectRef, Plan, Precondition, Result, Write, WriteAction};
use serde_json::{Value, json};

/// Reads objects for planning. The backend reads through the Kubernetes engine; tests and the
/// offline renderer read a [`Snapshot`].
pub trait Reader: Sync {
    /// The object at `target`, or `None` when it does not exist.
    fn get(&self, target: &ObjectRef) -> impl Future<Output = Result<Option<Value>>> + Send;
}

/// Objects held in memory, keyed by reference.
///
/// ```
/// use mesh_linkerd::{Snapshot, objects};
/// let mut snap = Snapshot::default();
/// let svc = objects::service(&"prod/api".parse().unwrap());
/// snap.insert(svc.clone(), serde_json::json!({"metadata": {"name": "api"}}));
/// assert!(snap.object(&svc).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    objects: BTreeMap<ObjectRef, Value>,
    version: u64,
    /// The annotation keys each annotation field manager last applied, per object.
    annotation_owners: BTreeMap<(ObjectRef, String), Vec<String>>,
}

impl Snapshot {
    /// Records `value` as the current state of `target`.
    pub fn insert(&mut self, target: ObjectRef, value: Value) {
        self.objects.insert(target, value);
    }

    /// The object stored at `target`.
    pub fn object(&self, target: &ObjectRef) -> Option<&Value> {
        self.objects.get(target)
    }

    /// Every stored object.
    pub fn objects(&self) -> &BTreeMap<ObjectRef, Value> {
        &self.objects
    }

    /// Replays every write of `plan` roughly as the API server would: applies merge into the stored
    /// object (an annotation-only apply touches only annotations, and removes those its field
    /// manager set before and no longer sends), status writes replace `status`,
    /// deletes remove, and each write bumps `metadata.resourceVersion`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when a precondition fails, [`Error::NotFound`] when writing the status
    /// of, replacing or deleting a missing object.
    pub fn apply(&mut self, plan: &Plan) -> Result<()> {
        plan.writes.iter().try_for_each(|w| self.apply_write(w))
    }

    /// Replays one write; see [`Snapshot::apply`].
    ///
    /// # Errors
    /// As [`Snapshot::apply`].
    pub fn apply_write(&mut self, w: &Write) -> Result<()> {
        let current = self.objects.get(&w.target);
        let not_found = || Error::NotFound {
            kind: w.target.kind.clone(),
            name: w.target.name.clone(),
        };
        match &w.precondition {
            Some(Precondition::MustNotExist) if current.is_some() => {
                return Err(Error::AlreadyExists {
                    kind: w.target.kind.clone(),
                    name: w.target.name.clone(),
                });
            }
            Some(Precondition::Version(v))
                if current.and_then(|c| c["metadata"]["resourceVersion"].as_str()) != Some(v) =>
            {
                return Err(Error::Conflict {
                    object: w.target.to_string(),
                    owner: "unknown".into(),
                    field: "metadata.resourceVersion".into(),
                });
            }
            _ => {}
        }
        self.version += 1;
        let rv = json!(self.version.to_string());
        match w.action {
            WriteAction::Delete => {
                self.objects.remove(&w.target).ok_or_else(not_found)?;
            }
            WriteAction::ApplyStatus => {
                let obj = self.objects.get_mut(&w.target).ok_or_else(not_found)?;
                obj["status"] = w.body.as_ref().map(|b| b["status"].clone()).unwrap_or_default();
                obj["metadata"]["resourceVersion"] = rv;
            }
            WriteAction::Replace => {
                if current.is_none() {
                    return Err(not_found());
                }
                let mut body = w.body.clone().unwrap_or_default();
                body["metadata"]["resourceVersion"] = rv;
                self.objects.insert(w.target.clone(), body);
            }
            WriteAction::Apply | WriteAction::Create => {
                let body = w.body.clone().unwrap_or_default();
                if let Some(manager) = crate::objects::annotation_field_manager(&body) {
                    let sent: Vec<String> = crate::objects::annotations(&body).keys().cloned().collect();
                    let before = self
                        .annotation_owners
                        .insert((w.target.clone(), manager), sent.clone())
                        .unwrap_or_default();
                    if let Some(a) = self
                        .objects
                        .get_mut(&w.target)
                        .and_then(|o| o["metadata"]["annotations"].as_object_mut())
                    {
                        for k in before.iter().filter(|k| !sent.contains(k)) {
                            a.remove(k);
                        }
                    }
                }
                let mut merged = match self.objects.remove(&w.target) {
                    Some(mut old) => {
                        merge(&mut old, &body);
                        old
                    }
                    None => body,
                };
                merged["metadata"]["resourceVersion"] = rv;
                self.objects.insert(w.target.clone(), merged);
            }
        }
        Ok(())
    }
}

impl Reader for Snapshot {
    fn get(&self, target: &ObjectRef) -> impl Future<Output = Result<Option<Value>>> + Send {
        let found = self.objects.get(target).cloned();
        async move { Ok(found) }
    }
}

/// Merges `patch` into `base`: objects recursively, everything else replaced.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}
