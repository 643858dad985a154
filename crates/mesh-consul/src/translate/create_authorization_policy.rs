//! `create_authorization_policy` as service-intentions: an L4 `Action` per source, or L7
//! `Permissions` (path, methods) when the rule names requests. Consul evaluates the most specific
//! source first, not DENY first.

use std::collections::BTreeMap;

use mesh_core::{AuthorizationPolicy, AuthzAction, AuthzTarget, Error, Feature, Result, ServiceId};

use super::{
    EntryKey, consul_namespace,
    planner::{Deps, Planner, l7},
    routes::regex_escape,
    shared_entries::ensure_l7,
};
use crate::model::{
    ConfigEntry, EntryKind, IntentionPermission, IntentionSource, PermissionHttp, ServiceIntentions,
};

#[derive(Default)]
struct SourceRules {
    l4: bool,
    permissions: Vec<IntentionPermission>,
}

pub(super) fn plan(p: &mut Planner<'_>, policy: &AuthorizationPolicy) -> Result<()> {
    let ns = consul_namespace(p.ctx, &policy.namespace, Feature::AuthzAllow)?;
    let action = match policy.action {
        AuthzAction::Allow => "allow",
        AuthzAction::Deny => "deny",
    };
    let mut sources: BTreeMap<(String, Option<String>), SourceRules> = BTreeMap::new();
    for rule in &policy.rules {
        let mut keys = Vec::new();
        if rule.from.is_empty() {
            keys.push(("*".to_owned(), ns.clone()));
        }
        for from in &rule.from {
            if from.principals.is_empty() && from.namespaces.is_empty() {
                keys.push(("*".to_owned(), ns.clone()));
            }
            for principal in &from.principals {
                let pns = consul_namespace(p.ctx, &principal.namespace, Feature::AuthzNamespaces)?;
                keys.push((principal.name.to_string(), pns));
            }
            for n in &from.namespaces {
                keys.push((
                    "*".to_owned(),
                    consul_namespace(p.ctx, n, Feature::AuthzNamespaces)?,
                ));
            }
        }
        let permissions: Vec<IntentionPermission> =
            rule.to.iter().flat_map(|t| permissions(t, action)).collect();
        for key in keys {
            let acc = sources.entry(key).or_default();
            if rule.to.is_empty() {
                acc.l4 = true;
            } else {
                acc.permissions.extend(permissions.iter().cloned());
            }
        }
    }
    let l7_rules = sources.values().any(|s| !s.l4 && !s.permissions.is_empty());
    let name = policy.target.as_ref().map_or("*", |t| t.as_str()).to_owned();
    let mut deps = Deps::default();
    if l7_rules {
        let Some(target) = &policy.target else {
            return Err(Error::invalid(
                "target",
                "Consul L7 intentions (paths, methods) need a destination service with an HTTP protocol, not every service",
            ));
        };
        let service = ServiceId::new(policy.namespace.clone(), target.clone());
        p.observe(&service, ns.as_deref());
        ensure_l7(p, &service, ns.as_deref());
        deps.requires.push(l7(&service));
    }
    let key = EntryKey::new(EntryKind::ServiceIntentions, ns.as_deref(), &name);
    let mut entry = match p.current(&key) {
        Some(ConfigEntry::ServiceIntentions(i)) => i,
        _ => ServiceIntentions {
            name: name.clone(),
            ..ServiceIntentions::default()
        },
    };
    entry
        .sources
        .retain(|s| !sources.contains_key(&(s.name.clone(), s.namespace.clone().or_else(|| ns.clone()))));
    for ((source, source_ns), rules) in sources {
        let l4 = rules.l4 || rules.permissions.is_empty();
        entry.sources.push(IntentionSource {
            name: source,
            namespace: source_ns,
            action: l4.then(|| action.to_owned()),
            permissions: (!l4).then_some(rules.permissions),
            source_type: Some("consul".into()),
            description: Some(format!("mesh policy {}", policy.name)),
            ..IntentionSource::default()
        });
    }
    p.put(&key, ConfigEntry::ServiceIntentions(entry), deps);
    p.warn("Consul applies the intention of the most specific source first (not DENY before ALLOW); unmatched requests follow the default intention policy");
    Ok(())
}

/// The permissions of one `to` block: one per path (or one without a path), methods shared.
fn permissions(target: &AuthzTarget, action: &str) -> Vec<IntentionPermission> {
    let methods = (!target.methods.is_empty()).then(|| {
        target
            .methods
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect::<Vec<_>>()
    });
    let paths: Vec<Option<&String>> = if target.paths.is_empty() {
        vec![None]
    } else {
        target.paths.iter().map(Some).collect()
    };
    paths
        .into_iter()
        .map(|path| {
            let mut http = PermissionHttp {
                methods: methods.clone(),
                ..PermissionHttp::default()
            };
            match path.map(String::as_str) {
                None | Some("*") => {}
                Some(p) if p.ends_with('*') => http.path_prefix = Some(p.trim_end_matches('*').to_owned()),
                Some(p) if p.starts_with('*') => {
                    http.path_regex = Some(format!(".*{}", regex_escape(p.trim_start_matches('*'))));
                }
                Some(p) => http.path_exact = Some(p.to_owned()),
            }
            IntentionPermission {
                action: action.to_owned(),
                http: (http != PermissionHttp::default()).then_some(http),
                ..IntentionPermission::default()
            }
        })
        .collect()
}
