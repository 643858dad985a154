//! Abort faults, emulated by sending a share of requests to an error backend Service the caller
//! deployed. Linkerd has no fault filter and no delay at all.

use mesh_core::{FaultId, Percent};
use serde_json::{Value, json};

use crate::{objects::FAULT_ANNOTATION_PREFIX, translate::http_route};

/// Weights are rescaled to this total so a fault percentage keeps two decimals.
pub(crate) const WEIGHT_TOTAL: u64 = 10_000;

/// The annotation holding the library rules as they were before fault `id`.
pub(crate) fn annotation(id: &FaultId) -> String {
    format!("{FAULT_ANNOTATION_PREFIX}{}", id.marker())
}

/// What is saved before a fault, so that removing it restores the route exactly.
pub(crate) fn saved_state(rules_before: &[Value], route_created: bool) -> Value {
    json!(
        serde_json::to_string(&json!({ "rules": rules_before, "created": route_created }))
            .unwrap_or_default()
    )
}

/// Reads a saved state: the rules before the fault and whether the fault created the route.
pub(crate) fn parse_saved(value: &Value) -> Option<(Vec<Value>, bool)> {
    let parsed: Value = serde_json::from_str(value.as_str()?).ok()?;
    let rules = parsed["rules"].as_array()?.clone();
    Some((rules, parsed["created"].as_bool().unwrap_or(false)))
}

/// Rewrites one rule's backends so that `percent` of requests go to the error backend and the rest
/// keep their relative weights, on a total of [`WEIGHT_TOTAL`].
pub(crate) fn with_abort(rule: &Value, percent: Percent, error_backend: &str, port: u16) -> Value {
    let error = (percent.value() * 100.0).round() as u64;
    let rest = WEIGHT_TOTAL - error.min(WEIGHT_TOTAL);
    let mut refs = rule["backendRefs"].as_array().cloned().unwrap_or_default();
    let weight = |b: &Value| b["weight"].as_u64().unwrap_or(1);
    let sum: u64 = refs.iter().map(weight).sum();
    // Largest-remainder rounding: floors first, then the leftover units go to the backends with the
    // largest remainders. Only backends that had traffic can get a unit, and the total is exact.
    let shares: Vec<(u64, u64)> = refs
        .iter()
        .map(|b| {
            let exact = weight(b) * rest;
            exact
                .checked_div(sum)
                .zip(exact.checked_rem(sum))
                .unwrap_or((0, 0))
        })
        .collect();
    let given: u64 = shares.iter().map(|(floor, _)| floor).sum();
    let leftover = if sum == 0 { 0 } else { rest - given };
    let mut order: Vec<usize> = (0..refs.len()).filter(|i| weight(&refs[*i]) > 0).collect();
    order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1).then(a.cmp(b)));
    let lucky: Vec<usize> = order.into_iter().take(leftover as usize).collect();
    for (i, (b, (floor, _))) in refs.iter_mut().zip(&shares).enumerate() {
        let extra = u64::from(lucky.contains(&i));
        b["weight"] = json!(floor + extra);
    }
    refs.push(http_route::backend(error_backend, port, error as u32));
    let mut out = rule.clone();
    out["backendRefs"] = Value::Array(refs);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn weights_keep_their_total_and_the_error_share_is_exact(
            weights in proptest::collection::vec(0u64..=100, 1..5),
            hundredths in 0u64..=10_000,
        ) {
            prop_assume!(weights.iter().sum::<u64>() > 0);
            let percent = Percent::new(hundredths as f64 / 100.0).unwrap();
            let refs: Vec<Value> = weights.iter().enumerate().map(|(i, w)| http_route::backend(&format!("b{i}"), 80, *w as u32)).collect();
            let out = with_abort(&json!({ "backendRefs": refs }), percent, "errors", 8080);
            let got: Vec<u64> = out["backendRefs"].as_array().unwrap().iter().map(|b| b["weight"].as_u64().unwrap()).collect();
            prop_assert_eq!(got.iter().sum::<u64>(), WEIGHT_TOTAL);
            prop_assert_eq!(*got.last().unwrap(), hundredths);
            // A backend that had no traffic gets none.
            for (w, g) in weights.iter().zip(&got) {
                prop_assert!(*w > 0 || *g == 0);
            }
        }
    }
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn annotation_example() {
        use mesh_core::{FaultId, MeshKind};
        let id = FaultId::new(MeshKind::Linkerd, "prod/api".parse().unwrap(), "1a2b3c4d").unwrap();
        assert_eq!(
            crate::translate::fault::annotation(&id),
            "meshctl.dev/mesh-fault-1a2b3c4d"
        );
    }

    #[test]
    fn with_abort_example() {
        use crate::translate::fault::with_abort;
        use mesh_core::Percent;
        use serde_json::json;
        let rule = json!({"backendRefs": [{"name": "api-v1", "port": 80, "weight": 90}, {"name": "api-v2", "port": 80, "weight": 10}]});
        let out = with_abort(&rule, Percent::new(5.0).unwrap(), "errors", 8080);
        let w: Vec<u64> = out["backendRefs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["weight"].as_u64().unwrap())
            .collect();
        assert_eq!(w, vec![8550, 950, 500]);
    }
}
