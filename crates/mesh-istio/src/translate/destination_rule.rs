//! `DestinationRule`: the one rule per host holding version subsets and the traffic policy
//! (load balancer, connection pool, outlier detection).
//!
//! Sidecars use only the first DestinationRule of a host, so the library never creates a second
//! one: every function here edits the host's single rule in place, keeping what it does not set
//! (subsets and policy fields written by users).
//!
//! # Circuit breaker mapping
//! | library field | DestinationRule field |
//! | --- | --- |
//! | `max_connections` | `trafficPolicy.connectionPool.tcp.maxConnections` |
//! | `timeout` | `trafficPolicy.connectionPool.tcp.connectTimeout` |
//! | `max_retries` | `trafficPolicy.connectionPool.http.maxRetries` |
//! | `consecutive_errors` | `trafficPolicy.outlierDetection.consecutive5xxErrors` |
//! | `interval` | `trafficPolicy.outlierDetection.interval` |
//! | `base_ejection_time` | `trafficPolicy.outlierDetection.baseEjectionTime` |
//! | `max_ejection_percent` | `trafficPolicy.outlierDetection.maxEjectionPercent` |
//!
//! `maxRetries` is a **concurrency cap**: the most retries outstanding at once across all hosts of
//! the destination, not the number of attempts per request (that is the VirtualService's
//! `retries.attempts`, set by `set_retry_policy`).

use std::collections::BTreeSet;

use mesh_core::{
    CircuitBreaker, ConnectionPool, Error, LoadBalancer, OutlierDetection, SelectorLabels, ServiceId, Subset,
    units,
};
use serde_json::{Value, json};

use super::{int32, set_path};
use crate::objects;

/// A new, empty rule for `service`'s FQDN host.
pub(crate) fn new(service: &ServiceId) -> Value {
    super::new_object(
        &objects::destination_rule(service),
        json!({ "host": service.fqdn() }),
    )
}

