//! `remove_fault` on Istio: the fault's route leaves the host's VirtualService.

use mesh_core::{Error, FaultId, MeshKind};

use crate::routes::HttpRoutes;

/// Edits the VirtualService `routes`, removing the fault `fault_id`.
pub(crate) fn edit(fault_id: &FaultId, routes: &mut HttpRoutes) -> Result<(), Error> {
    if fault_id.mesh != MeshKind::Istio {
        return Err(Error::invalid(
            "fault_id",
            format!("{fault_id} belongs to {}, not istio", fault_id.mesh),
        ));
    }
    if !routes.remove_fault(fault_id) {
        return Err(Error::NotFound {
            kind: "fault".into(),
            name: fault_id.to_string(),
        });
    }
    Ok(())
}
