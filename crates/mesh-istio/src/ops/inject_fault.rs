//! `inject_fault` on Istio: a fault route, named after the fault, ahead of the library's
//! default route in the host's VirtualService.

use mesh_core::{Change, Error, Fault, MeshKind, ServiceId};

use crate::routes::HttpRoutes;

/// Edits the VirtualService `routes` for `fault`, which `change` injects.
pub(crate) fn edit(
    change: &Change,
    service: &ServiceId,
    fault: &Fault,
    routes: &mut HttpRoutes,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let id = change.fault_id(MeshKind::Istio)?;
    routes.upsert_fault(service, &id, fault);
    if routes.default_has_retries_or_timeout() {
        warnings.push(format!(
            "while {} is active, Istio disables retries and timeouts for the requests it takes",
            id.marker()
        ));
    }
    if routes.has_routes_ahead_of_faults() {
        warnings.push("requests matched by earlier routes (with match conditions) are not faulted".into());
    }
    Ok(())
}
