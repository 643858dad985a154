//! Turning a [`Change`] into a [`Plan`] of Istio object writes, against a [`Snapshot`] of what
//! the cluster holds. Pure: it reads only the snapshot and writes nothing.
//!
//! # Writes per operation (the documented minimum)
//! | operation | reads | writes, in order |
//! | --- | --- | --- |
//! | register (plain Kubernetes Service) | Service | none: already registered |
//! | register (with endpoints) | ServiceEntry, Service | Apply each WorkloadEntry, Apply ServiceEntry, Delete stale WorkloadEntries |
//! | unregister | ServiceEntry, Service | Delete ServiceEntry, Delete its WorkloadEntries |
//! | create_destination_rule, configure_circuit_breaker | DestinationRule, VirtualService | DestinationRule (if changed) |
//! | create_virtual_service, set_traffic_weight | DestinationRule, VirtualService | DestinationRule (only if a subset is missing), then VirtualService (if changed) |
//! | set_retry_policy, inject_fault, remove_fault | DestinationRule, VirtualService | VirtualService (if changed) |
//! | enable_mtls | none | Apply PeerAuthentication `default` |
//! | create_authorization_policy | none | Apply AuthorizationPolicy |
//!
//! The VirtualService and DestinationRule are shared with users: an existing one is replaced
//! whole (`WriteAction::Replace`) guarded by its `resourceVersion`, a missing one is created with
//! `Precondition::MustNotExist`, so a concurrent edit turns into a 409 Conflict and a re-plan
//! instead of a lost update. Objects the library fully owns take one `Apply` and no read.
//!
//! Plans are make-before-break: a DestinationRule write that adds subsets comes before the
//! VirtualService write that routes to them, and every write declares the subsets it provides and
//! requires, so [`Plan::check_safe_prefixes`] proves it. The library never removes a subset.

use std::{borrow::Cow, collections::BTreeSet};

use mesh_core::{
    Change, Dependency, Error, MeshKind, ObjectRef, Plan, Precondition, SelectorLabels, ServiceId, Version,
    Write, WriteAction,
};
use serde_json::Value;

use crate::{
    Config, Snapshot, objects,
    routes::HttpRoutes,
    translate::{self, destination_rule as dr, virtual_service as vs},
};

/// Istio's planner under one configuration: the [`mesh_core::Planner`] contract over [`plan`]
/// and [`reads`].
///
/// ```
/// use mesh_core::{Change, Planner as _};
/// use mesh_istio::{Config, IstioPlanner, Snapshot};
/// let planner = IstioPlanner::new(Config::default());
/// let change = Change::EnableMtls { namespace: "prod".parse().unwrap() };
/// assert!(planner.reads(&change, &Snapshot::default()).unwrap().is_empty()); // an owned object: no read
/// assert_eq!(planner.plan(&change, &Snapshot::default()).unwrap().writes.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct IstioPlanner {
    config: Config,
}

impl IstioPlanner {
    /// The planner under `config`.
    pub fn new(config: Config) -> Self {
        Self { config }
    }
}

impl mesh_core::Planner for IstioPlanner {
    type Read = ObjectRef;
    type Snapshot = Snapshot;

    fn mesh(&self) -> MeshKind {
        MeshKind::Istio
    }

    fn capabilities(&self) -> mesh_core::Capabilities {
        crate::capabilities()
    }

    fn refuse(&self, change: &Change) -> Result<(), Error> {
        refuse(change)
    }

    /// Everything [`reads`] lists, in one round: no Istio read depends on another.
    fn reads(&self, change: &Change, snapshot: &Snapshot) -> Result<Vec<ObjectRef>, Error> {
        Ok(reads(change)
            .into_iter()
            .filter(|r| snapshot.get(r).is_none())
            .collect())
    }

    fn plan(&self, change: &Change, snapshot: &Snapshot) -> Result<Plan, Error> {
        plan(change, snapshot, &self.config)
    }
}

/// Validates `change` and refuses, by feature, what Istio cannot do. Reads nothing.
fn refuse(change: &Change) -> Result<(), Error> {
    change.validate()?;
    let caps = crate::capabilities::table();
    match caps.refusal_of_all(&change.required_features(), |_| false) {
        Some(refusal) => Err(refusal),
        None => Ok(()),
    }
}

