//! One file per operation, named as [`mesh_core::Change::operation`]. Operations on a host's
//! DestinationRule and VirtualService edit them here; [`crate::planner`] does the shared
//! read-modify-write around the edit, orders the writes and guards them.

use std::borrow::Cow;

use mesh_core::{Change, Error, Plan, SelectorLabels, ServiceId};
use serde_json::Value;

use crate::{Config, Snapshot, routes::HttpRoutes};

mod configure_circuit_breaker;
mod create_authorization_policy;
mod create_destination_rule;
mod create_virtual_service;
mod enable_mtls;
mod inject_fault;
mod register_service;
mod remove_fault;
mod set_retry_policy;
mod set_traffic_weight;
mod unregister_service;

/// Plans the operations that do not edit a host's routing: registration, mTLS, authorization.
/// Returns `Ok(false)` for the host operations, which [`edit_host`] serves.
pub(crate) fn plan_standalone(
    plan: &mut Plan,
    change: &Change,
    snapshot: &Snapshot,
    config: &Config,
) -> Result<bool, Error> {
    match change {
        Change::RegisterService(def) => register_service::plan(plan, def, snapshot, &config.selector_labels)?,
        Change::UnregisterService { service } => unregister_service::plan(plan, service, snapshot)?,
        Change::EnableMtls { namespace } => enable_mtls::plan(plan, namespace, config),
        Change::CreateAuthorizationPolicy(p) => create_authorization_policy::plan(plan, p, config),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Applies a host operation to the host's DestinationRule `dr` (copied on the first edit) and
/// VirtualService `routes`, pushing warnings. Returns false when the change concerns only the
/// DestinationRule.
pub(crate) fn edit_host(
    change: &Change,
    service: &ServiceId,
    dr: &mut Cow<'_, Value>,
    routes: &mut HttpRoutes,
    warnings: &mut Vec<String>,
    keys: &SelectorLabels,
) -> Result<bool, Error> {
    match change {
        Change::CreateDestinationRule(p) => create_destination_rule::edit(p, dr, warnings, keys)?,
        Change::ConfigureCircuitBreaker {
            circuit_breaker,
            callers,
            ..
        } => configure_circuit_breaker::edit(circuit_breaker, callers, dr, warnings)?,
        Change::CreateVirtualService(r) => {
            create_virtual_service::edit(r, routes)?;
            return Ok(true);
        }
        Change::SetTrafficWeight { split, .. } => {
            set_traffic_weight::edit(service, split, routes);
            return Ok(true);
        }
        Change::SetRetryPolicy { policy, .. } => {
            set_retry_policy::edit(service, policy, routes, warnings);
            return Ok(true);
        }
        Change::InjectFault { fault, .. } => {
            inject_fault::edit(change, service, fault, routes, warnings)?;
            return Ok(true);
        }
        Change::RemoveFault { fault_id } => {
            remove_fault::edit(fault_id, routes)?;
            return Ok(true);
        }
        _ => {}
    }
    Ok(false)
}
