//! Retries and timeouts: annotations on 2.16+, a ServiceProfile (opt-in) on 2.14–2.15.

use mesh_core::{Error, Feature, MeshKind, RetryOn, RetryPolicy, ServiceId};
use serde_json::{Map, Value, json};

use crate::{objects, translate::circuit_breaker::linkerd_duration};

/// `retry.linkerd.io/http`.
pub(crate) const HTTP: &str = "retry.linkerd.io/http";
/// `retry.linkerd.io/grpc`.
pub(crate) const GRPC: &str = "retry.linkerd.io/grpc";
/// `retry.linkerd.io/limit`.
pub(crate) const LIMIT: &str = "retry.linkerd.io/limit";
/// `retry.linkerd.io/timeout` (per try).
pub(crate) const TIMEOUT: &str = "retry.linkerd.io/timeout";
/// `timeout.linkerd.io/request` (overall).
pub(crate) const REQUEST_TIMEOUT: &str = "timeout.linkerd.io/request";

/// The retry annotations and the warnings that go with them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RetryAnnotations {
    /// The annotations to set on the Service.
    pub(crate) annotations: Map<String, Value>,
    /// Facts the caller should know.
    pub(crate) warnings: Vec<String>,
}

fn reset_refused() -> Error {
    Error::unsupported(
        MeshKind::Linkerd,
        Feature::RetryOn,
        "Linkerd retries on response status (retry.linkerd.io/http) or gRPC status \
         (retry.linkerd.io/grpc); it has no condition for a reset connection",
    )
}

const IMPLICIT: &str = "connect-failure and refused-stream need no setting: the Linkerd proxy only \
                        sends a request once it holds a ready connection";

/// The 2.16+ annotations of `policy`.
///
/// # Errors
/// [`Error::Unsupported`] naming [`Feature::RetryOn`] for a `reset` condition.
pub(crate) fn annotations(policy: &RetryPolicy) -> Result<RetryAnnotations, Error> {
    let mut out = RetryAnnotations::default();
    let (mut http, mut grpc) = (Vec::new(), Vec::new());
    for on in &policy.retry_on {
        match on {
            RetryOn::ServerError => http.push("5xx".to_owned()),
            RetryOn::GatewayError => http.push("gateway-error".to_owned()),
            RetryOn::Retriable4xx => http.push("409".to_owned()),
            RetryOn::Reset => return Err(reset_refused()),
            RetryOn::ConnectFailure | RetryOn::RefusedStream => {
                if !out.warnings.iter().any(|w| w == IMPLICIT) {
                    out.warnings.push(IMPLICIT.to_owned());
                }
            }
            g => grpc.push(g.as_str().to_owned()),
        }
    }
    http.extend(policy.retry_on_status.iter().map(u16::to_string));
    if policy.attempts > 0 {
        if !http.is_empty() {
            out.annotations.insert(HTTP.into(), json!(http.join(",")));
        }
        if !grpc.is_empty() {
            out.annotations.insert(GRPC.into(), json!(grpc.join(",")));
        }
        out.annotations
            .insert(LIMIT.into(), json!(policy.attempts.to_string()));
        if let Some(t) = policy.per_try_timeout {
            out.annotations.insert(TIMEOUT.into(), json!(linkerd_duration(t)));
        }
    }
    if let Some(t) = policy.overall_timeout {
        out.annotations
            .insert(REQUEST_TIMEOUT.into(), json!(linkerd_duration(t)));
    }
    out.warnings.push(
        "Linkerd retries are client-side: only meshed callers retry, and bodies over 64 KiB are \
         never retried"
            .to_owned(),
    );
    Ok(out)
}

/// The 2.14–2.15 ServiceProfile: one catch-all route, `isRetryable` when `attempts > 0`, the
/// overall timeout, failure classes for the extra status codes, and Linkerd's default retry budget
/// (20 % extra load, 10 retries per second minimum, 10 s window). The attempt count itself has no
/// equivalent: the budget replaces it.
///
/// # Errors
/// [`Error::Unsupported`] naming [`Feature::RetryOn`] for gRPC or `reset` conditions, which a
/// ServiceProfile cannot classify.
pub(crate) fn service_profile(id: &ServiceId, policy: &RetryPolicy) -> Result<Value, Error> {
    let mut classes = Vec::new();
    for on in &policy.retry_on {
        match on {
            RetryOn::ServerError | RetryOn::ConnectFailure | RetryOn::RefusedStream => {}
            RetryOn::GatewayError => classes.push((502, 504)),
            RetryOn::Retriable4xx => classes.push((409, 409)),
            RetryOn::Reset => return Err(reset_refused()),
            g => {
                return Err(Error::unsupported(
                    MeshKind::Linkerd,
                    Feature::RetryOn,
                    format!("a ServiceProfile classifies HTTP status only; {g} is a gRPC status"),
                ));
            }
        }
    }
    classes.extend(policy.retry_on_status.iter().map(|c| (*c, *c)));
    let mut route = json!({
        "name": "mesh-all",
        "condition": { "pathRegex": ".*" },
        "isRetryable": policy.attempts > 0,
    });
    if let Some(t) = policy.overall_timeout {
        route["timeout"] = json!(linkerd_duration(t));
    }
    if !classes.is_empty() {
        route["responseClasses"] = Value::Array(
            classes
                .into_iter()
                .map(|(min, max)| json!({ "condition": { "status": { "min": min, "max": max } }, "isFailure": true }))
                .collect(),
        );
    }
    let target = objects::service_profile(id);
    Ok(objects::owned_object(
        &target,
        json!({
            "routes": [route],
            "retryBudget": { "retryRatio": 0.2, "minRetriesPerSecond": 10, "ttl": "10s" },
        }),
    ))
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn annotations_example() {
        use crate::translate::retry::*;
        use mesh_core::{RetryOn, RetryPolicy};
        use std::time::Duration;
        let p = RetryPolicy {
            attempts: 3,
            per_try_timeout: Some(Duration::from_millis(300)),
            retry_on: vec![RetryOn::ServerError],
            retry_on_status: vec![429],
            overall_timeout: Some(Duration::from_secs(2)),
        };
        let a = annotations(&p).unwrap().annotations;
        assert_eq!(a[HTTP], "5xx,429");
        assert_eq!(a[LIMIT], "3");
        assert_eq!(a[TIMEOUT], "300ms");
        assert_eq!(a[REQUEST_TIMEOUT], "2s");
    }
}
