//! Scripted failures of the fake API server.

use http::Method;
use serde_json::{Value, json};

use super::{RecordedRequest, answers::status_body};

/// Which requests a scripted [`Fault`] applies to. Unset parts match anything.
///
/// ```
/// use mesh_kube::testing::Match;
/// let m = Match::method(http::Method::PATCH).path_contains("virtualservices").real_writes_only();
/// assert!(m.dry_run == Some(false));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Match {
    /// The HTTP method.
    pub method: Option<Method>,
    /// A substring of the path.
    pub path_contains: Option<String>,
    /// Whether the request is a dry run.
    pub dry_run: Option<bool>,
}

impl Match {
    /// Any request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests with this method.
    pub fn method(method: Method) -> Self {
        Self {
            method: Some(method),
            ..Self::default()
        }
    }

    /// Also require `part` in the path.
    #[must_use]
    pub fn path_contains(mut self, part: &str) -> Self {
        self.path_contains = Some(part.to_owned());
        self
    }

    /// Only requests that are not dry runs.
    #[must_use]
    pub fn real_writes_only(mut self) -> Self {
        self.dry_run = Some(false);
        self
    }

    /// Only dry-run requests.
    #[must_use]
    pub fn dry_runs_only(mut self) -> Self {
        self.dry_run = Some(true);
        self
    }

    pub(crate) fn matches(&self, req: &RecordedRequest) -> bool {
        self.method.as_ref().is_none_or(|m| m.as_str() == req.method)
            && self
                .path_contains
                .as_ref()
                .is_none_or(|p| req.path.contains(p.as_str()))
            && self.dry_run.is_none_or(|d| d == req.is_dry_run())
    }
}

/// What the fake server does instead of serving a matched request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer with this status code and `Status` body.
    Status {
        /// HTTP status.
        code: u16,
        /// The `Status` body.
        body: Value,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Never answer (the client's timeout fires).
    Hang,
    /// Drop the connection (the client sees a transport error).
    Drop,
    /// Serve the request (a write lands), then drop the connection before the answer: the
    /// client cannot tell this from [`Fault::Drop`].
    LoseAnswer,
}

impl Fault {
    /// An error status with a `Status` body carrying `reason` and `message`.
    pub fn status(code: u16, reason: &str, message: &str) -> Self {
        Self::Status {
            code,
            body: status_body(code, reason, message, json!({})),
            retry_after: None,
        }
    }

    /// 429 Too Many Requests with `Retry-After: seconds`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::Status {
            code: 429,
            body: status_body(
                429,
                "TooManyRequests",
                "the server has received too many requests",
                json!({}),
            ),
            retry_after: Some(seconds),
        }
    }

    /// 500 Internal Server Error.
    pub fn internal_error() -> Self {
        Self::status(
            500,
            "InternalError",
            "an error on the server has prevented the request",
        )
    }

    /// The 409 a server-side apply gets when `manager` owns `field`.
    pub fn apply_conflict(manager: &str, field: &str) -> Self {
        let cause = format!("conflict with \"{manager}\" using networking.istio.io/v1");
        Self::Status {
            code: 409,
            body: status_body(
                409,
                "Conflict",
                &format!("Apply failed with 1 conflict: {cause}: {field}"),
                json!({ "causes": [{ "reason": "FieldManagerConflict", "message": cause, "field": field }] }),
            ),
            retry_after: None,
        }
    }

    /// The 422 of an object the server refuses, on `field`.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Status {
            code: 422,
            body: status_body(
                422,
                "Invalid",
                message,
                json!({ "causes": [{ "reason": "FieldValueInvalid", "message": message, "field": field }] }),
            ),
            retry_after: None,
        }
    }
}
