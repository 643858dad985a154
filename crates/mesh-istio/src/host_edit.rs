//! The change-specific part of a host's read-modify-write: how each routing operation edits the
//! host's DestinationRule and VirtualService routes, and what it warns about.

use std::borrow::Cow;

use mesh_core::{Change, Error, MeshKind, SelectorLabels, ServiceId};
use serde_json::Value;

use crate::{planner::rule_to_edit, routes::HttpRoutes, translate::destination_rule as dr};

/// Applies `change` to the host's DestinationRule `dr` (copied on the first edit) and VirtualService `routes`, pushing
/// warnings. Returns false when the change concerns only the DestinationRule.
pub(crate) fn edit(
    change: &Change,
    service: &ServiceId,
    dr: &mut Cow<'_, Value>,
    routes: &mut HttpRoutes,
    warnings: &mut Vec<String>,
    keys: &SelectorLabels,
) -> Result<bool, Error> {
    let mut dr_only = false;
    match change {
        Change::CreateDestinationRule(p) => {
            dr_only = true;
            let dr = rule_to_edit(dr);
            for s in &p.subsets {
                dr::upsert_subset(dr, s, keys);
            }
            if let Some(lb) = p.load_balancer {
                dr::set_load_balancer(dr, lb);
                if matches!(
                    lb,
                    mesh_core::LoadBalancer::RingHash | mesh_core::LoadBalancer::Maglev
                ) {
                    warnings.push("consistent hashing uses the client's source IP as the hash key".into());
                }
            }
            if let Some(pool) = &p.connection_pool {
                dr::set_connection_pool(dr, pool).map_err(|e| e.in_field("connection_pool"))?;
            }
            if let Some(od) = &p.outlier_detection {
                dr::set_outlier_detection(dr, od).map_err(|e| e.in_field("outlier_detection"))?;
            }
        }
        Change::ConfigureCircuitBreaker {
            circuit_breaker,
            callers,
            ..
        } => {
            dr_only = true;
            dr::set_circuit_breaker(rule_to_edit(dr), circuit_breaker)
                .map_err(|e| e.in_field("circuit_breaker"))?;
            if !callers.is_empty() {
                warnings.push(
                    "Istio breakers live in the destination's DestinationRule and apply to every caller; `callers` is ignored".into(),
                );
            }
            if circuit_breaker.max_retries.is_some() {
                warnings.push(
                    "max_retries maps to connectionPool.http.maxRetries: a cap on concurrent retries to the service, not attempts per request".into(),
                );
            }
        }
        Change::CreateVirtualService(r) => {
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
        }
        Change::SetTrafficWeight { split, .. } => routes.set_split(service, split),
        Change::SetRetryPolicy { policy, .. } => {
            routes.set_retries(service, policy);
            let faults = routes.fault_names();
            if !faults.is_empty() {
                warnings.push(format!(
                    "fault route(s) {} take the traffic of the default route and Istio disables retries and timeouts on them: this retry policy applies only once the fault is removed",
                    faults.join(", ")
                ));
            }
        }
        Change::InjectFault { fault, .. } => {
            let id = change.fault_id(MeshKind::Istio)?;
            routes.upsert_fault(service, &id, fault);
            if routes.default_has_retries_or_timeout() {
                warnings.push(format!(
                    "while {} is active, Istio disables retries and timeouts for the requests it takes",
                    id.marker()
                ));
            }
            if routes.has_routes_ahead_of_faults() {
                warnings.push(
                    "requests matched by earlier routes (with match conditions) are not faulted".into(),
                );
            }
        }
        Change::RemoveFault { fault_id } => {
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
        }
        _ => {}
    }

    Ok(!dr_only)
}
