//! What a plan is computed against: Kubernetes objects read from the cluster (or simulated),
//! keyed by reference, with one set of rules for replaying writes on them.
//!
//! Every Kubernetes backend plans against this type; the backend fills it through the engine,
//! while tests, benches and the offline renderer fill it by hand and replay plans on it with
//! [`Snapshot::apply`].

use std::collections::{BTreeMap, HashMap, hash_map::Entry};

use mesh_core::{Error, ObjectRef, Plan, Precondition, Result, Write, WriteAction};
use serde_json::{Value, json};

/// Kubernetes objects held in memory, keyed by reference.
///
/// ```
/// use mesh_core::ObjectRef;
/// use mesh_kube::Snapshot;
/// let mut snap = Snapshot::default();
/// let r = ObjectRef::new("v1", "Service", Some("prod"), "api");
/// snap.insert(r.clone(), serde_json::json!({"metadata": {"name": "api"}}));
/// assert!(snap.get(&r).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Hashed: a plan reads and writes by reference, and comparing references (four strings
    /// with long common prefixes) made ordered lookups an eighth of the planning time.
    objects: HashMap<ObjectRef, Stored>,
    version: u64,
}

/// One object, and who applied it, so that a manager's next apply removes what it no longer
/// sends, as server-side apply does.
#[derive(Debug, Clone, PartialEq)]
struct Stored {
    value: Value,
    appliers: Option<Appliers>,
}

/// A field manager: `None` is the backend's own ([`crate::DEFAULT_FIELD_MANAGER`] by default).
type Manager = Option<String>;

/// The field managers that applied an object.
#[derive(Debug, Clone, PartialEq)]
enum Appliers {
    /// One manager applied the whole object, and no one else wrote it since: its next apply
    /// replaces it (the common case, which costs no copy).
    Sole(Manager),
    /// What each of several managers last applied (or an object read first, then applied).
    Shared(HashMap<Manager, Value>),
}

impl Stored {
    /// Written whole, outside server-side apply (read, created or replaced): no apply on record.
    fn written(value: Value) -> Self {
        Self {
            value,
            appliers: None,
        }
    }

    /// Applies `body` as `manager`: the sole manager's own object is replaced by it; otherwise it
    /// merges in, after removing what `manager` applied before and no longer sends.
    fn apply(&mut self, manager: Manager, body: Value) {
        match self.appliers.take() {
            Some(Appliers::Sole(m)) if m == manager => {
                // The status subresource is not the object's: an apply leaves it alone.
                let status = self.value.get_mut("status").map(Value::take);
                self.value = body;
                if let (Some(status), Some(obj)) = (status, self.value.as_object_mut()) {
                    obj.entry("status").or_insert(status);
                }
                self.appliers = Some(Appliers::Sole(m));
            }
            other => {
                let mut appliers = match other {
                    // The sole manager so far applied what is stored.
                    Some(Appliers::Sole(m)) => HashMap::from([(m, self.value.clone())]),
                    Some(Appliers::Shared(map)) => map,
                    None => HashMap::new(),
                };
                if let Some(before) = appliers.get(&manager) {
                    drop_unsent(&mut self.value, before, &body);
                }
                merge(&mut self.value, &body);
                appliers.insert(manager, body);
                self.appliers = Some(Appliers::Shared(appliers));
            }
        }
    }
}

impl Snapshot {
    /// Records `value` as the current state of `target`.
    pub fn insert(&mut self, target: ObjectRef, value: Value) {
        self.objects.insert(target, Stored::written(value));
    }

    /// The object stored for `target`.
    pub fn get(&self, target: &ObjectRef) -> Option<&Value> {
        self.objects.get(target).map(|s| &s.value)
    }

