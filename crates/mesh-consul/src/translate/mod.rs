//! Pure translation of mesh-core [`Change`]s into ordered Consul writes.
//!
//! [`reads`] lists what must be read first; the caller (the backend, or a test) fills a
//! [`Snapshot`] with it, and [`plan`] turns the change into a [`Plan`] without any I/O. Writes are
//! ordered service-defaults (L7 protocol) → service-resolver (subsets) → service-splitter /
//! service-router, and the reverse on removal; each declares what it provides, requires and
//! withdraws, and [`plan`] refuses any plan that [`Plan::check_safe_prefixes`] rejects.
//!
//! On Enterprise the namespace travels as the `?ns=` parameter (the [`EntryKey`] and the target's
//! `namespace`), never as a body field the library adds; on CE it travels nowhere.
//!
//! Read-modify-write keeps every field this library does not own, and guards the write with the
//! entry's `ModifyIndex` (`?cas=<index>`), or `?cas=0` when creating.

mod configure_circuit_breaker;
mod create_authorization_policy;
mod create_destination_rule;
mod create_virtual_service;
mod enable_mtls;
mod fault;
mod inject_fault;
mod planner;
mod register;
mod register_service;
mod remove_fault;
mod routes;
mod set_retry_policy;
mod set_traffic_weight;
mod shared_entries;
mod unregister_service;

use std::collections::BTreeMap;

use mesh_core::{Change, Error, Feature, MeshKind, Namespace, Plan, Result};

use crate::{
    ConsulVersion,
    model::{ConfigEntry, EntryKind},
};
use create_destination_rule::subset_filter;
pub(crate) use planner::AGENT_SERVICE;
use planner::Planner;

/// What the translation needs to know about the target Consul and the caller's choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Edition and version of the agent.
    pub version: ConsulVersion,
    /// Opt-in: emulate abort faults on CE (or Enterprise < 1.18) with a `builtin/lua` extension.
    pub lua_fault_emulation: bool,
    /// The instance labels; the version key is the service metadata key subsets filter on.
    pub selector_labels: mesh_core::SelectorLabels,
}

impl Context {
    /// A context for `version`, without opt-ins.
    pub fn new(version: ConsulVersion) -> Self {
        Self {
            version,
            lua_fault_emulation: false,
            selector_labels: mesh_core::SelectorLabels::default(),
        }
    }
}

/// The key of a config entry: kind, Enterprise namespace (`None` on CE) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey {
    /// The kind.
    pub kind: EntryKind,
    /// The Enterprise namespace; always `None` on CE.
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl EntryKey {
    /// Builds a key.
    pub fn new(kind: EntryKind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

/// Something [`plan`] needs read before it can plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Read {
    /// `GET /v1/config/:kind/:name`.
    Entry(EntryKey),
    /// The agent's instances of a service (`GET /v1/agent/services`, filtered on the name).
    AgentServices {
        /// The service name.
        service: String,
        /// The Enterprise namespace.
        namespace: Option<String>,
    },
}

/// What was read: current entries (with their `ModifyIndex`) and agent instance ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Entries that exist. A key that was read and is absent here does not exist.
    pub entries: BTreeMap<EntryKey, ConfigEntry>,
    /// Instance ids registered on the agent, per service name.
    pub agent_services: BTreeMap<String, Vec<String>>,
}

impl Snapshot {
    /// Adds an entry under its own kind and name, in `namespace`.
    pub fn insert(&mut self, namespace: Option<&str>, entry: ConfigEntry) {
        let key = EntryKey::new(entry.kind(), namespace, entry.name());
        self.entries.insert(key, entry);
    }
}

/// The namespace as sent to Consul: `None` on CE (where only `default` is accepted).
///
/// # Errors
/// [`Error::Unsupported`] naming `feature` when a namespace other than `default` is asked of CE.
pub(crate) fn consul_namespace(ctx: &Context, ns: &Namespace, feature: Feature) -> Result<Option<String>> {
    if ctx.version.is_enterprise() {
        Ok(Some(ns.to_string()))
    } else if ns.is_default() {
        Ok(None)
    } else {
        Err(Error::unsupported(
            MeshKind::Consul,
            feature,
            format!(
                "namespace \"{ns}\": namespaces are a Consul Enterprise feature; Consul CE only has \"default\""
            ),
        ))
    }
}

/// The reads [`plan`] needs for `change`, given what `snapshot` already holds. Call it again after
/// reading: a circuit breaker whose callers are derived from service-intentions needs the
/// intentions first, then the callers' service-defaults.
///
/// ```
/// use mesh_consul::{ConsulVersion, translate::{reads, Context, Read}};
/// use mesh_core::{Change, TrafficSplit};
/// let change = Change::SetTrafficWeight {
///     service: "web".parse().unwrap(),
///     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap(),
/// };
/// let r = reads(&change, &Context::new(ConsulVersion::ce(1, 18, 0)), &Default::default()).unwrap();
/// assert_eq!(r.len(), 4); // service-defaults, resolver, splitter, router
/// ```
///
/// # Errors
/// As [`plan`], for a namespace CE cannot serve.
pub fn reads(change: &Change, ctx: &Context, snapshot: &Snapshot) -> Result<Vec<Read>> {
    planner::reads(change, ctx, snapshot)
}

