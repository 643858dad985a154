//! Circuit breaking, connection pools, outlier detection and retries.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, Percent};

/// Connection-pool limits (Istio `connectionPool`, Consul `Limits`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionPool {
    /// Maximum TCP connections to the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxConnections")]
    pub max_connections: Option<u32>,
    /// TCP connect timeout.
    #[serde(
        alias = "connectTimeout",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_millis_or_str"
    )]
    pub connect_timeout: Option<Duration>,
    /// Maximum requests waiting for a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxPendingRequests")]
    pub max_pending_requests: Option<u32>,
    /// Maximum outstanding retries across the destination: a concurrency cap, not attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxRetries")]
    pub max_retries: Option<u32>,
}

/// Passive health checking: eject hosts that keep failing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetection {
    /// Consecutive 5xx (or gateway) errors before ejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "consecutiveErrors")]
    pub consecutive_errors: Option<u32>,
    /// How often hosts are swept.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_str_no_bare_number"
    )]
    pub interval: Option<Duration>,
    /// Minimum ejection time, multiplied by the number of ejections.
    #[serde(
        alias = "baseEjectionTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_str_no_bare_number"
    )]
    pub base_ejection_time: Option<Duration>,
    /// The most hosts that may be ejected at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxEjectionPercent")]
    pub max_ejection_percent: Option<Percent>,
}

/// The spec's circuit breaker. Every field is optional: a backend refuses, by name, only the fields
/// that are set and that its mesh cannot express.
///
/// ```
/// use std::time::Duration;
/// use mesh_core::CircuitBreaker;
/// let cb = CircuitBreaker { consecutive_errors: Some(5), interval: Some(Duration::from_secs(10)), ..Default::default() };
/// assert_eq!(cb.set_fields(), vec!["consecutive_errors", "interval"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    /// Maximum connections to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxConnections")]
    pub max_connections: Option<u32>,
    /// Connect timeout.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_millis_or_str"
    )]
    pub timeout: Option<Duration>,
    /// Maximum concurrent retries to the service (Istio's meaning: a cap, not attempts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxRetries")]
    pub max_retries: Option<u32>,
    /// Consecutive errors before a host is ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "consecutiveErrors")]
    pub consecutive_errors: Option<u32>,
    /// Sweep interval.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_str_no_bare_number"
    )]
    pub interval: Option<Duration>,
    /// Base ejection time.
    #[serde(
        alias = "baseEjectionTime",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_str_no_bare_number"
    )]
    pub base_ejection_time: Option<Duration>,
    /// Maximum share of hosts ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(alias = "maxEjectionPercent")]
    pub max_ejection_percent: Option<Percent>,
}

impl CircuitBreaker {
    /// The names of the fields that are set, in declaration order.
    pub fn set_fields(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut push = |set: bool, name| {
            if set {
                out.push(name);
            }
        };
        push(self.max_connections.is_some(), "max_connections");
        push(self.timeout.is_some(), "timeout");
        push(self.max_retries.is_some(), "max_retries");
        push(self.consecutive_errors.is_some(), "consecutive_errors");
        push(self.interval.is_some(), "interval");
        push(self.base_ejection_time.is_some(), "base_ejection_time");
        push(self.max_ejection_percent.is_some(), "max_ejection_percent");
        out
    }

    /// Checks that at least one field is set and that counts and durations are positive.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.set_fields().is_empty() {
            return Err(Error::invalid("circuit_breaker", "sets no field"));
        }
        // 0 would mean "unset" to Istio (no cap at all), the opposite of what was asked.
        for (name, v) in [
            ("max_connections", self.max_connections),
            ("max_retries", self.max_retries),
            ("consecutive_errors", self.consecutive_errors),
        ] {
            if v == Some(0) {
                return Err(Error::invalid(name, "must be at least 1"));
            }
        }
        if self.max_ejection_percent.is_some_and(|p| p.value() == 0.0) {
            return Err(Error::invalid(
                "max_ejection_percent",
                "0 would never eject a host; leave it out or give a share above 0",
            ));
        }
        for (name, d) in [
            ("timeout", self.timeout),
            ("interval", self.interval),
            ("base_ejection_time", self.base_ejection_time),
        ] {
            if let Some(d) = d
                && d < Duration::from_millis(1)
            {
                return Err(Error::invalid(name, "must be at least 1ms"));
            }
        }
        Ok(())
    }

    /// The connection-pool half of the breaker.
    pub fn connection_pool(&self) -> ConnectionPool {
        ConnectionPool {
            max_connections: self.max_connections,
            connect_timeout: self.timeout,
            max_pending_requests: None,
            max_retries: self.max_retries,
        }
    }

    /// The outlier-detection half of the breaker.
    pub fn outlier_detection(&self) -> OutlierDetection {
        OutlierDetection {
            consecutive_errors: self.consecutive_errors,
            interval: self.interval,
            base_ejection_time: self.base_ejection_time,
            max_ejection_percent: self.max_ejection_percent,
        }
    }
}

