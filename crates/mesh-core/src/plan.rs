//! Plans: an operation turned into an ordered list of object writes, which can be rendered or
//! applied.
//!
//! Each write declares what it *provides* (a subset, a per-version Service, an L7 protocol), what it
//! *requires*, and what it *withdraws*. [`Plan::check_safe_prefixes`] replays the writes and proves that
//! after every prefix no object requires something that is missing: the make-before-break rule.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use serde::{Deserialize, Serialize};

use crate::{Change, Error, MeshEvent, MeshKind, ServiceId, Version};

/// A control-plane object or API resource a write touches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `networking.istio.io/v1`, `v1`, or `consul/v1` for Consul's HTTP API.
    pub api_version: String,
    /// `VirtualService`, `service-resolver`, `agent-service`.
    pub kind: String,
    /// The namespace, for namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// Builds a reference.
    pub fn new(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Self {
        Self {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// How a write lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteAction {
    /// Create or update, owning only the fields written (Kubernetes server-side apply, Consul PUT).
    Apply,
    /// Create; fails if the object exists.
    Create,
    /// Replace the whole object, guarded by the precondition (read-modify-write).
    Replace,
    /// Write the status subresource.
    ApplyStatus,
    /// Delete the object.
    Delete,
}

/// The optimistic-concurrency guard of a write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precondition {
    /// The object must not exist (Consul `?cas=0`).
    MustNotExist,
    /// The object must still be at this version (`metadata.resourceVersion`, Consul `ModifyIndex`).
    Version(String),
}

/// Something a route can depend on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Dependency {
    /// A version subset of a service (Istio DR subset, Consul resolver subset, Linkerd per-version
    /// Service).
    Subset {
        /// The service.
        service: ServiceId,
        /// The version.
        version: Version,
    },
    /// The service speaks an L7 protocol (Consul service-defaults).
    L7Protocol {
        /// The service.
        service: ServiceId,
    },
    /// Any other named prerequisite (`Server prod/api-http`).
    Object {
        /// The object.
        object: ObjectRef,
    },
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subset { service, version } => write!(f, "subset {version} of {service}"),
            Self::L7Protocol { service } => write!(f, "an L7 protocol on {service}"),
            Self::Object { object } => write!(f, "{object}"),
        }
    }
}

/// One object write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Write {
    /// How it lands.
    pub action: WriteAction,
    /// The object.
    pub target: ObjectRef,
    /// The body sent (the whole object for Kubernetes, the JSON body for Consul); `None` for deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
    /// The concurrency guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
    /// What exists once this write lands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provides: Vec<Dependency>,
    /// What must exist for this object to work.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Dependency>,
    /// What stops existing once this write lands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withdraws: Vec<Dependency>,
    /// The field manager that lands this write, where it is not the backend's own: a concept
    /// that owns only part of a shared object (a few annotations of a user's Service) applies
    /// as a manager of its own, so that a later apply removes exactly what it no longer sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
}

impl Write {
    /// A write with no dependencies.
    pub fn new(action: WriteAction, target: ObjectRef, body: Option<serde_json::Value>) -> Self {
        Self {
            action,
            target,
            body,
            precondition: None,
            provides: Vec::new(),
            requires: Vec::new(),
            withdraws: Vec::new(),
            field_manager: None,
        }
    }

    /// Lands the write as `manager` instead of the backend's own field manager.
    ///
    /// ```
    /// use mesh_core::{ObjectRef, Write, WriteAction};
    /// let target = ObjectRef::new("v1", "Service", Some("prod"), "api");
    /// let w = Write::new(WriteAction::Apply, target, None).managed_by("mesh-retry-policy");
    /// assert_eq!(w.field_manager.as_deref(), Some("mesh-retry-policy"));
    /// ```
    #[must_use]
    pub fn managed_by(mut self, manager: impl Into<String>) -> Self {
        self.field_manager = Some(manager.into());
        self
    }

    /// Sets the precondition.
    #[must_use]
    pub fn guarded(mut self, precondition: Precondition) -> Self {
        self.precondition = Some(precondition);
        self
    }

    /// Adds provided dependencies.
    #[must_use]
    pub fn providing(mut self, deps: impl IntoIterator<Item = Dependency>) -> Self {
        self.provides.extend(deps);
        self
    }

