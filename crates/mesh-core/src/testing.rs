//! An in-memory backend for contract tests and for users' own tests.
//!
//! [`FakeMesh`] keeps objects in a map, follows the same contract as the real backends (validation
//! first, make-before-break ordering, partial-apply reports, convergence) and can be told to fail at
//! a given write.
//!
//! ```
//! # tokio_test_shim::block_on(async {
//! use mesh_core::{testing::FakeMesh, Change, MeshBackend, TrafficSplit};
//! let fake = FakeMesh::default();
//! let change = Change::SetTrafficWeight {
//!     service: "prod/api".parse().unwrap(),
//!     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
//! };
//! let plan = fake.plan(&change).await.unwrap();
//! // Subsets land before the route that uses them.
//! assert_eq!(plan.targets().iter().map(|t| t.kind.as_str()).collect::<Vec<_>>(), ["Subsets", "Routes"]);
//! fake.apply(&plan).await.unwrap();
//! // Running it again changes nothing.
//! assert!(fake.plan(&change).await.unwrap().is_noop());
//! # });
//! # mod tokio_test_shim { pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #   let waker = std::task::Waker::noop(); let mut cx = std::task::Context::from_waker(&waker);
//! #   let mut f = std::pin::pin!(f);
//! #   loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } } } }
//! ```

use std::{
    collections::BTreeMap,
    sync::{Mutex, PoisonError},
};

use serde_json::{Value, json};

use crate::{
    ApplyReport, Capabilities, Change, Dependency, DynObservability, DynStateStore, Error, Feature,
    MeshBackend, MeshKind, MtlsMode, MtlsStatus, Namespace, ObjectRef, Observability, Plan, Precondition,
    Result, ServiceGraph, ServiceId, ServiceMetrics, StateKey, StateStore, StoredState, Support, TimeRange,
    Trace, Version, Write, WriteAction,
};

const API: &str = "fake.mesh/v1";

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<ObjectRef, Value>,
    log: Vec<(WriteAction, ObjectRef)>,
    writes_seen: usize,
    fail_at: Option<usize>,
    metrics: BTreeMap<ServiceId, ServiceMetrics>,
    state: BTreeMap<StateKey, (String, u64)>,
    state_version: u64,
}

/// An in-memory mesh. Every feature is native unless replaced with [`FakeMesh::with_capabilities`].
#[derive(Debug)]
pub struct FakeMesh {
    kind: MeshKind,
    capabilities: Capabilities,
    state: Mutex<State>,
}

impl Default for FakeMesh {
    fn default() -> Self {
        Self::new(MeshKind::Istio)
    }
}

impl FakeMesh {
    /// A fake reporting `kind`, with every feature native.
    pub fn new(kind: MeshKind) -> Self {
        let capabilities = Feature::ALL.iter().fold(Capabilities::new(kind), |c, f| {
            c.with(*f, Support::native("in-memory object"))
        });
        Self {
            kind,
            capabilities,
            state: Mutex::new(State::default()),
        }
    }

    /// Replaces the capability table; unsupported features are then refused like a real backend does.
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Makes the `n`-th write from now (1-based) fail with a backend error.
    pub fn fail_at_write(&self, n: usize) {
        let mut s = self.lock();
        s.fail_at = Some(s.writes_seen + n);
    }

    /// Serves `metrics` from [`Observability::get_service_metrics`] for its service.
    pub fn set_metrics(&self, metrics: ServiceMetrics) {
        self.lock().metrics.insert(metrics.service.clone(), metrics);
    }

    /// A snapshot of every stored object.
    pub fn objects(&self) -> BTreeMap<ObjectRef, Value> {
        self.lock().objects.clone()
    }

    /// Every write that landed, in order.
    pub fn write_log(&self) -> Vec<(WriteAction, ObjectRef)> {
        self.lock().log.clone()
    }

