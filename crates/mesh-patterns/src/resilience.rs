//! Circuit-breaker and retry presets. Every number says where it comes from.
//!
//! Sources: the mesh defaults in the project's mesh mapping reference (sections 5 and 6: Istio
//! `DestinationRule` / `VirtualService` defaults, Linkerd failure accrual, Consul
//! `PassiveHealthCheck` and service-router defaults) and the published defaults in the anchors
//! reference (section 3).

use std::time::Duration;

use mesh_core::{CircuitBreaker, Percent, RetryOn, RetryPolicy};

/// A circuit breaker every mesh can express: eject a host after **5** consecutive 5xx for a base
/// of **30 s**.
///
/// - 5 consecutive errors: Istio's `outlierDetection.consecutive5xxErrors` default (Linkerd's own
///   default is 7, Consul has no default without a passive health check).
/// - 30 s base ejection: Istio's and Consul's `baseEjectionTime` default (Linkerd's
///   `failure-accrual-consecutive-min-penalty` takes it).
/// - `interval` and `max_ejection_percent` stay unset: Linkerd cannot express them, and Istio and
///   Consul already default to 10 s and 10 %.
///
/// ```
/// use std::time::Duration;
/// let cb = mesh_patterns::default_circuit_breaker();
/// assert_eq!(cb.consecutive_errors, Some(5));
/// assert_eq!(cb.base_ejection_time, Some(Duration::from_secs(30)));
/// assert!(cb.validate().is_ok());
/// ```
#[must_use]
pub fn default_circuit_breaker() -> CircuitBreaker {
    CircuitBreaker {
        consecutive_errors: Some(5),
        base_ejection_time: Some(Duration::from_secs(30)),
        ..CircuitBreaker::default()
    }
}

/// A circuit breaker that ejects sooner, for longer, and more hosts at once: **3** consecutive
/// errors, swept every **5 s**, ejected for **60 s** (× ejections), up to **50 %** of hosts, and
/// at most **1024** connections.
///
/// Each number tightens a mesh default: 5 errors → 3, 10 s sweep → 5 s, 30 s ejection → 60 s,
/// 10 % → 50 % (Istio and Consul defaults, mesh mapping section 5), toward Istio's own
/// circuit-breaking walkthrough (1 error, 1 s, 3 min, 100 %), which is a demo and too jumpy for
/// production. 1024 connections is Envoy's per-cluster circuit-breaker default.
/// `interval`, `max_ejection_percent` and `max_connections` are Istio and Consul only: Linkerd
/// refuses them by name.
///
/// ```
/// let cb = mesh_patterns::aggressive_circuit_breaker();
/// assert_eq!(cb.consecutive_errors, Some(3));
/// assert_eq!(cb.max_ejection_percent.map(|p| p.value()), Some(50.0));
/// assert!(cb.validate().is_ok());
/// ```
#[must_use]
pub fn aggressive_circuit_breaker() -> CircuitBreaker {
    CircuitBreaker {
        max_connections: Some(1024),
        consecutive_errors: Some(3),
        interval: Some(Duration::from_secs(5)),
        base_ejection_time: Some(Duration::from_secs(60)),
        max_ejection_percent: Percent::new(50.0).ok(),
        ..CircuitBreaker::default()
    }
}

/// Retries that are safe for any request, idempotent or not: **2** retries, only when the request
/// never reached the application (`connect-failure`, `refused-stream`).
///
/// 2 attempts is Istio's mesh-wide default (`defaultHttpRetryPolicy`, mesh mapping section 6);
/// Istio's default conditions also include the gRPC `unavailable` and `cancelled`, which can follow a
/// processed request, so they are left out here.
///
/// ```
/// use mesh_core::RetryOn;
/// let p = mesh_patterns::default_retry_policy();
/// assert_eq!(p.attempts, 2);
/// assert_eq!(p.retry_on, vec![RetryOn::ConnectFailure, RetryOn::RefusedStream]);
/// assert!(p.validate().is_ok());
/// ```
#[must_use]
pub fn default_retry_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        per_try_timeout: None,
        retry_on: vec![RetryOn::ConnectFailure, RetryOn::RefusedStream],
        retry_on_status: Vec::new(),
        overall_timeout: None,
    }
}

/// Retries for idempotent requests (GET, PUT, DELETE): **3** retries on any 5xx, reset, connect
/// failure or refused stream, within an overall **15 s**.
///
/// 3 attempts is one more than Istio's default (2), for requests that are safe to repeat; 15 s is
/// Envoy's default route timeout and the `RequestTimeout` of the Consul service-router example
/// (mesh mapping section 6), so retries cannot stretch a request past what callers expect. No
/// per-try timeout: Consul has none, so setting one would be refused there.
///
/// ```
/// use mesh_core::RetryOn;
/// let p = mesh_patterns::idempotent_retry_policy();
/// assert!(p.retry_on.contains(&RetryOn::ServerError) && p.retry_on.contains(&RetryOn::Reset));
/// assert_eq!(p.retry_on_string(), "5xx,reset,connect-failure,refused-stream");
/// assert!(p.validate().is_ok());
/// ```
#[must_use]
pub fn idempotent_retry_policy() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        per_try_timeout: None,
        retry_on: vec![
            RetryOn::ServerError,
            RetryOn::Reset,
            RetryOn::ConnectFailure,
            RetryOn::RefusedStream,
        ],
        retry_on_status: Vec::new(),
        overall_timeout: Some(Duration::from_secs(15)),
    }
}