    /// Adds required dependencies.
    #[must_use]
    pub fn requiring(mut self, deps: impl IntoIterator<Item = Dependency>) -> Self {
        self.requires.extend(deps);
        self
    }

    /// Adds withdrawn dependencies.
    #[must_use]
    pub fn withdrawing(mut self, deps: impl IntoIterator<Item = Dependency>) -> Self {
        self.withdraws.extend(deps);
        self
    }
}

/// What the plan found on the control plane before its first write.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Dependencies that already exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub available: Vec<Dependency>,
    /// Existing objects (the user's or ours) and what they require.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_use: Vec<(ObjectRef, Vec<Dependency>)>,
}

/// A prefix of a plan that would leave an object depending on something missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("after write {step} ({written}), {object} requires {missing}, which does not exist")]
pub struct UnsafePrefix {
    /// The 1-based index of the write after which the state is unsafe.
    pub step: usize,
    /// The write at that step.
    pub written: ObjectRef,
    /// The object left dangling.
    pub object: ObjectRef,
    /// What it lacks.
    pub missing: Dependency,
}

/// An operation as an ordered list of writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The mesh it targets.
    pub mesh: MeshKind,
    /// The change it implements.
    pub change: Change,
    /// The writes, in the order they must land.
    pub writes: Vec<Write>,
    /// What was found before the first write.
    #[serde(default)]
    pub baseline: Baseline,
    /// Facts the caller should know (overrides, restarts needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The event emitted once every write has landed.
    pub event: MeshEvent,
    /// Why the change cannot take effect yet although nothing needs writing (Istio registers a
    /// Kubernetes Service on its own, and there is none yet). Applying such a plan announces
    /// nothing: no event, and a registration is not "already registered".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

impl Plan {
    /// An empty plan for `change`, emitting `event` once applied.
    pub fn new(mesh: MeshKind, change: Change, event: MeshEvent) -> Self {
        Self {
            mesh,
            change,
            writes: Vec::new(),
            baseline: Baseline::default(),
            warnings: Vec::new(),
            event,
            pending: None,
        }
    }

    /// An empty plan for `change`, emitting [`Change::event`] once applied.
    pub fn for_change(mesh: MeshKind, change: &Change) -> Self {
        Self::new(mesh, change.clone(), change.event(mesh))
    }

    /// Appends a write.
    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// True when nothing needs writing (the control plane is already in the requested state).
    pub fn is_noop(&self) -> bool {
        self.writes.is_empty()
    }

    /// True when `e`, the outcome of applying this plan, is a guarded write losing a race: a
    /// `Conflict` or `AlreadyExists` on a write with a precondition (someone changed or created
    /// the object after it was read). Planning again on fresh reads resolves it. A conflict with
    /// another field manager on an unguarded apply is not a lost race: it needs a human
    /// decision, and the error names the other manager.
    ///
    /// ```
    /// use mesh_core::*;
    /// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
    /// let vs = ObjectRef::new("networking.istio.io/v1", "VirtualService", Some("prod"), "api");
    /// let mut plan = Plan::for_change(MeshKind::Istio, &change);
    /// plan.push(Write::new(WriteAction::Replace, vs.clone(), None).guarded(Precondition::Version("7".into())));
    /// let stale = Error::Conflict { object: vs.to_string(), owner: "unknown".into(), field: "metadata.resourceVersion".into() };
    /// assert!(plan.lost_race(&stale));
    /// assert!(!plan.lost_race(&Error::invalid("spec", "bad")));
    /// ```
    pub fn lost_race(&self, e: &Error) -> bool {
        let (in_doubt, source): (Vec<&Write>, &Error) = match e {
            // The failed write is known.
            Error::PartiallyApplied { failed, source, .. } => (
                self.writes
                    .iter()
                    .filter(|w| &w.target == failed.as_ref())
                    .collect(),
                source,
            ),
            // Nothing landed: the failure came from the dry run or the first write.
            other => (self.writes.iter().collect(), other),
        };
        in_doubt.iter().any(|w| w.precondition.is_some())
            && matches!(source, Error::Conflict { .. } | Error::AlreadyExists { .. })
    }

