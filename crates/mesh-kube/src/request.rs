//! One API request, sent with timeouts and retries.

use std::time::Duration;

use http::{Method, header};
use http_body_util::BodyExt as _;
use kube::client::Body;
use mesh_core::body_cap::CappedBody;
use tokio::time::{Instant, sleep, timeout};

use crate::{KubeError, RetryPolicy};

/// `Content-Type` of server-side apply patches.
pub(crate) const APPLY_PATCH: &str = "application/apply-patch+yaml";
/// `Content-Type` of JSON bodies.
pub(crate) const JSON: &str = "application/json";

/// A request to the API server, kept so it can be sent again.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: Option<Vec<u8>>,
}

/// A final answer: success, or an error status that retrying does not fix.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// An earlier attempt of this request may have reached the server without its answer
    /// reaching us (a timeout, a dropped connection, a gateway's 5xx): a write may have landed
    /// already, so a refusal now (exists, stale version) may be our own write's doing.
    pub(crate) ambiguous: bool,
}

impl ApiRequest {
    pub(crate) fn new(method: Method, path: String) -> Self {
        Self {
            method,
            path,
            query: Vec::new(),
            content_type: None,
            body: None,
        }
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    pub(crate) fn body(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        self.content_type = Some(content_type);
        self.body = Some(body);
        self
    }

    fn uri(&self) -> String {
        let mut uri = self.path.clone();
        for (i, (k, v)) in self.query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(k);
            uri.push('=');
            uri.push_str(&percent_encode(v));
        }
        uri
    }

    fn to_http(&self) -> Result<http::Request<Body>, KubeError> {
        let mut b = http::Request::builder()
            .method(self.method.clone())
            .uri(self.uri())
            .header(header::ACCEPT, JSON);
        if let Some(ct) = self.content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let body = self.body.clone().map(Body::from).unwrap_or_else(Body::empty);
        b.body(body)
            .map_err(|e| KubeError::Decode(format!("cannot build the request: {e}")))
    }
}

/// Sends `req`, retrying 429 (after `Retry-After`), 5xx (but 501), timeouts and transport errors
/// under `policy`.
pub(crate) async fn send(
    client: &kube::Client,
    req: &ApiRequest,
    policy: &RetryPolicy,
) -> Result<ApiResponse, KubeError> {
    let start = Instant::now();
    let mut attempt: u32 = 0;
    let mut ambiguous = false;
    loop {
        attempt += 1;
        let (failure, retry_after) =
            match timeout(policy.request_timeout, once(client, req, policy.max_body)).await {
                Err(_) => (KubeError::Timeout(policy.request_timeout), None),
                // An answer over the cap would be as large the next time.
                Ok(Err(e @ KubeError::TooLarge(_))) => return Err(e),
                Ok(Err(e)) => (e, None),
                Ok(Ok((resp, retry_after))) if retryable(resp.status, &resp.body) => {
                    let status = crate::error::Status::parse(&resp.body);
                    let failure = KubeError::Api {
                        code: resp.status,
                        reason: status.reason,
                        message: status.message,
                    };
                    (failure, retry_after)
                }
                Ok(Ok((resp, _))) => return Ok(ApiResponse { ambiguous, ..resp }),
            };
        // A 429 was refused before any work; anything else may have been applied.
        ambiguous |= !matches!(failure, KubeError::Api { code: 429, .. });
        let wait = retry_after.unwrap_or_else(|| policy.backoff(attempt - 1));
        let elapsed = start.elapsed();
        if attempt >= policy.max_attempts.max(1) || elapsed + wait > policy.max_elapsed {
            return Err(KubeError::RetriesExhausted {
                attempts: attempt,
                elapsed,
                last: Box::new(failure),
            });
        }
        tracing::debug!(method = %req.method, path = %req.path, attempt, ?wait, error = %failure, "retrying");
        sleep(wait).await;
    }
}

fn retryable(status: u16, body: &[u8]) -> bool {
    status == 429 || (status >= 500 && status != 501 && !crate::error::is_undeclared_field(status, body))
}

async fn once(
    client: &kube::Client,
    req: &ApiRequest,
    max_body: usize,
) -> Result<(ApiResponse, Option<Duration>), KubeError> {
    let res = client.send(req.to_http()?).await.map_err(KubeError::Transport)?;
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let declared = res
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut body = CappedBody::new(max_body, declared).map_err(KubeError::TooLarge)?;
    let mut stream = res.into_body();
    while let Some(frame) = stream.frame().await {
        if let Ok(data) = frame.map_err(KubeError::Transport)?.into_data() {
            body.push(&data).map_err(KubeError::TooLarge)?;
        }
    }
    Ok((
        ApiResponse {
            status,
            body: body.into_bytes(),
            ambiguous: false,
        },
        retry_after,
    ))
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        let r = ApiRequest::new(Method::GET, "/api/v1/services".into())
            .query("labelSelector", "app=reviews,tier in (a b)")
            .query("fieldManager", "mesh");
        assert_eq!(
            r.uri(),
            "/api/v1/services?labelSelector=app%3Dreviews%2Ctier%20in%20%28a%20b%29&fieldManager=mesh"
        );
    }

    #[test]
    fn which_statuses_are_retried() {
        let r = |code| retryable(code, b"{}");
        assert!(r(429) && r(500) && r(503));
        assert!(!r(501) && !r(409) && !r(404) && !r(200));
        let typed_patch = br#"{"message": "failed to create typed patch object (a/b; v1, Kind=X): .spec.y: field not declared in schema"}"#;
        assert!(
            !retryable(500, typed_patch),
            "the caller's input, not a server fault"
        );
    }
}
