//! What a plan was computed against: the objects read from the cluster, keyed by reference.
//!
//! The backend fills a snapshot through the Kubernetes engine; tests, benches and the offline
//! renderer fill it by hand and replay plans on it with [`Snapshot::apply`].

use std::collections::{BTreeMap, HashMap};

use mesh_core::{Error, ObjectRef, Plan, Precondition, Write, WriteAction};
use serde_json::{Value, json};

/// Objects as read from the cluster (or simulated).
///
/// ```
/// use mesh_istio::{Snapshot, objects};
/// let mut snap = Snapshot::default();
/// let r = objects::virtual_service(&"prod/api".parse().unwrap());
/// snap.insert(r.clone(), serde_json::json!({"metadata": {"name": "api"}}));
/// assert!(snap.get(&r).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Hashed: a plan reads and writes by reference, and comparing references (four strings
    /// with long common prefixes) made ordered lookups an eighth of the planning time.
    objects: HashMap<ObjectRef, Value>,
    version: u64,
}

impl Snapshot {
    /// Records `value` as the current state of `target`.
    pub fn insert(&mut self, target: ObjectRef, value: Value) {
        self.objects.insert(target, value);
    }

    /// The object stored for `target`.
    pub fn get(&self, target: &ObjectRef) -> Option<&Value> {
        self.objects.get(target)
    }

    /// Every stored object, ordered by reference.
    pub fn objects(&self) -> BTreeMap<&ObjectRef, &Value> {
        self.objects.iter().collect()
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is stored.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Replays every write of `plan` as the API server would, checking preconditions and giving
    /// each stored object a fresh `resourceVersion`.
    ///
    /// # Errors
    /// [`Error::Conflict`] when a precondition does not hold, [`Error::NotFound`] when deleting
    /// or replacing a missing object.
    ///
    /// ```
    /// use mesh_core::{Change, MeshBackend};
    /// use mesh_istio::{Config, Snapshot, plan};
    /// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
    /// let mut snap = Snapshot::default();
    /// let p = plan(&change, &snap, &Config::default()).unwrap();
    /// snap.apply(&p).unwrap();
    /// assert_eq!(snap.objects().len(), 1);
    /// ```
    pub fn apply(&mut self, plan: &Plan) -> Result<(), Error> {
        for w in &plan.writes {
            self.apply_write(w)?;
        }
        Ok(())
    }

    /// Like [`Snapshot::apply`], taking the plan by value so the bodies move into the snapshot
    /// instead of being copied (what a long replay, such as the 10k-service bench, wants).
    ///
    /// # Errors
    /// As [`Snapshot::apply`].
    pub fn apply_owned(&mut self, plan: Plan) -> Result<(), Error> {
        for w in plan.writes {
            self.replay(&w.target, w.action, w.precondition.as_ref(), w.body)?;
        }
        Ok(())
    }

    /// Replays one write; see [`Snapshot::apply`].
    ///
    /// # Errors
    /// As [`Snapshot::apply`].
    pub fn apply_write(&mut self, w: &Write) -> Result<(), Error> {
        self.replay(&w.target, w.action, w.precondition.as_ref(), w.body.clone())
    }

    fn replay(
        &mut self,
        target: &ObjectRef,
        action: WriteAction,
        precondition: Option<&Precondition>,
        body: Option<Value>,
    ) -> Result<(), Error> {
        let current = self.objects.get(target);
        let conflict = |why: &str| Error::Conflict {
            object: target.to_string(),
            owner: "unknown".into(),
            field: why.into(),
        };
        match precondition {
            Some(Precondition::MustNotExist) if current.is_some() => return Err(conflict("exists")),
            Some(Precondition::Version(v)) => {
                let have = current.and_then(|c| c["metadata"]["resourceVersion"].as_str());
                if have != Some(v.as_str()) {
                    return Err(conflict("metadata.resourceVersion"));
                }
            }
            _ => {}
        }
        let missing = || Error::NotFound {
            kind: target.kind.clone(),
            name: target.name.clone(),
        };
        match action {
            WriteAction::Delete => {
                self.objects.remove(target).ok_or_else(missing)?;
            }
            WriteAction::Replace if current.is_none() => return Err(missing()),
            WriteAction::Create if current.is_some() => return Err(conflict("exists")),
            _ => {
                let mut body = body.unwrap_or_else(|| json!({}));
                self.version += 1;
                crate::translate::set_path(
                    &mut body,
                    &["metadata", "resourceVersion"],
                    json!(self.version.to_string()),
                );
                match self.objects.get_mut(target) {
                    Some(stored) => *stored = body, // no copy of the key
                    None => {
                        self.objects.insert(target.clone(), body);
                    }
                }
            }
        }
        Ok(())
    }
}
