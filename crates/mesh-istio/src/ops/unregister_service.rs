//! `unregister_service` on Istio: deletes the ServiceEntry and exactly the WorkloadEntries it
//! recorded; a plain Kubernetes Service was never the library's to delete.

use std::collections::BTreeSet;

use mesh_core::{Error, Plan, ServiceId, Write, WriteAction};

use crate::{Snapshot, objects, translate::service_entry};

pub(crate) fn plan(plan: &mut Plan, service: &ServiceId, snapshot: &Snapshot) -> Result<(), Error> {
    let se_ref = objects::service_entry(service);
    let Some(se) = snapshot.get(&se_ref) else {
        if snapshot.get(&objects::kubernetes_service(service)).is_some() {
            plan.warnings.push(format!(
                "{service} is a plain Kubernetes Service that Istio discovers on its own: delete the Service to unregister it"
            ));
            return Ok(());
        }
        return Err(Error::NotFound {
            kind: "ServiceEntry".into(),
            name: service.to_string(),
        });
    };
    let workloads: BTreeSet<String> = service_entry::registered_workloads(se)
        .into_values()
        .flatten()
        .collect();
    // The host goes first, so nothing is routed to endpoints that are being removed.
    plan.push(Write::new(WriteAction::Delete, se_ref, None));
    for name in workloads {
        plan.push(Write::new(
            WriteAction::Delete,
            objects::workload_entry(service, &name),
            None,
        ));
    }
    Ok(())
}
