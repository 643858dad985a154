//! `register_service` on Istio.
//!
//! A service without endpoints is a plain Kubernetes Service, which Istio discovers by itself:
//! registering it writes nothing. A service with endpoints (VMs) gets a ServiceEntry and one
//! WorkloadEntry per endpoint; the ServiceEntry records the WorkloadEntry names per version
//! ([`crate::objects::WORKLOAD_ENTRIES_ANNOTATION`]) so that re-registering prunes endpoints that
//! went away, and unregistering deletes exactly what was registered.

use mesh_core::{Error, Plan, ServiceDefinition, Write, WriteAction};

use crate::{
    Snapshot, objects,
    translate::{service_entry, workload_entry},
};

pub(crate) fn plan(
    plan: &mut Plan,
    def: &ServiceDefinition,
    snapshot: &Snapshot,
    keys: &mesh_core::SelectorLabels,
) -> Result<(), Error> {
    let id = def.id();
    let kubernetes_service = snapshot.get(&objects::kubernetes_service(&id)).is_some();
    if def.endpoints.is_empty() {
        if !kubernetes_service {
            let why =
                format!("no Kubernetes Service {id} exists yet; Istio registers it on its own once it does");
            plan.warnings.push(why.clone());
            plan.pending = Some(why);
        }
        return Ok(());
    }
    if kubernetes_service {
        return Err(Error::invalid(
            "endpoints",
            format!(
                "the Kubernetes Service {id} already owns the host {}; a ServiceEntry must not reuse it (register without endpoints, or under another name)",
                id.fqdn()
            ),
        ));
    }
    if def.health_check.is_some() {
        plan.warnings.push(
            "a WorkloadEntry carries no health check; use a WorkloadGroup probe on the VM (health_check ignored)"
                .into(),
        );
    }
    let bad_keys: Vec<&str> = def
        .metadata
        .keys()
        .filter(|k| !service_entry::is_annotation_key(k))
        .map(String::as_str)
        .collect();
    if !bad_keys.is_empty() {
        plan.warnings.push(format!(
            "metadata keys {} are not valid annotation keys and are not written",
            bad_keys.join(", ")
        ));
    }
    let se_ref = objects::service_entry(&id);
    let existing = snapshot.get(&se_ref);
    let mut workloads = existing
        .map(service_entry::registered_workloads)
        .unwrap_or_default();
    let dns = existing.is_some_and(service_entry::resolves_names);
    let names: Vec<String> = def
        .endpoints
        .iter()
        .map(|e| workload_entry::name(def, e))
        .collect();
    let stale: Vec<String> = workloads
        .get(&service_entry::version_key(def))
        .into_iter()
        .flatten()
        .filter(|n| !names.contains(n))
        .cloned()
        .collect();
    workloads.insert(service_entry::version_key(def), names.clone());

    // Endpoints first, then the entry that announces the host, then the endpoints that went away.
    for (e, name) in def.endpoints.iter().zip(&names) {
        let body = workload_entry::workload_entry(def, e, keys);
        plan.push(Write::new(
            WriteAction::Apply,
            objects::workload_entry(&id, name),
            Some(body),
        ));
    }
    let body = service_entry::service_entry(def, &workloads, dns, keys);
    plan.push(Write::new(WriteAction::Apply, se_ref, Some(body)));
    for name in stale {
        plan.push(Write::new(
            WriteAction::Delete,
            objects::workload_entry(&id, &name),
            None,
        ));
    }
    Ok(())
}