/// A condition under which a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryOn {
    /// Any 5xx response. Not safe for non-idempotent requests.
    #[serde(rename = "5xx")]
    ServerError,
    /// 502, 503 or 504.
    GatewayError,
    /// The connection was reset before a response. Not safe for non-idempotent requests.
    Reset,
    /// The connection could not be opened; the request never left.
    ConnectFailure,
    /// The upstream refused the stream (HTTP/2 REFUSED_STREAM); the request was not processed.
    RefusedStream,
    /// 409 and similar retriable 4xx responses.
    Retriable4xx,
    /// gRPC CANCELLED.
    Cancelled,
    /// gRPC DEADLINE_EXCEEDED.
    DeadlineExceeded,
    /// gRPC UNAVAILABLE.
    Unavailable,
    /// gRPC RESOURCE_EXHAUSTED.
    ResourceExhausted,
    /// gRPC INTERNAL.
    Internal,
}

impl RetryOn {
    /// The Envoy/Istio/Consul spelling (`5xx`, `connect-failure`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "5xx",
            Self::GatewayError => "gateway-error",
            Self::Reset => "reset",
            Self::ConnectFailure => "connect-failure",
            Self::RefusedStream => "refused-stream",
            Self::Retriable4xx => "retriable-4xx",
            Self::Cancelled => "cancelled",
            Self::DeadlineExceeded => "deadline-exceeded",
            Self::Unavailable => "unavailable",
            Self::ResourceExhausted => "resource-exhausted",
            Self::Internal => "internal",
        }
    }

    /// True for gRPC status conditions.
    pub fn is_grpc(self) -> bool {
        matches!(
            self,
            Self::Cancelled
                | Self::DeadlineExceeded
                | Self::Unavailable
                | Self::ResourceExhausted
                | Self::Internal
        )
    }
}

impl fmt::Display for RetryOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Retries for a route or service.
///
/// ```
/// use std::time::Duration;
/// use mesh_core::{RetryOn, RetryPolicy};
/// let p = RetryPolicy {
///     attempts: 3,
///     per_try_timeout: Some(Duration::from_secs(2)),
///     retry_on: vec![RetryOn::ConnectFailure, RetryOn::RefusedStream],
///     retry_on_status: vec![],
///     overall_timeout: Some(Duration::from_secs(10)),
/// };
/// assert!(p.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Retries after the first try; 0 disables retries.
    pub attempts: u32,
    /// Timeout of each try.
    #[serde(
        alias = "perTryTimeout",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_millis_or_str"
    )]
    pub per_try_timeout: Option<Duration>,
    /// Conditions that trigger a retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "retryOn")]
    pub retry_on: Vec<RetryOn>,
    /// Extra HTTP status codes that trigger a retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[serde(alias = "retryOnStatus")]
    pub retry_on_status: Vec<u16>,
    /// The overall timeout, retries included.
    #[serde(
        alias = "overallTimeout",
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_millis_or_str"
    )]
    pub overall_timeout: Option<Duration>,
}

impl RetryPolicy {
    /// Checks attempts, timeouts and status codes.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.attempts > 100 {
            return Err(Error::invalid(
                "attempts",
                format!("{} is more than 100", self.attempts),
            ));
        }
        if self.attempts > 0 && self.retry_on.is_empty() && self.retry_on_status.is_empty() {
            return Err(Error::invalid("retry_on", "retries need at least one condition"));
        }
        for (name, d) in [
            ("per_try_timeout", self.per_try_timeout),
            ("overall_timeout", self.overall_timeout),
        ] {
            if let Some(d) = d
                && d < Duration::from_millis(1)
            {
                return Err(Error::invalid(name, "must be at least 1ms"));
            }
        }
        if let (Some(per), Some(all)) = (self.per_try_timeout, self.overall_timeout)
            && per > all
        {
            return Err(Error::invalid("per_try_timeout", "exceeds the overall timeout"));
        }
        crate::unique::no_repeats("retry_on", &self.retry_on)?;
        crate::unique::no_repeats("retry_on_status", &self.retry_on_status)?;
        if let Some(code) = self.retry_on_status.iter().find(|c| !(100..=599).contains(*c)) {
            return Err(Error::invalid(
                "retry_on_status",
                format!("{code} is not an HTTP status"),
            ));
        }
        Ok(())
    }

    /// The comma-separated `retryOn` string Istio and Envoy take (`connect-failure,503`).
    pub fn retry_on_string(&self) -> String {
        self.retry_on
            .iter()
            .map(|r| r.as_str().to_owned())
            .chain(self.retry_on_status.iter().map(u16::to_string))
            .collect::<Vec<_>>()
            .join(",")
    }
}