/// The objects [`plan`] reads for `change`; the backend fetches exactly these into the snapshot.
///
/// ```
/// use mesh_core::{Change, TrafficSplit};
/// let change = Change::SetTrafficWeight {
///     service: "prod/reviews".parse().unwrap(),
///     split: TrafficSplit::try_from_pairs([("v1", 100)]).unwrap(),
/// };
/// let kinds: Vec<String> = mesh_istio::reads(&change).into_iter().map(|r| r.kind).collect();
/// assert_eq!(kinds, ["DestinationRule", "VirtualService"]);
/// ```
pub fn reads(change: &Change) -> Vec<ObjectRef> {
    let Some(service) = change.service() else {
        return Vec::new(); // namespace-wide: owned objects, applied whole
    };
    match change {
        Change::RegisterService(def) if def.endpoints.is_empty() => {
            vec![objects::kubernetes_service(&service)]
        }
        Change::RegisterService(_) | Change::UnregisterService { .. } => {
            vec![
                objects::service_entry(&service),
                objects::kubernetes_service(&service),
            ]
        }
        _ => vec![
            objects::destination_rule(&service),
            objects::virtual_service(&service),
        ],
    }
}

/// Plans `change` against `snapshot` (which must hold what [`reads`] lists, where it exists).
///
/// # Errors
/// [`Error::InvalidInput`] for bad input (nothing is planned), [`Error::Unsupported`] for a
/// feature Istio lacks, [`Error::NotFound`] when removing a fault or service that is not there.
///
/// ```
/// use mesh_core::{Change, TrafficSplit};
/// use mesh_istio::{Config, Snapshot};
/// let change = Change::SetTrafficWeight {
///     service: "prod/reviews".parse().unwrap(),
///     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
/// };
/// let plan = mesh_istio::plan(&change, &Snapshot::default(), &Config::default()).unwrap();
/// let kinds: Vec<String> = plan.targets().into_iter().map(|r| r.kind).collect();
/// assert_eq!(kinds, ["DestinationRule", "VirtualService"]); // subsets before the routes using them
/// assert!(plan.check_safe_prefixes().is_ok());
/// ```
pub fn plan(change: &Change, snapshot: &Snapshot, config: &Config) -> Result<Plan, Error> {
    refuse(change)?;
    let mut plan = Plan::for_change(MeshKind::Istio, change);
    if !crate::ops::plan_standalone(&mut plan, change, snapshot, config)? {
        plan_host(&mut plan, change, snapshot, &config.selector_labels)?;
    }
    Ok(plan)
}