    /// Every stored object, ordered by reference.
    pub fn objects(&self) -> BTreeMap<&ObjectRef, &Value> {
        self.objects.iter().map(|(r, s)| (r, &s.value)).collect()
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Replays every write of `plan` as the API server would:
    /// - an apply merges into the stored object, and removes the fields its field manager applied
    ///   before and no longer sends (server-side apply);
    /// - a replace stores the body whole, a status write replaces `status`, a delete removes;
    /// - `MustNotExist` on an existing object is [`Error::AlreadyExists`], as the server's 409 on
    ///   create; a stale `resourceVersion` is [`Error::Conflict`];
    /// - each write gives the object a fresh `metadata.resourceVersion`.
    ///
    /// # Errors
    /// As above, and [`Error::NotFound`] when deleting, replacing or writing the status of a
    /// missing object.
    ///
    /// ```
    /// use mesh_core::{ObjectRef, Plan, Write, WriteAction, Precondition, MeshKind, Change, Error};
    /// use mesh_kube::Snapshot;
    /// use serde_json::json;
    /// let r = ObjectRef::new("v1", "ConfigMap", Some("prod"), "c");
    /// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
    /// let mut plan = Plan::for_change(MeshKind::Istio, &change);
    /// plan.push(Write::new(WriteAction::Apply, r.clone(), Some(json!({"data": {"a": "1", "b": "2"}}))));
    /// plan.push(Write::new(WriteAction::Apply, r.clone(), Some(json!({"data": {"a": "1"}}))));
    /// let mut snap = Snapshot::default();
    /// snap.apply(&plan).unwrap();
    /// assert_eq!(snap.get(&r).unwrap()["data"], json!({"a": "1"})); // "b" was dropped by its manager
    /// let create = Write::new(WriteAction::Create, r, Some(json!({}))).guarded(Precondition::MustNotExist);
    /// assert!(matches!(snap.apply_write(&create), Err(Error::AlreadyExists { .. })));
    /// ```
    pub fn apply(&mut self, plan: &Plan) -> Result<()> {
        plan.writes.iter().try_for_each(|w| self.apply_write(w))
    }

    /// Like [`Snapshot::apply`], taking the plan by value so the bodies move into the snapshot
    /// instead of being copied (what a long replay, such as a 10k-service bench, wants).
    ///
    /// # Errors
    /// As [`Snapshot::apply`].
    pub fn apply_owned(&mut self, plan: Plan) -> Result<()> {
        plan.writes.into_iter().try_for_each(|w| self.replay(w))
    }

    /// Replays one write; see [`Snapshot::apply`].
    ///
    /// # Errors
    /// As [`Snapshot::apply`].
    pub fn apply_write(&mut self, w: &Write) -> Result<()> {
        self.replay(w.clone())
    }

    fn replay(&mut self, w: Write) -> Result<()> {
        let Write {
            action,
            target,
            body,
            precondition,
            field_manager,
            ..
        } = w;
        let current = self.get(&target);
        match &precondition {
            Some(Precondition::MustNotExist) if current.is_some() => {
                return Err(already_exists(&target));
            }
            Some(Precondition::Version(v))
                if current.and_then(|c| c["metadata"]["resourceVersion"].as_str()) != Some(v.as_str()) =>
            {
                return Err(Error::Conflict {
                    object: target.to_string(),
                    owner: "unknown".into(),
                    field: "metadata.resourceVersion".into(),
                });
            }
            _ => {}
        }
        let exists = current.is_some();
        let not_found = |t: &ObjectRef| Error::NotFound {
            kind: t.kind.clone(),
            name: t.name.clone(),
        };
        self.version += 1;
        let rv = json!(self.version.to_string());
        let body = body.unwrap_or_else(|| json!({}));
        let stored = match action {
            WriteAction::Delete => {
                self.objects.remove(&target).ok_or_else(|| not_found(&target))?;
                return Ok(());
            }
            WriteAction::Create if exists => return Err(already_exists(&target)),
            WriteAction::Replace | WriteAction::ApplyStatus if !exists => return Err(not_found(&target)),
            WriteAction::ApplyStatus => {
                let obj = self.objects.get_mut(&target).ok_or_else(|| not_found(&target))?;
                obj.value["status"] = body["status"].clone();
                obj
            }
            WriteAction::Replace | WriteAction::Create => match self.objects.entry(target) {
                Entry::Occupied(e) => {
                    let obj = e.into_mut();
                    *obj = Stored::written(body);
                    obj
                }
                Entry::Vacant(e) => e.insert(Stored::written(body)),
            },
            WriteAction::Apply => match self.objects.entry(target) {
                Entry::Occupied(e) => {
                    let obj = e.into_mut();
                    obj.apply(field_manager, body);
                    obj
                }
                Entry::Vacant(e) => e.insert(Stored {
                    value: body,
                    appliers: Some(Appliers::Sole(field_manager)),
                }),
            },
        };
        stored.value["metadata"]["resourceVersion"] = rv;
        Ok(())
    }
}

fn already_exists(target: &ObjectRef) -> Error {
    Error::AlreadyExists {
        kind: target.kind.clone(),
        name: target.name.clone(),
    }
}

/// Removes from `stored` what `before` set and `now` no longer sends, recursively through objects.
fn drop_unsent(stored: &mut Value, before: &Value, now: &Value) {
    let (Some(stored), Some(before)) = (stored.as_object_mut(), before.as_object()) else {
        return;
    };
    for (k, was) in before {
        match now.get(k) {
            None => {
                stored.remove(k);
            }
            Some(sent) if was.is_object() && sent.is_object() => {
                if let Some(s) = stored.get_mut(k) {
                    drop_unsent(s, was, sent);
                }
            }
            Some(_) => {}
        }
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

#[cfg(test)]
mod tests {
    use mesh_core::{Change, MeshKind};

    use super::*;

    fn cm() -> ObjectRef {
        ObjectRef::new("v1", "ConfigMap", Some("prod"), "c")
    }

    fn apply_as(manager: &str, body: Value) -> Write {
        Write::new(WriteAction::Apply, cm(), Some(body)).managed_by(manager)
    }

    #[test]
    fn an_apply_keeps_what_other_managers_set_and_drops_what_its_own_manager_stopped_sending() {
        let mut snap = Snapshot::default();
        snap.insert(cm(), json!({"metadata": {"annotations": {"user": "x"}}}));
        snap.apply_write(&apply_as(
            "a",
            json!({"metadata": {"annotations": {"a1": "1", "a2": "2"}}}),
        ))
        .unwrap();
        snap.apply_write(&apply_as("b", json!({"metadata": {"annotations": {"b": "1"}}})))
            .unwrap();
        snap.apply_write(&apply_as("a", json!({"metadata": {"annotations": {"a1": "1"}}})))
            .unwrap();
        let annotations = &snap.get(&cm()).unwrap()["metadata"]["annotations"];
        assert_eq!(annotations, &json!({"user": "x", "a1": "1", "b": "1"}));
    }

    #[test]
    fn preconditions_and_missing_objects_answer_as_the_api_server_does() {
        let mut snap = Snapshot::default();
        let replace = Write::new(WriteAction::Replace, cm(), Some(json!({})));
        assert!(matches!(snap.apply_write(&replace), Err(Error::NotFound { .. })));
        snap.apply_write(&Write::new(WriteAction::Create, cm(), Some(json!({}))))
            .unwrap();
        let again = Write::new(WriteAction::Apply, cm(), Some(json!({}))).guarded(Precondition::MustNotExist);
        assert!(matches!(
            snap.apply_write(&again),
            Err(Error::AlreadyExists { .. })
        ));
        let stale = replace.clone().guarded(Precondition::Version("0".into()));
        assert!(matches!(snap.apply_write(&stale), Err(Error::Conflict { .. })));
        let rv = snap.get(&cm()).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        snap.apply_write(&replace.guarded(Precondition::Version(rv.clone())))
            .unwrap();
        assert_ne!(snap.get(&cm()).unwrap()["metadata"]["resourceVersion"], json!(rv));
    }

    #[test]
    fn a_delete_forgets_what_was_applied() {
        let change = Change::EnableMtls {
            namespace: "prod".parse().unwrap(),
        };
        let mut plan = Plan::for_change(MeshKind::Istio, &change);
        plan.push(apply_as("a", json!({"data": {"k": "1"}})));
        plan.push(Write::new(WriteAction::Delete, cm(), None));
        plan.push(apply_as("a", json!({"data": {"j": "2"}})));
        let mut snap = Snapshot::default();
        snap.apply_owned(plan).unwrap();
        assert_eq!(snap.get(&cm()).unwrap()["data"], json!({"j": "2"}));
        assert_eq!(snap.len(), 1);
    }
}
