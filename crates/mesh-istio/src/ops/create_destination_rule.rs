//! `create_destination_rule` on Istio: the policy's subsets, load balancer, connection pool and
//! outlier detection in the host's DestinationRule; the VirtualService is left alone.

use std::borrow::Cow;

use mesh_core::{DestinationPolicy, Error, LoadBalancer, SelectorLabels};
use serde_json::Value;

use crate::{planner::rule_to_edit, translate::destination_rule as dr};

/// Edits the DestinationRule `rule` (copied on the first edit) for `policy`.
pub(crate) fn edit(
    policy: &DestinationPolicy,
    rule: &mut Cow<'_, Value>,
    warnings: &mut Vec<String>,
    keys: &SelectorLabels,
) -> Result<(), Error> {
    let dr = rule_to_edit(rule);
    for s in &policy.subsets {
        dr::upsert_subset(dr, s, keys);
    }
    if let Some(lb) = policy.load_balancer {
        dr::set_load_balancer(dr, lb);
        if matches!(lb, LoadBalancer::RingHash | LoadBalancer::Maglev) {
            warnings.push("consistent hashing uses the client's source IP as the hash key".into());
        }
    }
    if let Some(pool) = &policy.connection_pool {
        dr::set_connection_pool(dr, pool).map_err(|e| e.in_field("connection_pool"))?;
    }
    if let Some(od) = &policy.outlier_detection {
        dr::set_outlier_detection(dr, od).map_err(|e| e.in_field("outlier_detection"))?;
    }
    Ok(())
}