    /// Checks the stored state: every stored route points at stored subsets.
    ///
    /// # Errors
    /// A description of the first dangling reference.
    pub fn check_consistent(&self) -> std::result::Result<(), String> {
        let s = self.lock();
        for (r, body) in &s.objects {
            if r.kind != "Routes" {
                continue;
            }
            let subsets = s.objects.get(&obj(
                "Subsets",
                r.namespace.as_deref().unwrap_or("default"),
                &r.name,
            ));
            for v in body["versions"].as_array().into_iter().flatten() {
                let has = subsets
                    .and_then(|b| b["subsets"].as_object())
                    .is_some_and(|m| m.contains_key(v.as_str().unwrap_or("")));
                if !has {
                    return Err(format!("{r} routes to {v}, which has no subset"));
                }
            }
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, r: &ObjectRef) -> Option<Value> {
        self.lock().objects.get(r).cloned()
    }

    /// Adds a write unless the stored body is already equal (convergence).
    fn push_if_changed(&self, plan: &mut Plan, write: Write) {
        let unchanged = match (&write.action, &write.body) {
            (WriteAction::Delete, _) => self.get(&write.target).is_none(),
            (_, Some(body)) => self.get(&write.target).as_ref() == Some(body),
            (_, None) => false,
        };
        if !unchanged {
            plan.push(write);
        }
    }

    /// Plans the subsets write that adds `versions` to what is stored, if any are missing.
    fn ensure_subsets(&self, plan: &mut Plan, service: &ServiceId, versions: &[Version]) {
        let r = obj("Subsets", service.namespace.as_str(), service.name.as_str());
        let mut body = self.get(&r).unwrap_or_else(|| json!({"subsets": {}}));
        let have: Vec<Version> = subsets_of(&body);
        plan.baseline
            .available
            .extend(have.iter().map(|v| subset(service, v)));
        if let Some(map) = body["subsets"].as_object_mut() {
            for v in versions {
                map.entry(v.to_string()).or_insert_with(|| json!({"version": v}));
            }
        }
        let write = Write::new(WriteAction::Apply, r, Some(body))
            .providing(versions.iter().chain(&have).map(|v| subset(service, v)));
        self.push_if_changed(plan, write);
    }

    fn routes_write(&self, plan: &mut Plan, service: &ServiceId, versions: &[Version], body: Value) {
        self.ensure_subsets(plan, service, versions);
        let r = obj("Routes", service.namespace.as_str(), service.name.as_str());
        let write = Write::new(WriteAction::Apply, r, Some(body))
            .requiring(versions.iter().map(|v| subset(service, v)));
        self.push_if_changed(plan, write);
    }

    fn plan_inner(&self, change: &Change) -> Result<Plan> {
        change.validate()?;
        for feature in change.required_features() {
            if let Some(refusal) = self.capabilities.refusal(feature, false) {
                return Err(refusal);
            }
        }
        let mut plan = Plan::for_change(self.kind, change);
        match change {
            Change::RegisterService(def) => {
                let r = obj("Service", def.namespace.as_str(), def.name.as_str());
                self.push_if_changed(&mut plan, Write::new(WriteAction::Apply, r, Some(to_json(def))));
            }
            Change::UnregisterService { service } => {
                let (ns, name) = (service.namespace.as_str(), service.name.as_str());
                let svc = obj("Service", ns, name);
                if self.get(&svc).is_none() {
                    return Err(Error::NotFound {
                        kind: "service".into(),
                        name: service.to_string(),
                    });
                }
                // Break before unmake: routes go first, then the subsets they used, then the service.
                let subsets = self
                    .get(&obj("Subsets", ns, name))
                    .map(|b| subsets_of(&b))
                    .unwrap_or_default();
                plan.baseline
                    .available
                    .extend(subsets.iter().map(|v| subset(service, v)));
                self.push_if_changed(
                    &mut plan,
                    Write::new(WriteAction::Delete, obj("Routes", ns, name), None),
                );
                self.push_if_changed(
                    &mut plan,
                    Write::new(WriteAction::Delete, obj("Subsets", ns, name), None)
                        .withdrawing(subsets.iter().map(|v| subset(service, v))),
                );
                plan.push(Write::new(WriteAction::Delete, svc, None));
            }
            Change::CreateDestinationRule(policy) => {
                let s = &policy.service;
                let r = obj("Subsets", s.namespace.as_str(), s.name.as_str());
                let subsets: serde_json::Map<String, Value> = policy
                    .subsets
                    .iter()
                    .map(|x| (x.version.to_string(), json!({"version": x.version})))
                    .collect();
                let old = self.get(&r).map(|b| subsets_of(&b)).unwrap_or_default();
                plan.baseline.available.extend(old.iter().map(|v| subset(s, v)));
                let kept: Vec<Version> = policy.subsets.iter().map(|x| x.version.clone()).collect();
                let routes = self.get(&obj("Routes", s.namespace.as_str(), s.name.as_str()));
                if let Some(routes) = routes {
                    let used = versions_of(&routes);
                    plan.baseline.in_use.push((
                        obj("Routes", s.namespace.as_str(), s.name.as_str()),
                        used.iter().map(|v| subset(s, v)).collect(),
                    ));
                }
                let write = Write::new(
                    WriteAction::Apply,
                    r,
                    Some(json!({"subsets": subsets, "policy": to_json(policy)})),
                )
                .providing(kept.iter().map(|v| subset(s, v)))
                .withdrawing(old.iter().filter(|v| !kept.contains(v)).map(|v| subset(s, v)));
                self.push_if_changed(&mut plan, write);
            }
            Change::CreateVirtualService(routes) => {
                let versions: Vec<Version> = routes
                    .rules
                    .iter()
                    .flat_map(|r| r.destinations.versions().cloned())
                    .collect();
                let body = json!({"versions": dedup(&versions), "rules": to_json(&routes.rules)});
                self.routes_write(&mut plan, &routes.service, &dedup(&versions), body);
            }
            Change::SetTrafficWeight { service, split } => {
                let versions: Vec<Version> = split.versions().cloned().collect();
                let body = json!({"versions": versions, "split": to_json(split)});
                self.routes_write(&mut plan, service, &versions, body);
            }
            Change::ConfigureCircuitBreaker {
                service,
                circuit_breaker,
                ..
            } => {
                let r = obj(
                    "CircuitBreaker",
                    service.namespace.as_str(),
                    service.name.as_str(),
                );
                self.push_if_changed(
                    &mut plan,
                    Write::new(WriteAction::Apply, r, Some(to_json(circuit_breaker))),
                );
            }
            Change::SetRetryPolicy { service, policy } => {
                let r = obj("RetryPolicy", service.namespace.as_str(), service.name.as_str());
                self.push_if_changed(
                    &mut plan,
                    Write::new(WriteAction::Apply, r, Some(to_json(policy))),
                );
            }
            Change::EnableMtls { namespace } => {
                let r = obj("PeerAuthentication", namespace.as_str(), "default");
                self.push_if_changed(
                    &mut plan,
                    Write::new(WriteAction::Apply, r, Some(json!({"mode": "STRICT"}))),
                );
            }
            Change::CreateAuthorizationPolicy(p) => {
                let r = obj("AuthorizationPolicy", p.namespace.as_str(), p.name.as_str());
                self.push_if_changed(&mut plan, Write::new(WriteAction::Apply, r, Some(to_json(p))));
            }
            Change::InjectFault { service, fault } => {
                let id = change.fault_id(self.kind)?;
                let r = obj("Fault", service.namespace.as_str(), &id.marker());
                self.push_if_changed(&mut plan, Write::new(WriteAction::Apply, r, Some(to_json(fault))));
            }
            Change::RemoveFault { fault_id } => {
                if fault_id.mesh != self.kind {
                    return Err(Error::invalid(
                        "fault_id",
                        format!("belongs to {}, not {}", fault_id.mesh, self.kind),
                    ));
                }
                let r = obj("Fault", fault_id.service.namespace.as_str(), &fault_id.marker());
                if self.get(&r).is_none() {
                    return Err(Error::NotFound {
                        kind: "fault".into(),
                        name: fault_id.to_string(),
                    });
                }
                plan.push(Write::new(WriteAction::Delete, r, None));
            }
        }
        Ok(plan)
    }
}

impl MeshBackend for FakeMesh {
    fn kind(&self) -> MeshKind {
        self.kind
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        self.plan_inner(change)
    }

    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        let mut s = self.lock();
        let mut applied = Vec::new();
        for w in &plan.writes {
            s.writes_seen += 1;
            let failure = if s.fail_at == Some(s.writes_seen) {
                Some(Error::backend(self.kind, "injected failure"))
            } else if w.precondition == Some(Precondition::MustNotExist) && s.objects.contains_key(&w.target)
            {
                Some(Error::AlreadyExists {
                    kind: w.target.kind.clone(),
                    name: w.target.name.clone(),
                })
            } else {
                None
            };
            if let Some(source) = failure {
                return Err(Error::PartiallyApplied {
                    applied,
                    failed: Box::new(w.target.clone()),
                    total: plan.writes.len(),
                    source: Box::new(source),
                });
            }
            match (&w.action, &w.body) {
                (WriteAction::Delete, _) => {
                    s.objects.remove(&w.target);
                }
                (_, Some(body)) => {
                    s.objects.insert(w.target.clone(), body.clone());
                }
                (_, None) => {}
            }
            s.log.push((w.action, w.target.clone()));
            applied.push(w.target.clone());
        }
        Ok(ApplyReport {
            applied,
            event: plan.event.clone(),
            warnings: plan.warnings.clone(),
            pending: plan.pending.clone(),
        })
    }

    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let strict = self
            .get(&obj("PeerAuthentication", namespace.as_str(), "default"))
            .is_some();
        Ok(MtlsStatus {
            namespace: namespace.clone(),
            mode: if strict {
                MtlsMode::Strict
            } else {
                MtlsMode::Permissive
            },
            automatic: false,
            trust_domain: Some("cluster.local".into()),
            notes: Vec::new(),
        })
    }

    fn state_store(&self) -> Option<&dyn DynStateStore> {
        Some(self)
    }

    fn observability(&self) -> Option<&dyn DynObservability> {
        Some(self)
    }
}

