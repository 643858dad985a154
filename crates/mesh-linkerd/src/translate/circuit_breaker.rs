//! Circuit breaking: Linkerd's failure accrual, set by annotations on the Service.

use std::time::Duration;

use mesh_core::CircuitBreaker;
use serde_json::{Map, Value, json};

/// `balancer.linkerd.io/failure-accrual`.
pub(crate) const ACCRUAL: &str = "balancer.linkerd.io/failure-accrual";
/// `balancer.linkerd.io/failure-accrual-consecutive-max-failures`.
pub(crate) const MAX_FAILURES: &str = "balancer.linkerd.io/failure-accrual-consecutive-max-failures";
/// `balancer.linkerd.io/failure-accrual-consecutive-min-penalty`.
pub(crate) const MIN_PENALTY: &str = "balancer.linkerd.io/failure-accrual-consecutive-min-penalty";
/// `balancer.linkerd.io/failure-accrual-consecutive-max-penalty`.
pub(crate) const MAX_PENALTY: &str = "balancer.linkerd.io/failure-accrual-consecutive-max-penalty";
/// `timeout.linkerd.io/request` (2.16+).
pub(crate) const REQUEST_TIMEOUT: &str = "timeout.linkerd.io/request";

/// A duration the way Linkerd annotations take it: whole seconds as `s`, else milliseconds
/// (rounded up; Linkerd has no finer unit).
pub(crate) fn linkerd_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_nanos().div_ceil(1_000_000))
    }
}

/// The failure-accrual annotations of `cb` (`consecutive` mode). The max penalty is written as the
/// larger of one minute (Linkerd's default) and the min penalty, so the backoff stays valid. The
/// timeout is a request timeout (Linkerd has no connect timeout) and is written only when
/// `with_timeout` (2.16+). Fields Linkerd lacks are refused before this is called.
pub(crate) fn annotations(cb: &CircuitBreaker, with_timeout: bool) -> Map<String, Value> {
    let mut a = Map::new();
    if cb.consecutive_errors.is_some() || cb.base_ejection_time.is_some() {
        a.insert(ACCRUAL.into(), json!("consecutive"));
    }
    if let Some(n) = cb.consecutive_errors {
        a.insert(MAX_FAILURES.into(), json!(n.to_string()));
    }
    if let Some(d) = cb.base_ejection_time {
        a.insert(MIN_PENALTY.into(), json!(linkerd_duration(d)));
        a.insert(
            MAX_PENALTY.into(),
            json!(linkerd_duration(d.max(Duration::from_secs(60)))),
        );
    }
    if with_timeout && let Some(t) = cb.timeout {
        a.insert(REQUEST_TIMEOUT.into(), json!(linkerd_duration(t)));
    }
    a
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn linkerd_duration_example() {
        use crate::translate::circuit_breaker::linkerd_duration;
        use std::time::Duration;
        assert_eq!(linkerd_duration(Duration::from_secs(30)), "30s");
        assert_eq!(linkerd_duration(Duration::from_micros(1500)), "2ms");
    }

    #[test]
    fn annotations_example() {
        use crate::translate::circuit_breaker::*;
        use mesh_core::CircuitBreaker;
        use std::time::Duration;
        let cb = CircuitBreaker {
            consecutive_errors: Some(5),
            base_ejection_time: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let a = annotations(&cb, true);
        assert_eq!(a[ACCRUAL], "consecutive");
        assert_eq!(a[MAX_FAILURES], "5");
        assert_eq!(a[MIN_PENALTY], "30s");
    }
}