    /// Replays the writes and checks that after every prefix each object's requirements exist.
    ///
    /// ```
    /// use mesh_core::*;
    /// let svc: ServiceId = "prod/api".parse().unwrap();
    /// let v2 = Dependency::Subset { service: svc.clone(), version: Version::new("v2").unwrap() };
    /// let dr = ObjectRef::new("networking.istio.io/v1", "DestinationRule", Some("prod"), "api");
    /// let vs = ObjectRef::new("networking.istio.io/v1", "VirtualService", Some("prod"), "api");
    /// let event = MeshEvent::ServiceUnregistered { mesh: MeshKind::Istio, service_id: svc.clone() };
    /// let change = Change::UnregisterService { service: svc.clone() };
    /// let mut good = Plan::new(MeshKind::Istio, change, event);
    /// good.push(Write::new(WriteAction::Apply, dr.clone(), None).providing([v2.clone()]));
    /// good.push(Write::new(WriteAction::Apply, vs.clone(), None).requiring([v2.clone()]));
    /// assert!(good.check_safe_prefixes().is_ok());
    /// let mut bad = good.clone();
    /// bad.writes.reverse(); // route before subset
    /// assert_eq!(bad.check_safe_prefixes().unwrap_err().missing, v2);
    /// ```
    ///
    /// # Errors
    /// The first [`UnsafePrefix`] found.
    pub fn check_safe_prefixes(&self) -> Result<(), Box<UnsafePrefix>> {
        let mut available: BTreeSet<&Dependency> = self.baseline.available.iter().collect();
        let mut in_use: BTreeMap<&ObjectRef, &[Dependency]> = self
            .baseline
            .in_use
            .iter()
            .map(|(o, d)| (o, d.as_slice()))
            .collect();
        for (i, w) in self.writes.iter().enumerate() {
            for d in &w.withdraws {
                available.remove(d);
            }
            if w.action == WriteAction::Delete {
                in_use.remove(&w.target);
            } else if w.action != WriteAction::ApplyStatus {
                in_use.insert(&w.target, &w.requires);
            }
            available.extend(&w.provides);
            for (object, reqs) in &in_use {
                if let Some(missing) = reqs.iter().find(|r| !available.contains(r)) {
                    return Err(Box::new(UnsafePrefix {
                        step: i + 1,
                        written: w.target.clone(),
                        object: (*object).clone(),
                        missing: missing.clone(),
                    }));
                }
            }
        }
        Ok(())
    }

    /// The objects written, in order.
    pub fn targets(&self) -> Vec<ObjectRef> {
        self.writes.iter().map(|w| w.target.clone()).collect()
    }

    /// Renders the plan in `format`.
    ///
    /// YAML gives one document per written body, with deletions as comments: what `kubectl apply -f`
    /// takes. JSON gives an array of `{action, target, body}`: what a pipeline can inspect.
    ///
    /// # Errors
    /// A serializer error, which does not happen for bodies built from JSON values.
    pub fn render(&self, format: RenderFormat) -> Result<String, crate::Error> {
        let fail = |e: &dyn fmt::Display| crate::Error::invalid("plan", format!("cannot render: {e}"));
        match format {
            RenderFormat::Json => serde_json::to_string_pretty(&self.writes).map_err(|e| fail(&e)),
            RenderFormat::Yaml => {
                let mut out = String::new();
                for w in &self.writes {
                    if w.action == WriteAction::ApplyStatus {
                        // Status is written when applying; a status-only document is not an
                        // object a user can apply (the API server requires its spec).
                        out.push_str(&format!("# at apply time: the status of {}\n", w.target));
                        continue;
                    }
                    out.push_str("---\n");
                    match (&w.action, &w.body) {
                        (WriteAction::Delete, _) | (_, None) => {
                            out.push_str(&format!("# {:?} {}\n", w.action, w.target).to_lowercase());
                        }
                        (action, Some(body)) => {
                            if *action != WriteAction::Apply {
                                out.push_str(&format!("# {action:?} {}\n", w.target).to_lowercase());
                            }
                            crate::yaml::write_value(&mut out, body);
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// How a plan is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderFormat {
    /// Multi-document YAML.
    #[default]
    Yaml,
    /// A JSON array of writes.
    Json,
}

/// What `apply` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// The writes that landed, in order.
    pub applied: Vec<ObjectRef>,
    /// The event for the change.
    pub event: MeshEvent,
    /// Warnings carried over from the plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// [`Plan::pending`], carried over: the change has not taken effect and no event was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}