/// The names of the rule's subsets.
pub(crate) fn subset_names(dr: &Value) -> BTreeSet<String> {
    dr["spec"]["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_owned))
        .collect()
}

/// The `subsets[]` entry of `subset`: its name and selecting labels.
pub(crate) fn subset(subset: &Subset, keys: &SelectorLabels) -> Value {
    json!({ "name": subset.version.as_str(), "labels": subset.effective_labels_with(keys) })
}

/// Adds `s`, replacing the subset of the same name (keeping that subset's own `trafficPolicy`).
/// Returns true when the rule changed.
pub(crate) fn upsert_subset(dr: &mut Value, s: &Subset, keys: &SelectorLabels) -> bool {
    let mut entry = subset(s, keys);
    if !dr["spec"]["subsets"].is_array() {
        set_path(dr, &["spec", "subsets"], json!([]));
    }
    let Some(list) = dr["spec"]["subsets"].as_array_mut() else {
        return false;
    };
    match list.iter_mut().find(|e| e["name"] == entry["name"]) {
        Some(existing) => {
            if let Some(tp) = existing.get("trafficPolicy") {
                entry["trafficPolicy"] = tp.clone();
            }
            let changed = *existing != entry;
            *existing = entry;
            changed
        }
        None => {
            list.push(entry);
            true
        }
    }
}

/// Adds a `version: <v>` subset for `version` unless a subset of that name exists. Returns true
/// when it was added.
pub(crate) fn ensure_subset(dr: &mut Value, version: &mesh_core::Version, keys: &SelectorLabels) -> bool {
    if subset_names(dr).contains(version.as_str()) {
        return false;
    }
    upsert_subset(dr, &Subset::for_version(version.clone()), keys)
}

/// The `loadBalancer` value of `lb`. Consistent hashing needs a hash key; the library hashes on
/// the client's source IP (`useSourceIp`).
pub(crate) fn load_balancer(lb: LoadBalancer) -> Value {
    match lb {
        LoadBalancer::RoundRobin => json!({ "simple": "ROUND_ROBIN" }),
        LoadBalancer::LeastRequest => json!({ "simple": "LEAST_REQUEST" }),
        LoadBalancer::Random => json!({ "simple": "RANDOM" }),
        LoadBalancer::RingHash => json!({ "consistentHash": { "ringHash": {}, "useSourceIp": true } }),
        LoadBalancer::Maglev => json!({ "consistentHash": { "maglev": {}, "useSourceIp": true } }),
    }
}

/// Sets `trafficPolicy.loadBalancer`.
pub(crate) fn set_load_balancer(dr: &mut Value, lb: LoadBalancer) {
    set_path(dr, &["spec", "trafficPolicy", "loadBalancer"], load_balancer(lb));
}

/// Sets the fields of `trafficPolicy.connectionPool` that `pool` sets, keeping the others.
///
/// # Errors
/// [`Error::InvalidInput`] when a count exceeds Istio's `int32`.
pub(crate) fn set_connection_pool(dr: &mut Value, pool: &ConnectionPool) -> Result<(), Error> {
    let base = ["spec", "trafficPolicy", "connectionPool"];
    let at = |group: &'static str, field: &'static str| [base[0], base[1], base[2], group, field];
    if let Some(n) = pool.max_connections {
        set_path(
            dr,
            &at("tcp", "maxConnections"),
            json!(int32("max_connections", n)?),
        );
    }
    if let Some(d) = pool.connect_timeout {
        set_path(dr, &at("tcp", "connectTimeout"), json!(units::format_duration(d)));
    }
    if let Some(n) = pool.max_pending_requests {
        let v = int32("max_pending_requests", n)?;
        set_path(dr, &at("http", "http1MaxPendingRequests"), json!(v));
    }
    if let Some(n) = pool.max_retries {
        set_path(dr, &at("http", "maxRetries"), json!(int32("max_retries", n)?));
    }
    Ok(())
}

/// Sets the fields of `trafficPolicy.outlierDetection` that `od` sets, keeping the others.
/// `maxEjectionPercent` is an integer in Istio, so the percentage is rounded.
///
/// # Errors
/// [`Error::InvalidInput`] when a count exceeds Istio's limits.
pub(crate) fn set_outlier_detection(dr: &mut Value, od: &OutlierDetection) -> Result<(), Error> {
    let at = |field: &'static str| ["spec", "trafficPolicy", "outlierDetection", field];
    if let Some(n) = od.consecutive_errors {
        set_path(dr, &at("consecutive5xxErrors"), json!(n));
    }
    if let Some(d) = od.interval {
        set_path(dr, &at("interval"), json!(units::format_duration(d)));
    }
    if let Some(d) = od.base_ejection_time {
        set_path(dr, &at("baseEjectionTime"), json!(units::format_duration(d)));
    }
    if let Some(p) = od.max_ejection_percent {
        // In 0..=100 by construction, so the cast is exact after rounding.
        set_path(dr, &at("maxEjectionPercent"), json!(p.value().round() as i64));
    }
    Ok(())
}

/// Applies a circuit breaker: its connection-pool half and its outlier-detection half (see the
/// module docs for the field mapping).
///
/// # Errors
/// As [`set_connection_pool`].
pub(crate) fn set_circuit_breaker(dr: &mut Value, cb: &CircuitBreaker) -> Result<(), Error> {
    let pool = cb.connection_pool();
    if pool != ConnectionPool::default() {
        set_connection_pool(dr, &pool)?;
    }
    let od = cb.outlier_detection();
    if od != OutlierDetection::default() {
        set_outlier_detection(dr, &od)?;
    }
    Ok(())
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn new_example() {
        let dr = crate::translate::destination_rule::new(&"prod/reviews".parse().unwrap());
        assert_eq!(dr["spec"]["host"], "reviews.prod.svc.cluster.local");
    }

    #[test]
    fn subset_names_example() {
        let dr = serde_json::json!({"spec": {"subsets": [{"name": "v1"}, {"name": "v2"}]}});
        let names = crate::translate::destination_rule::subset_names(&dr);
        assert!(names.contains("v2"));
    }

    #[test]
    fn subset_example() {
        use mesh_core::{Subset, Version};
        let v2 = Subset::for_version(Version::new("v2").unwrap());
        let s = crate::translate::destination_rule::subset(&v2, &Default::default());
        assert_eq!(s, serde_json::json!({"name": "v2", "labels": {"version": "v2"}}));
    }

    #[test]
    fn upsert_subset_example() {
        use crate::translate::destination_rule::{new, subset_names, upsert_subset};
        use mesh_core::{Subset, Version};
        let mut dr = new(&"prod/reviews".parse().unwrap());
        let v1 = Subset::for_version(Version::new("v1").unwrap());
        assert!(upsert_subset(&mut dr, &v1, &Default::default()));
        assert!(!upsert_subset(&mut dr, &v1, &Default::default()));
        assert_eq!(subset_names(&dr).len(), 1);
    }

    #[test]
    fn ensure_subset_example() {
        use crate::translate::destination_rule::{ensure_subset, new};
        let mut dr = new(&"prod/reviews".parse().unwrap());
        let keys = Default::default();
        assert!(ensure_subset(
            &mut dr,
            &mesh_core::Version::new("v1").unwrap(),
            &keys
        ));
        assert!(!ensure_subset(
            &mut dr,
            &mesh_core::Version::new("v1").unwrap(),
            &keys
        ));
    }

    #[test]
    fn load_balancer_example() {
        use crate::translate::destination_rule::load_balancer;
        use mesh_core::LoadBalancer;
        assert_eq!(
            load_balancer(LoadBalancer::LeastRequest)["simple"],
            "LEAST_REQUEST"
        );
        assert_eq!(
            load_balancer(LoadBalancer::Maglev)["consistentHash"]["useSourceIp"],
            true
        );
    }

    #[test]
    fn set_connection_pool_example() {
        use crate::translate::destination_rule::{new, set_connection_pool};
        use mesh_core::ConnectionPool;
        use std::time::Duration;
        let mut dr = new(&"prod/reviews".parse().unwrap());
        let pool = ConnectionPool {
            max_connections: Some(100),
            connect_timeout: Some(Duration::from_secs(3)),
            ..Default::default()
        };
        set_connection_pool(&mut dr, &pool).unwrap();
        assert_eq!(
            dr["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"],
            100
        );
        assert_eq!(
            dr["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["connectTimeout"],
            "3s"
        );
    }

    #[test]
    fn set_outlier_detection_example() {
        use crate::translate::destination_rule::{new, set_outlier_detection};
        use mesh_core::OutlierDetection;
        use std::time::Duration;
        let mut dr = new(&"prod/reviews".parse().unwrap());
        let od = OutlierDetection {
            consecutive_errors: Some(5),
            interval: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        set_outlier_detection(&mut dr, &od).unwrap();
        assert_eq!(
            dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"],
            5
        );
        assert_eq!(dr["spec"]["trafficPolicy"]["outlierDetection"]["interval"], "10s");
    }

    #[test]
    fn set_circuit_breaker_example() {
        use crate::translate::destination_rule::{new, set_circuit_breaker};
        use mesh_core::CircuitBreaker;
        let mut dr = new(&"prod/reviews".parse().unwrap());
        let cb = CircuitBreaker {
            max_retries: Some(3),
            consecutive_errors: Some(5),
            ..Default::default()
        };
        set_circuit_breaker(&mut dr, &cb).unwrap();
        assert_eq!(
            dr["spec"]["trafficPolicy"]["connectionPool"]["http"]["maxRetries"],
            3
        );
        assert_eq!(
            dr["spec"]["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"],
            5
        );
    }
}