/// Serves what [`FakeMesh::set_metrics`] was given, no traces, an empty graph.
impl Observability for FakeMesh {
    async fn get_service_metrics(&self, service: &ServiceId, range: TimeRange) -> Result<ServiceMetrics> {
        let found = self.lock().metrics.get(service).cloned();
        found.map(|m| ServiceMetrics { range, ..m }).ok_or_else(|| {
            Error::not_configured(
                "fake metrics",
                format!("call FakeMesh::set_metrics for {service}"),
            )
        })
    }

    async fn get_service_traces(&self, _service: &ServiceId, _limit: usize) -> Result<Vec<Trace>> {
        Ok(Vec::new())
    }

    async fn get_service_graph(&self, namespace: &Namespace) -> Result<ServiceGraph> {
        Ok(ServiceGraph {
            namespace: namespace.clone(),
            nodes: Vec::new(),
            edges: Vec::new(),
        })
    }
}

/// State in memory, versions counting up from 1.
impl StateStore for FakeMesh {
    async fn read_state(&self, key: &StateKey) -> Result<Option<StoredState>> {
        let s = self.lock();
        Ok(s.state.get(key).map(|(value, v)| StoredState {
            value: value.clone(),
            version: v.to_string(),
        }))
    }

    async fn write_state(&self, key: &StateKey, value: &str, expected: Option<&str>) -> Result<String> {
        let mut s = self.lock();
        let current = s.state.get(key).map(|(_, v)| v.to_string());
        if current.as_deref() != expected {
            return Err(state_conflict(key));
        }
        s.state_version += 1;
        let version = s.state_version;
        s.state.insert(key.clone(), (value.to_owned(), version));
        Ok(version.to_string())
    }

    async fn delete_state(&self, key: &StateKey, expected: &str) -> Result<()> {
        let mut s = self.lock();
        match s.state.get(key) {
            Some((_, v)) if v.to_string() == expected => {
                s.state.remove(key);
                Ok(())
            }
            Some(_) => Err(state_conflict(key)),
            None => Err(Error::NotFound {
                kind: "state".into(),
                name: key.to_string(),
            }),
        }
    }
}

fn state_conflict(key: &StateKey) -> Error {
    Error::Conflict {
        object: key.to_string(),
        owner: "another writer".into(),
        field: "state".into(),
    }
}

fn obj(kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef::new(API, kind, Some(namespace), name)
}

fn subset(service: &ServiceId, version: &Version) -> Dependency {
    Dependency::Subset {
        service: service.clone(),
        version: version.clone(),
    }
}

fn subsets_of(body: &Value) -> Vec<Version> {
    body["subsets"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| Version::new(k.as_str()).ok())
        .collect()
}

fn versions_of(body: &Value) -> Vec<Version> {
    body["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| Version::new(v.as_str()?).ok())
        .collect()
}

fn dedup(versions: &[Version]) -> Vec<Version> {
    let mut out: Vec<Version> = Vec::new();
    for v in versions {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    out
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
