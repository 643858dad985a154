//! The shared machinery of every translation: staged entries, guarded writes, dependencies.

use std::collections::BTreeMap;

use mesh_core::{
    Change, Dependency, Error, Feature, MeshKind, ObjectRef, Plan, Precondition, Result, ServiceId, Version,
    Write, WriteAction,
};

use super::{Context, EntryKey, Read, Snapshot, consul_namespace};
use crate::model::{
    AgentServiceRegistration, ConfigEntry, EntryKind, ServiceRouter, ServiceSplitter, semantic::same_settings,
};

/// The `api_version` of every Consul [`ObjectRef`].
pub(crate) const API_VERSION: &str = "consul/v1";

/// The `kind` of an agent service registration target.
pub(crate) const AGENT_SERVICE: &str = "agent-service";

pub(crate) struct Planner<'a> {
    pub(crate) ctx: &'a Context,
    snap: &'a Snapshot,
    pub(crate) plan: Plan,
    staged: BTreeMap<EntryKey, Option<ConfigEntry>>,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(ctx: &'a Context, snap: &'a Snapshot, change: &Change) -> Self {
        Self {
            ctx,
            snap,
            plan: Plan::for_change(MeshKind::Consul, change),
            staged: BTreeMap::new(),
        }
    }

    pub(crate) fn snapshot(&self) -> &Snapshot {
        self.snap
    }

    /// The Consul namespace of `service` (`None` on CE).
    pub(crate) fn ns(&self, service: &ServiceId, feature: Feature) -> Result<Option<String>> {
        consul_namespace(self.ctx, &service.namespace, feature)
    }

    /// The entry as the plan will have left it so far.
    pub(crate) fn current(&self, key: &EntryKey) -> Option<ConfigEntry> {
        match self.staged.get(key) {
            Some(staged) => staged.clone(),
            None => self.snap.entries.get(key).cloned(),
        }
    }

    /// Stages `entry` as the new state of `key`: a guarded create or replace, or nothing when the
    /// entry already has these settings (what the agent fills in or respells aside:
    /// [`same_settings`]).
    pub(crate) fn put(&mut self, key: &EntryKey, entry: ConfigEntry, deps: Deps) {
        let body = entry.into_write_body();
        if self
            .current(key)
            .is_some_and(|before| same_settings(&before, &body))
        {
            return;
        }
        let (action, guard) = match self.snap.entries.get(key).and_then(ConfigEntry::modify_index) {
            Some(index) => (WriteAction::Replace, Precondition::Version(index.to_string())),
            None if self.snap.entries.contains_key(key) => {
                (WriteAction::Replace, Precondition::Version("0".into()))
            }
            None => (WriteAction::Create, Precondition::MustNotExist),
        };
        let write = Write::new(action, entry_ref(key), Some(body.to_json())).guarded(guard);
        self.staged.insert(key.clone(), Some(body));
        self.plan.push(deps.apply(write));
    }

    /// Stages a router or splitter `entry` of `service` at `key`, requiring what it routes to
    /// ([`requirements`]): an L7 protocol and the subsets it names.
    pub(crate) fn put_route_entry(&mut self, service: &ServiceId, key: &EntryKey, entry: ConfigEntry) {
        let requires = requirements(service, &entry);
        self.put(
            key,
            entry,
            Deps {
                requires,
                ..Deps::default()
            },
        );
    }

    /// Stages the deletion of `key`, if it exists.
    pub(crate) fn delete(&mut self, key: &EntryKey, withdraws: Vec<Dependency>) {
        if self.current(key).is_none() {
            return;
        }
        let mut write = Write::new(WriteAction::Delete, entry_ref(key), None).withdrawing(withdraws);
        if let Some(index) = self.snap.entries.get(key).and_then(ConfigEntry::modify_index) {
            write = write.guarded(Precondition::Version(index.to_string()));
        }
        self.staged.insert(key.clone(), None);
        self.plan.push(write);
    }

    /// Registers an instance on the agent.
    pub(crate) fn register_instance(&mut self, namespace: Option<&str>, body: &AgentServiceRegistration) {
        let id = body.id.clone().unwrap_or_else(|| body.name.clone());
        let target = ObjectRef::new(API_VERSION, AGENT_SERVICE, namespace, &id);
        let json = serde_json::to_value(body).unwrap_or_default();
        self.plan.push(Write::new(WriteAction::Apply, target, Some(json)));
    }

    /// Deregisters an instance from the agent.
    pub(crate) fn deregister_instance(&mut self, namespace: Option<&str>, id: &str) {
        let target = ObjectRef::new(API_VERSION, AGENT_SERVICE, namespace, id);
        self.plan.push(Write::new(WriteAction::Delete, target, None));
    }

    /// Records in the baseline what already exists for `service` (its L7 protocol and subsets) and
    /// what depends on it (its router and splitter).
    pub(crate) fn observe(&mut self, service: &ServiceId, ns: Option<&str>) {
        let name = service.name.as_str();
        let defaults = self
            .snap
            .entries
            .get(&EntryKey::new(EntryKind::ServiceDefaults, ns, name));
        if let Some(ConfigEntry::ServiceDefaults(sd)) = defaults
            && is_l7(sd.protocol.as_deref())
        {
            self.plan.baseline.available.push(l7(service));
        }
        let resolver = self
            .snap
            .entries
            .get(&EntryKey::new(EntryKind::ServiceResolver, ns, name));
        if let Some(ConfigEntry::ServiceResolver(r)) = resolver {
            let subsets = r.subset_names();
            self.plan
                .baseline
                .available
                .extend(subsets.iter().filter_map(|s| subset(service, s)));
        }
        for kind in [EntryKind::ServiceRouter, EntryKind::ServiceSplitter] {
            let key = EntryKey::new(kind, ns, name);
            if let Some(entry) = self.snap.entries.get(&key) {
                self.plan
                    .baseline
                    .in_use
                    .push((entry_ref(&key), requirements(service, entry)));
            }
        }
    }

    pub(crate) fn warn(&mut self, warning: impl Into<String>) {
        self.plan.warnings.push(warning.into());
    }

    /// Proves the plan safe at every prefix and returns it.
    pub(crate) fn finish(self) -> Result<Plan> {
        if let Err(unsafe_prefix) = self.plan.check_safe_prefixes() {
            return Err(Error::invalid(
                "change",
                format!("refused, because the plan would not be safe: {unsafe_prefix}"),
            ));
        }
        Ok(self.plan)
    }
}

