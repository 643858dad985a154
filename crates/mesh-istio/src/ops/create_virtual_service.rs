//! `create_virtual_service` on Istio: the library's rules replace its own routes in the host's
//! VirtualService; user-written routes stay.

use mesh_core::{Error, ServiceRoutes};

use crate::routes::HttpRoutes;

/// Edits the VirtualService `routes` for `r`.
pub(crate) fn edit(r: &ServiceRoutes, routes: &mut HttpRoutes) -> Result<(), Error> {
    if let Some(i) = r
        .rules
        .iter()
        .position(|rule| rule.fault.is_some() && (rule.retries.is_some() || rule.timeout.is_some()))
    {
        return Err(Error::invalid(
            format!("rules[{i}].fault"),
            "Istio disables retries and timeouts on a route that injects a fault; put the fault on its own rule",
        ));
    }
    routes.replace_rules(r);
    Ok(())
}
