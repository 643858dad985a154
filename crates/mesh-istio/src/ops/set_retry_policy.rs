//! `set_retry_policy` on Istio: retries and timeout on the library's default route.

use mesh_core::{RetryPolicy, ServiceId};

use crate::routes::HttpRoutes;

/// Edits the VirtualService `routes` for `policy`.
pub(crate) fn edit(
    service: &ServiceId,
    policy: &RetryPolicy,
    routes: &mut HttpRoutes,
    warnings: &mut Vec<String>,
) {
    routes.set_retries(service, policy);
    let faults = routes.fault_names();
    if !faults.is_empty() {
        warnings.push(format!(
            "fault route(s) {} take the traffic of the default route and Istio disables retries and timeouts on them: this retry policy applies only once the fault is removed",
            faults.join(", ")
        ));
    }
}