/// The read-modify-write of a host's DestinationRule and VirtualService.
fn plan_host(
    plan: &mut Plan,
    change: &Change,
    snapshot: &Snapshot,
    keys: &SelectorLabels,
) -> Result<(), Error> {
    let Some(service) = change.service() else {
        return Err(Error::invalid(
            "change",
            format!("{} is not a routing change", change.operation()),
        ));
    };
    let dr_ref = objects::destination_rule(&service);
    let vs_ref = objects::virtual_service(&service);
    let dr_old = snapshot.get(&dr_ref);
    let vs_old = snapshot.get(&vs_ref);
    // Copied only when something changes it: most routing changes leave the rule alone.
    let mut dr_new: Cow<'_, Value> = match dr_old {
        Some(old) => Cow::Borrowed(old),
        None => Cow::Owned(dr::new(&service)),
    };
    let routes_old =
        vs_old.map(|v| HttpRoutes::parse(v["spec"]["http"].as_array().map_or(&[], Vec::as_slice)));

    // What exists before the first write: the subsets, and the existing routes' needs.
    let available_before = versions(&dr_old.map(dr::subset_names).unwrap_or_default());
    plan.baseline.available = available_before.iter().map(|v| subset_dep(&service, v)).collect();
    if let Some(r) = &routes_old {
        let reqs = requirements(r, &service, &available_before);
        plan.baseline.in_use.push((vs_ref.clone(), reqs));
    }

    let mut routes = routes_old.unwrap_or_default();
    let touches_vs = crate::ops::edit_host(
        change,
        &service,
        &mut dr_new,
        &mut routes,
        &mut plan.warnings,
        keys,
    )?;
    let shadowing = routes.shadowing_user_routes();
    if touches_vs && !shadowing.is_empty() {
        plan.warnings.push(format!(
            "user route(s) {} take every request before the library's routes, which get no traffic",
            shadowing.join(", ")
        ));
    }

    // The subsets the new routes need are added to the rule before the routes land.
    if touches_vs {
        let defined = dr::subset_names(&dr_new);
        // A subset selects the version's label value as the change gave it (`1.2.0`), under the
        // name derived from it (`1-2-0`).
        let named = change.versions();
        for name in routes.owned_subsets(&service) {
            let version = named.iter().find(|v| v.as_str() == name).cloned();
            if !defined.contains(&name)
                && let Some(v) = version.or_else(|| Version::new(name).ok())
            {
                dr::ensure_subset(rule_to_edit(&mut dr_new), &v, keys);
            }
        }
    }
    let defined = dr::subset_names(&dr_new);
    let available_after = versions(&defined);
    let dangling: Vec<String> = routes
        .user_subsets(&service)
        .into_iter()
        .filter(|n| !defined.contains(n))
        .collect();
    if !dangling.is_empty() {
        plan.warnings.push(format!(
            "user routes send traffic to subset(s) {} of {service}, which the DestinationRule does not define (Envoy answers 503); the library leaves them alone",
            dangling.join(", ")
        ));
    }

    if let Cow::Owned(dr_new) = dr_new
        && changed(dr_old, &dr_new)
    {
        let provides = available_after.iter().map(|v| subset_dep(&service, v));
        plan.push(guarded(dr_ref, dr_old, dr_new).providing(provides));
    }
    if touches_vs {
        let requires = requirements(&routes, &service, &available_after);
        let http = Value::Array(routes.into_vec());
        let vs_new = match vs_old {
            Some(old) => translate::replacement_base_with(old, &["spec", "http"], http),
            None => {
                let mut new = vs::new(&service);
                translate::set_path(&mut new, &["spec", "http"], http);
                new
            }
        };
        if changed(vs_old, &vs_new) {
            plan.push(guarded(vs_ref, vs_old, vs_new).requiring(requires));
        }
    }
    Ok(())
}

/// The DestinationRule to edit: the copy of the one read, made on the first edit.
pub(crate) fn rule_to_edit<'a>(rule: &'a mut Cow<'_, Value>) -> &'a mut Value {
    if let Cow::Borrowed(read) = rule {
        *rule = Cow::Owned(translate::replacement_base(read));
    }
    rule.to_mut()
}

/// The subsets a VirtualService needs: every subset the library routes to, and the user-routed
/// ones that exist (a user's pre-existing dangling reference is not the plan's to prove).
fn requirements(routes: &HttpRoutes, service: &ServiceId, available: &BTreeSet<Version>) -> Vec<Dependency> {
    let owned = versions(&routes.owned_subsets(service));
    let user = versions(&routes.user_subsets(service));
    owned
        .into_iter()
        .chain(user.into_iter().filter(|v| available.contains(v)))
        .collect::<BTreeSet<_>>()
        .iter()
        .map(|v| subset_dep(service, v))
        .collect()
}

fn versions(names: &BTreeSet<String>) -> BTreeSet<Version> {
    names
        .iter()
        .filter_map(|n| Version::new(n.as_str()).ok())
        .collect()
}

fn subset_dep(service: &ServiceId, version: &Version) -> Dependency {
    Dependency::Subset {
        service: service.clone(),
        version: version.clone(),
    }
}

fn changed(old: Option<&Value>, new: &Value) -> bool {
    old.is_none_or(|o| !translate::same_content(o, new))
}

/// A Create guarded by "must not exist", or a Replace guarded by the read `resourceVersion`.
fn guarded(target: ObjectRef, old: Option<&Value>, body: Value) -> Write {
    match old.and_then(translate::resource_version) {
        Some(rv) => Write::new(WriteAction::Replace, target, Some(body)).guarded(Precondition::Version(rv)),
        None if old.is_some() => Write::new(WriteAction::Replace, target, Some(body)),
        None => Write::new(WriteAction::Create, target, Some(body)).guarded(Precondition::MustNotExist),
    }
}