/// Validates `change` and refuses, by name, the first feature `ctx.version` lacks. No I/O.
/// Public through [`ConsulPlanner`](crate::ConsulPlanner)'s `refuse`.
///
/// # Errors
/// [`Error::InvalidInput`] or [`Error::Unsupported`].
pub(crate) fn check(change: &Change, ctx: &Context) -> Result<()> {
    change.validate()?;
    let key = ctx.selector_labels.version();
    if !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(mesh_core::Error::invalid(
            "version_label",
            format!(
                "{key:?}: Consul filters subsets on a service metadata key, which takes letters, digits and '_' here"
            ),
        ));
    }
    let caps = crate::capabilities::capabilities(&ctx.version);
    let opted_in = |feature| feature == Feature::FaultAbort && ctx.lua_fault_emulation;
    if let Some(refusal) = caps.refusal_of_all(&change.required_features(), opted_in) {
        return Err(refusal);
    }
    for (namespace, feature) in namespaces(change) {
        consul_namespace(ctx, &namespace, feature)?;
    }
    Ok(())
}

/// Every namespace a change names, with the feature to refuse when CE cannot serve it.
fn namespaces(change: &Change) -> Vec<(Namespace, Feature)> {
    let first = change
        .required_features()
        .first()
        .copied()
        .unwrap_or(Feature::RegisterService);
    match change {
        Change::RemoveFault { fault_id } => vec![(fault_id.service.namespace.clone(), Feature::FaultAbort)],
        Change::EnableMtls { namespace } => vec![(namespace.clone(), Feature::MtlsStrict)],
        Change::CreateAuthorizationPolicy(p) => {
            let mut out = vec![(p.namespace.clone(), first)];
            for source in p.rules.iter().flat_map(|r| &r.from) {
                out.extend(
                    source
                        .principals
                        .iter()
                        .map(|x| (x.namespace.clone(), Feature::AuthzNamespaces)),
                );
                out.extend(
                    source
                        .namespaces
                        .iter()
                        .map(|n| (n.clone(), Feature::AuthzNamespaces)),
                );
            }
            out
        }
        other => other
            .service()
            .map(|s| (s.namespace, first))
            .into_iter()
            .collect(),
    }
}

/// Turns `change` into an ordered, prefix-safe plan, from what `snapshot` holds.
///
/// The change is validated and every feature it needs is checked against the capabilities of
/// `ctx.version` first.
///
/// # Errors
/// [`Error::InvalidInput`] for bad input or a plan that would leave something dangling,
/// [`Error::Unsupported`] naming the feature Consul lacks, [`Error::NotFound`] when removing
/// something absent.
pub fn plan(change: &Change, ctx: &Context, snapshot: &Snapshot) -> Result<Plan> {
    check(change, ctx)?;
    let mut p = Planner::new(ctx, snapshot, change);
    match change {
        Change::RegisterService(def) => register_service::plan(&mut p, def)?,
        Change::UnregisterService { service } => unregister_service::plan(&mut p, service)?,
        Change::CreateDestinationRule(policy) => create_destination_rule::plan(&mut p, policy)?,
        Change::CreateVirtualService(routes) => create_virtual_service::plan(&mut p, routes)?,
        Change::SetTrafficWeight { service, split } => set_traffic_weight::plan(&mut p, service, split)?,
        Change::ConfigureCircuitBreaker {
            service,
            circuit_breaker,
            callers,
        } => configure_circuit_breaker::plan(&mut p, service, circuit_breaker, callers)?,
        Change::SetRetryPolicy { service, policy } => set_retry_policy::plan(&mut p, service, policy)?,
        Change::EnableMtls { namespace } => enable_mtls::plan(&mut p, namespace)?,
        Change::CreateAuthorizationPolicy(policy) => create_authorization_policy::plan(&mut p, policy)?,
        Change::InjectFault { service, fault } => inject_fault::plan(&mut p, service, fault)?,
        Change::RemoveFault { fault_id } => remove_fault::plan(&mut p, fault_id)?,
        other => {
            return Err(Error::unsupported(
                MeshKind::Consul,
                Feature::RegisterService,
                format!("{} is not handled by the Consul backend", other.operation()),
            ));
        }
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use mesh_core::{Change, Error, Fault, Feature, Percent};

    use super::{Context, check};
    use crate::ConsulVersion;

    #[test]
    fn a_delay_is_refused_on_ce_and_planned_on_enterprise() {
        let delay = Change::InjectFault {
            service: "web".parse().unwrap(),
            fault: Fault::Delay {
                percent: Percent::new(10.0).unwrap(),
                duration: std::time::Duration::from_secs(1),
            },
        };
        let err = check(&delay, &Context::new(ConsulVersion::ce(1, 18, 0))).unwrap_err();
        assert!(matches!(
            err,
            Error::Unsupported {
                feature: Feature::FaultDelay,
                ..
            }
        ));
        assert!(check(&delay, &Context::new(ConsulVersion::enterprise(1, 18, 0))).is_ok());
    }
}
