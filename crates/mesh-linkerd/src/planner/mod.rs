//! Turning a [`Change`] into a [`Plan`]: validate, refuse what Linkerd lacks, read what the change
//! needs, translate, and order the writes make-before-break. One file per group of operations;
//! this one holds the entry points and what they share.

mod configure_circuit_breaker;
mod create_authorization_policy;
mod create_destination_rule;
mod create_virtual_service;
mod enable_mtls;
mod inject_fault;
mod register_service;
mod remove_fault;
mod set_retry_policy;
mod set_traffic_weight;
mod unregister_service;

use std::cell::RefCell;

use mesh_core::{
    Capabilities, Change, Dependency, Error, Feature, MeshKind, ObjectRef, Plan, Precondition, Result,
    ServiceId, Subset, Version, Write, WriteAction,
};
use serde_json::{Map, Value, json};

use crate::{
    Config, LinkerdVersion, Snapshot, capabilities, objects,
    translate::{http_route, subsets},
};

const LINKERD: MeshKind = MeshKind::Linkerd;

/// Linkerd's planner for one release under one configuration: the [`mesh_core::Planner`]
/// contract over [`plan`] and [`reads`], with the refusals first.
///
/// ```
/// use mesh_core::{Change, Planner as _};
/// use mesh_linkerd::{Config, LinkerdPlanner, LinkerdVersion, Snapshot};
/// let planner = LinkerdPlanner::new(Config::default(), LinkerdVersion::V2_20);
/// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
/// // Enabling mTLS reads the Namespace first.
/// let reads = planner.reads(&change, &Snapshot::default()).unwrap();
/// assert_eq!(reads[0].kind, "Namespace");
/// ```
#[derive(Debug, Clone, Default)]
pub struct LinkerdPlanner {
    config: Config,
    version: LinkerdVersion,
}

impl LinkerdPlanner {
    /// The planner for Linkerd `version` under `config`.
    pub fn new(config: Config, version: LinkerdVersion) -> Self {
        Self { config, version }
    }

    /// The Linkerd release planned for.
    pub fn version(&self) -> LinkerdVersion {
        self.version
    }
}

impl mesh_core::Planner for LinkerdPlanner {
    type Read = ObjectRef;
    type Snapshot = Snapshot;

    fn mesh(&self) -> MeshKind {
        LINKERD
    }

    fn capabilities(&self) -> Capabilities {
        capabilities(self.version, &self.config)
    }

    fn refuse(&self, change: &Change) -> Result<()> {
        refuse(change, &self.config, self.version)
    }

    fn reads(&self, change: &Change, snapshot: &Snapshot) -> Result<Vec<ObjectRef>> {
        Ok(reads(change, snapshot, &self.config, self.version))
    }

    /// linkerd-smi's TrafficSplit CRD is optional: a cluster that does not serve it holds none.
    fn optional(&self, read: &ObjectRef) -> bool {
        read.kind == "TrafficSplit"
    }

    fn plan(&self, change: &Change, snapshot: &Snapshot) -> Result<Plan> {
        plan(change, snapshot, &self.config, self.version)
    }
}