/// What a write provides, requires and withdraws.
#[derive(Debug, Default)]
pub(crate) struct Deps {
    pub(crate) provides: Vec<Dependency>,
    pub(crate) requires: Vec<Dependency>,
    pub(crate) withdraws: Vec<Dependency>,
}

impl Deps {
    fn apply(self, write: Write) -> Write {
        write
            .providing(self.provides)
            .requiring(self.requires)
            .withdrawing(self.withdraws)
    }
}

/// The target of a config-entry write.
pub(crate) fn entry_ref(key: &EntryKey) -> ObjectRef {
    ObjectRef::new(
        API_VERSION,
        key.kind.as_str(),
        key.namespace.as_deref(),
        &key.name,
    )
}

pub(crate) fn is_l7(protocol: Option<&str>) -> bool {
    matches!(protocol, Some("http" | "http2" | "grpc"))
}

pub(crate) fn l7(service: &ServiceId) -> Dependency {
    Dependency::L7Protocol {
        service: service.clone(),
    }
}

/// The subset dependency, when `name` is a valid version label.
pub(crate) fn subset(service: &ServiceId, name: &str) -> Option<Dependency> {
    Version::new(name).ok().map(|version| Dependency::Subset {
        service: service.clone(),
        version,
    })
}

/// What a router or splitter of `service` needs: an L7 protocol and the subsets of `service` it
/// names.
pub(crate) fn requirements(service: &ServiceId, entry: &ConfigEntry) -> Vec<Dependency> {
    let own = |s: Option<&String>| s.is_none_or(|s| s == service.name.as_str());
    let mut out = vec![l7(service)];
    match entry {
        ConfigEntry::ServiceRouter(ServiceRouter { routes, .. }) => {
            for d in routes.iter().flatten().filter_map(|r| r.destination.as_ref()) {
                if own(d.service.as_ref())
                    && let Some(dep) = d.service_subset.as_deref().and_then(|s| subset(service, s))
                {
                    out.push(dep);
                }
            }
        }
        ConfigEntry::ServiceSplitter(ServiceSplitter { splits, .. }) => {
            for s in splits {
                if own(s.service.as_ref())
                    && let Some(dep) = s.service_subset.as_deref().and_then(|x| subset(service, x))
                {
                    out.push(dep);
                }
            }
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

/// The reads of each change.
pub(crate) fn reads(change: &Change, ctx: &Context, snap: &Snapshot) -> Result<Vec<Read>> {
    use EntryKind as K;
    let entry = |kind, ns: &Option<String>, name: &str| Read::Entry(EntryKey::new(kind, ns.as_deref(), name));
    let chain = |ns: &Option<String>, name: &str| {
        [
            K::ServiceDefaults,
            K::ServiceResolver,
            K::ServiceSplitter,
            K::ServiceRouter,
        ]
        .map(|k| entry(k, ns, name))
        .to_vec()
    };
    let first_feature = change
        .required_features()
        .first()
        .copied()
        .unwrap_or(Feature::RegisterService);
    let ns_of = |s: &ServiceId| consul_namespace(ctx, &s.namespace, first_feature);
    Ok(match change {
        Change::UnregisterService { service } => {
            let ns = ns_of(service)?;
            let mut out = chain(&ns, service.name.as_str());
            out.push(Read::AgentServices {
                service: service.name.to_string(),
                namespace: ns,
            });
            out
        }
        Change::ConfigureCircuitBreaker { service, callers, .. } => {
            let ns = ns_of(service)?;
            let mut out = Vec::new();
            let names: Vec<String> = if callers.is_empty() {
                let key = EntryKey::new(K::ServiceIntentions, ns.as_deref(), service.name.as_str());
                out.push(Read::Entry(key.clone()));
                match snap.entries.get(&key) {
                    Some(ConfigEntry::ServiceIntentions(i)) => i.allowed_sources(),
                    _ => Vec::new(),
                }
            } else {
                callers.iter().map(ToString::to_string).collect()
            };
            out.extend(names.iter().map(|n| entry(K::ServiceDefaults, &ns, n)));
            out
        }
        Change::EnableMtls { namespace } => {
            consul_namespace(ctx, namespace, Feature::MtlsStrict)?;
            vec![
                entry(K::Mesh, &None, "mesh"),
                entry(K::ProxyDefaults, &None, "global"),
            ]
        }
        Change::CreateAuthorizationPolicy(p) => {
            let ns = consul_namespace(ctx, &p.namespace, Feature::AuthzAllow)?;
            let name = p.target.as_ref().map_or("*", |t| t.as_str());
            let mut out = vec![entry(K::ServiceIntentions, &ns, name)];
            if p.target.is_some() {
                out.extend(chain(&ns, name));
            }
            out
        }
        // Every other change reads the service's chain of entries.
        other => match other.service() {
            Some(service) => chain(&ns_of(&service)?, service.name.as_str()),
            None => Vec::new(),
        },
    })
}
