//! Test-only checks (feature `testing`): Istio's own make-before-break proof, which replays a plan
//! and checks, after every prefix, that no VirtualService routes to a subset its host's
//! DestinationRule does not define (which Envoy answers with 503 "no cluster").

use std::collections::BTreeMap;

use mesh_core::{Namespace, Plan, ServiceId, ServiceName};

use crate::{
    Snapshot,
    translate::{destination_rule, virtual_service},
};

/// Replays `plan` on a copy of `snapshot` and returns the first dangling subset reference, naming
/// the write after which it appears.
///
/// # Errors
/// A description of the first unsafe prefix, or of a write that cannot be replayed.
///
/// ```
/// use mesh_core::{Change, TrafficSplit};
/// use mesh_istio::{Config, Snapshot};
/// let change = Change::SetTrafficWeight {
///     service: "prod/reviews".parse().unwrap(),
///     split: TrafficSplit::try_from_pairs([("v1", 50), ("v2", 50)]).unwrap(),
/// };
/// let snapshot = Snapshot::default();
/// let mut plan = mesh_istio::plan(&change, &snapshot, &Config::default()).unwrap();
/// assert!(mesh_istio::testing::check_subset_references(&snapshot, &plan).is_ok());
/// plan.writes.reverse(); // routes before subsets
/// assert!(mesh_istio::testing::check_subset_references(&snapshot, &plan).unwrap_err().contains("subset v1"));
/// ```
pub fn check_subset_references(snapshot: &Snapshot, plan: &Plan) -> Result<(), String> {
    let mut state = snapshot.clone();
    for (i, w) in plan.writes.iter().enumerate() {
        state
            .apply_write(w)
            .map_err(|e| format!("write {} ({}) cannot be replayed: {e}", i + 1, w.target))?;
        if let Some(problem) = dangling(&state) {
            return Err(format!("after write {} ({}): {problem}", i + 1, w.target));
        }
    }
    Ok(())
}

/// Checks a state on its own: no VirtualService routes to a subset missing from its host's
/// DestinationRule. Use it on what a cluster holds after a failed apply.
///
/// # Errors
/// A description of the first dangling reference.
///
/// ```
/// use mesh_istio::{Snapshot, objects};
/// let mut snap = Snapshot::default();
/// snap.insert(objects::virtual_service(&"prod/api".parse().unwrap()), serde_json::json!({
///     "spec": {"http": [{"route": [{"destination": {"host": "api", "subset": "v2"}}]}]}
/// }));
/// assert!(mesh_istio::testing::check_consistent(&snap).is_err());
/// ```
pub fn check_consistent(state: &Snapshot) -> Result<(), String> {
    dangling(state).map_or(Ok(()), Err)
}

/// The first VirtualService route to a subset missing from its host's DestinationRule.
fn dangling(state: &Snapshot) -> Option<String> {
    let mut subsets: BTreeMap<ServiceId, Vec<String>> = BTreeMap::new();
    let objects = state.objects(); // one ordered view for both passes
    for (r, body) in &objects {
        if r.kind == "DestinationRule"
            && let Some(host) = body["spec"]["host"]
                .as_str()
                .and_then(|h| resolve(h, r.namespace.as_deref()))
        {
            subsets
                .entry(host)
                .or_default()
                .extend(destination_rule::subset_names(body));
        }
    }
    for (r, body) in &objects {
        if r.kind != "VirtualService" {
            continue;
        }
        for route in virtual_service::http_routes(body) {
            for d in route["route"].as_array().into_iter().flatten() {
                let (Some(host), Some(subset)) = (
                    d["destination"]["host"].as_str(),
                    d["destination"]["subset"].as_str(),
                ) else {
                    continue;
                };
                let Some(target) = resolve(host, r.namespace.as_deref()) else {
                    continue;
                };
                if !subsets
                    .get(&target)
                    .is_some_and(|s| s.iter().any(|n| n == subset))
                {
                    return Some(format!(
                        "{r} routes to subset {subset} of {host}, which no DestinationRule defines"
                    ));
                }
            }
        }
    }
    None
}

/// The service a host names: `name`, `name.ns`, `name.ns.svc` or the FQDN; short names resolve in
/// the namespace of the object holding them.
fn resolve(host: &str, namespace: Option<&str>) -> Option<ServiceId> {
    let mut parts = host.split('.');
    let name = ServiceName::new(parts.next()?).ok()?;
    let ns = match parts.next() {
        Some(ns) => Namespace::new(ns).ok()?,
        None => Namespace::new(namespace.unwrap_or("default")).ok()?,
    };
    Some(ServiceId::new(ns, name))
}