/// Plans `change` against `snapshot` (an object it does not hold does not exist), for Linkerd
/// `version` under `config`.
///
/// Validation and every refusal come first.
///
/// ```
/// use mesh_core::{Change, TrafficSplit};
/// use mesh_linkerd::{Config, LinkerdVersion, Snapshot, objects, plan};
/// use serde_json::json;
/// let mut snap = Snapshot::default();
/// let id = "prod/reviews".parse().unwrap();
/// snap.insert(objects::service(&id), json!({"metadata": {"name": "reviews"},
///     "spec": {"selector": {"app": "reviews"}, "ports": [{"name": "http", "port": 9080}]}}));
/// let change = Change::SetTrafficWeight { service: id, split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap() };
/// let p = plan(&change, &snap, &Config::default(), LinkerdVersion::V2_20).unwrap();
/// let kinds: Vec<_> = p.targets().iter().map(|t| format!("{} {}", t.kind, t.name)).collect();
/// assert_eq!(kinds, ["Service reviews-v1", "Service reviews-v2", "HTTPRoute reviews"]);
/// assert!(p.check_safe_prefixes().is_ok());
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for bad input, [`Error::Unsupported`] naming the feature Linkerd (at
/// this version, under this configuration) cannot do, [`Error::NotFound`] when a Service the change
/// builds on is missing.
pub fn plan(change: &Change, snapshot: &Snapshot, config: &Config, version: LinkerdVersion) -> Result<Plan> {
    refuse(change, config, version)?;
    let mut p = Planner::new(snapshot, config, version, change);
    p.run(change)?;
    Ok(p.plan)
}

/// The objects planning `change` still needs that `snapshot` does not hold: planning runs on
/// what is known, and every object it asks for and does not find is listed. Reads depend on
/// earlier reads (the Service first, then its routes), so the caller reads these and asks again
/// until nothing new is listed ([`mesh_core::plan_with_reads`]). A refused change needs no read.
///
/// ```
/// use mesh_core::{Change, TrafficSplit};
/// use mesh_linkerd::{Config, LinkerdVersion, Snapshot, objects, reads};
/// use serde_json::json;
/// let id = "prod/reviews".parse().unwrap();
/// let change = Change::SetTrafficWeight { service: id, split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap() };
/// let mut snap = Snapshot::default();
/// let first = reads(&change, &snap, &Config::default(), LinkerdVersion::V2_20);
/// assert_eq!(first.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), ["Service"]);
/// snap.insert(first[0].clone(), json!({"metadata": {"name": "reviews"},
///     "spec": {"ports": [{"name": "http", "port": 9080}]}}));
/// let next = reads(&change, &snap, &Config::default(), LinkerdVersion::V2_20);
/// assert!(next.iter().any(|r| r.kind == "HTTPRoute"));
/// ```
pub fn reads(
    change: &Change,
    snapshot: &Snapshot,
    config: &Config,
    version: LinkerdVersion,
) -> Vec<ObjectRef> {
    if refuse(change, config, version).is_err() {
        return Vec::new();
    }
    let mut p = Planner::new(snapshot, config, version, change);
    // An error here may come from an object not read yet; what was asked for is what matters.
    let _ = p.run(change);
    p.missing.into_inner()
}

/// Validates `change` and refuses, by feature, what Linkerd cannot do. Reads nothing.
///
/// # Errors
/// As [`plan`], without the reads.
pub(crate) fn refuse(change: &Change, config: &Config, version: LinkerdVersion) -> Result<()> {
    change.validate()?;
    let caps = capabilities(version, config);
    let opted_in = |feature| capabilities::opted_in(feature, config);
    if let Some(e) = caps.refusal_of_all(&change.required_features(), opted_in) {
        return Err(e);
    }
    if let Change::CreateDestinationRule(p) = change
        && p.connection_pool
            .as_ref()
            .is_some_and(|c| c.max_pending_requests.is_some())
    {
        return Err(Error::unsupported(
            LINKERD,
            Feature::CircuitBreakerMaxConnections,
            "connection_pool.max_pending_requests: Linkerd has no connection-pool limits",
        ));
    }
    Ok(())
}

struct Planner<'a> {
    snapshot: &'a Snapshot,
    /// What planning asked for and the snapshot does not hold, in the order asked.
    missing: RefCell<Vec<ObjectRef>>,
    config: &'a Config,
    version: LinkerdVersion,
    plan: Plan,
}

fn subset_dep(id: &ServiceId, v: &Version) -> Dependency {
    Dependency::Subset {
        service: id.clone(),
        version: v.clone(),
    }
}

