//! `configure_circuit_breaker` on Istio: the breaker's limits and outlier detection in the
//! destination's DestinationRule, for every caller.

use std::borrow::Cow;

use mesh_core::{CircuitBreaker, Error, ServiceName};
use serde_json::Value;

use crate::{planner::rule_to_edit, translate::destination_rule as dr};

/// Edits the DestinationRule `rule` (copied on the first edit) for `breaker`.
pub(crate) fn edit(
    breaker: &CircuitBreaker,
    callers: &[ServiceName],
    rule: &mut Cow<'_, Value>,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    dr::set_circuit_breaker(rule_to_edit(rule), breaker).map_err(|e| e.in_field("circuit_breaker"))?;
    if !callers.is_empty() {
        warnings.push(
            "Istio breakers live in the destination's DestinationRule and apply to every caller; `callers` is ignored".into(),
        );
    }
    if breaker.max_retries.is_some() {
        warnings.push(
            "max_retries maps to connectionPool.http.maxRetries: a cap on concurrent retries to the service, not attempts per request".into(),
        );
    }
    Ok(())
}