fn object_dep(r: &ObjectRef) -> Dependency {
    Dependency::Object { object: r.clone() }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A server-side apply of `body`; an annotation-only body lands as its concept's own field
/// manager ([`objects::annotation_field_manager`]).
fn apply(target: ObjectRef, body: Value) -> Write {
    let manager = objects::annotation_field_manager(&body);
    let write = Write::new(WriteAction::Apply, target, Some(body));
    match manager {
        Some(m) => write.managed_by(m),
        None => write,
    }
}

/// The versions a set of HTTPRoute rules sends traffic to, through `<service>-<version>` backends.
fn versions_in(id: &ServiceId, rules: &[Value]) -> Vec<Version> {
    let prefix = format!("{}-", id.name);
    let mut out: Vec<Version> = rules
        .iter()
        .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| Version::new(b["name"].as_str()?.strip_prefix(&prefix)?).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

impl<'a> Planner<'a> {
    fn new(snapshot: &'a Snapshot, config: &'a Config, version: LinkerdVersion, change: &Change) -> Self {
        Self {
            snapshot,
            missing: RefCell::new(Vec::new()),
            config,
            version,
            plan: Plan::for_change(LINKERD, change),
        }
    }

    /// The object at `r`, or `None` when the snapshot does not hold it (recorded as missing).
    fn get(&self, r: &ObjectRef) -> Result<Option<Value>> {
        let found = self.snapshot.get(r).cloned();
        if found.is_none() {
            let mut missing = self.missing.borrow_mut();
            if !missing.contains(r) {
                missing.push(r.clone());
            }
        }
        Ok(found)
    }

    fn apex(&self, id: &ServiceId) -> Result<Value> {
        self.get(&objects::service(id))?.ok_or_else(|| Error::NotFound {
            kind: "Service".into(),
            name: id.to_string(),
        })
    }

    fn warn(&mut self, w: impl Into<String>) {
        let w = w.into();
        if !self.plan.warnings.contains(&w) {
            self.plan.warnings.push(w);
        }
    }

    fn route_ref(&self, id: &ServiceId) -> ObjectRef {
        objects::http_route(
            id,
            &self
                .version
                .http_route_api_version(self.config.http_route_flavour),
        )
    }

    /// A ServiceProfile for the Service overrides routes, retries and failure accrual: refuse, or
    /// warn when the caller opted in to something that creates one.
    fn guard_service_profile(&mut self, id: &ServiceId, feature: Feature, allowed: bool) -> Result<()> {
        let sp = objects::service_profile(id);
        if self.get(&sp)?.is_none() {
            return Ok(());
        }
        let why = format!(
            "ServiceProfile {} exists; Linkerd then ignores HTTPRoutes, retry and timeout annotations \
             and failure accrual for this Service",
            sp.name
        );
        if allowed {
            self.warn(why);
            Ok(())
        } else {
            Err(Error::unsupported(
                LINKERD,
                feature,
                format!("{why}; delete it (or migrate it to HTTPRoutes) first"),
            ))
        }
    }

    /// Plans the per-version Services `subsets` need. Existing ones are rewritten only when
    /// `update` (a destination policy sets their labels; a route or split only needs them to exist).
    fn version_services(
        &mut self,
        id: &ServiceId,
        apex: &Value,
        subsets: &[Subset],
        update: bool,
    ) -> Result<()> {
        for s in subsets {
            let target = objects::version_service(id, &s.version);
            let want = subsets::version_service(id, apex, s, &self.config.selector_labels);
            let dep = subset_dep(id, &s.version);
            match self.get(&target)? {
                Some(have) => {
                    self.plan.baseline.available.push(dep.clone());
                    if update && objects::is_owned(&have) && !objects::contains(&have, &want) {
                        self.plan.push(apply(target, want).providing([dep]));
                    }
                }
                None => self.plan.push(apply(target, want).providing([dep])),
            }
        }
        Ok(())
    }

    /// Plans the HTTPRoute write of `update`.
    fn route_write(&mut self, target: ObjectRef, update: http_route::RouteUpdate, requires: Vec<Dependency>) {
        if update.unchanged {
            return;
        }
        let write = match update.resource_version {
            Some(rv) => {
                Write::new(WriteAction::Replace, target, Some(update.body)).guarded(Precondition::Version(rv))
            }
            None => apply(target, update.body),
        };
        self.plan.push(write.requiring(requires));
    }

    fn refuse_during_fault(route: Option<&Value>) -> Result<()> {
        let active = route
            .map(objects::annotations)
            .unwrap_or_default()
            .keys()
            .find_map(|k| mesh_kube::keys::name_of(k).filter(|n| n.starts_with("mesh-fault-")))
            .map(str::to_owned);
        match active {
            Some(k) => Err(Error::invalid(
                "service",
                format!(
                    "fault {} is active on this route; remove it before changing routes",
                    k
                ),
            )),
            None => Ok(()),
        }
    }

    fn port_of(id: &ServiceId, apex: &Value) -> Result<u16> {
        subsets::first_port(apex)
            .ok_or_else(|| Error::invalid("service", format!("Service {id} has no port")))
    }

    /// Plans an annotation-only apply on `target`, marked with `marker` (which picks its field
    /// manager), unless every annotation already holds.
    fn annotation_write(
        &mut self,
        target: ObjectRef,
        existing: &Value,
        marker: (&str, String),
        mut wanted: Map<String, Value>,
    ) {
        wanted.insert(marker.0.to_owned(), json!(marker.1));
        let have = objects::annotations(existing);
        if wanted.iter().all(|(k, v)| have.get(k) == Some(v)) {
            return;
        }
        let body = objects::annotation_patch(&target, wanted);
        self.plan.push(apply(target, body));
    }

    fn run(&mut self, change: &Change) -> Result<()> {
        match change {
            Change::RegisterService(def) => self.register_service(def),
            Change::UnregisterService { service } => self.unregister_service(service),
            Change::CreateDestinationRule(policy) => self.create_destination_rule(policy),
            Change::CreateVirtualService(routes) => self.create_virtual_service(routes),
            Change::SetTrafficWeight { service, split } => self.set_traffic_weight(service, split),
            Change::ConfigureCircuitBreaker {
                service,
                circuit_breaker,
                callers,
            } => self.configure_circuit_breaker(service, circuit_breaker, callers),
            Change::SetRetryPolicy { service, policy } => self.set_retry_policy(service, policy),
            Change::EnableMtls { namespace } => self.enable_mtls(namespace),
            Change::CreateAuthorizationPolicy(policy) => self.create_authorization_policy(policy),
            Change::InjectFault { service, fault } => self.inject_fault(change, service, fault),
            Change::RemoveFault { fault_id } => self.remove_fault(fault_id),
            other => Err(Error::invalid(
                "change",
                format!("{} is not known to the Linkerd backend", other.operation()),
            )),
        }
    }
}
