//! A thin Prometheus HTTP API client: instant and range queries, the error envelope, timeouts.
//!
//! Why not `prometheus-http-query`: its instant query takes whole seconds for `time`, it drops the
//! `warnings` of the envelope, and its result types cannot be parsed from a body on their own (the
//! range-parse benchmark and the tests feed bodies straight to [`parse_response`]). The API surface
//! we need is two GET endpoints, so a direct client on the workspace's reqwest is smaller.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use url::Url;

use crate::credentials::BasicAuth;

use super::response::{QueryResponse, VectorSample, parse_response};
use crate::{Error, Result};

/// The environment variable holding the Prometheus base URL.
pub const PROMETHEUS_URL_ENV: &str = "PROMETHEUS_URL";

const NOT_CONFIGURED_HINT: &str = "set PROMETHEUS_URL to the Prometheus base URL (for Linkerd, linkerd-viz's \
    Prometheus, e.g. http://prometheus.linkerd-viz.svc:9090) or use PrometheusClient::builder().url(..)";

/// A Prometheus client. Cheap to clone; clones share the connection pool and the query counter.
#[derive(Clone)]
pub struct PrometheusClient {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
    bearer: Option<Arc<str>>,
    basic: Option<BasicAuth>,
    queries: Arc<AtomicU64>,
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Builds a [`PrometheusClient`].
///
/// ```
/// use std::time::Duration;
/// use mesh_telemetry::prometheus::PrometheusClient;
/// let client = PrometheusClient::builder()
///     .url("http://127.0.0.1:9090/")
///     .timeout(Duration::from_secs(5))
///     .build()
///     .unwrap();
/// assert_eq!(client.base_url(), "http://127.0.0.1:9090/");
/// assert!(PrometheusClient::builder().build().is_err()); // no URL: not configured
/// ```
#[derive(Default)]
#[must_use]
pub struct PrometheusBuilder {
    url: Option<String>,
    timeout: Option<Duration>,
    bearer: Option<String>,
    http: Option<reqwest::Client>,
}

impl fmt::Debug for PrometheusBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusBuilder")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl PrometheusBuilder {
    /// The base URL (`http://prometheus:9090`, or with a path prefix behind a proxy).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Per-request timeout; also sent to Prometheus as the query `timeout`. Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A bearer token sent as `Authorization: Bearer ..`. Never logged or printed.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer = Some(token.into());
        self
    }

    /// Uses this reqwest client (TLS roots, proxies) instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Takes the URL from `PROMETHEUS_URL` unless one was set.
    pub fn url_from_env(mut self) -> Self {
        if self.url.is_none() {
            self.url = std::env::var(PROMETHEUS_URL_ENV)
                .ok()
                .filter(|u| !u.trim().is_empty());
        }
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a URL, [`Error::InvalidInput`] for a URL that is not
    /// `http(s)://`, [`Error::Transport`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<PrometheusClient> {
        let raw = self.url.ok_or(Error::NotConfigured {
            what: "Prometheus URL",
            hint: NOT_CONFIGURED_HINT,
        })?;
        let (base, basic) = parse_base_url(&raw)?;
        crate::credentials::warn_if_cleartext(&base, "Prometheus", basic.is_some() || self.bearer.is_some());
        let timeout = self.timeout.unwrap_or(Duration::from_secs(30));
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .map_err(|source| Error::Transport {
                    service: "Prometheus",
                    endpoint: base.to_string(),
                    source,
                })?,
        };
        Ok(PrometheusClient {
            http,
            base,
            timeout,
            bearer: self.bearer.map(Arc::from),
            basic,
            queries: Arc::default(),
        })
    }
}

/// Parses a base URL and makes sure it ends with `/`, so relative joins keep any path prefix.
pub(crate) fn parse_base_url(raw: &str) -> Result<(Url, Option<BasicAuth>)> {
    // The raw text may hold credentials: errors name the problem, never echo the text.
    let mut url = Url::parse(raw.trim()).map_err(|e| Error::invalid("url", format!("not a URL: {e}")))?;
    let auth = BasicAuth::take_from(&mut url);
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            "url",
            format!("{}: only http and https are supported", url.scheme()),
        ));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok((url, auth))
}

impl PrometheusClient {
    /// A builder.
    pub fn builder() -> PrometheusBuilder {
        PrometheusBuilder::default()
    }

    /// A client for `PROMETHEUS_URL`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when the variable is unset or empty, naming the variable to set.
    pub fn from_env() -> Result<Self> {
        Self::builder().url_from_env().build()
    }

    /// The base URL, ending with `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// How many queries this client (and its clones) has sent.
    pub fn queries_sent(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Runs an instant query evaluated at `at` (`GET /api/v1/query`).
    ///
    /// # Errors
    /// [`Error::Transport`], [`Error::Prometheus`] (the error envelope), [`Error::Http`] or
    /// [`Error::Decode`].
    pub async fn query(&self, promql: &str, at: SystemTime) -> Result<QueryResponse> {
        let params = [("query", promql.to_owned()), ("time", unix_secs(at))];
        self.get("api/v1/query", &params).await
    }

    /// An instant query that must return a vector.
    ///
    /// # Errors
    /// As [`PrometheusClient::query`], plus [`Error::Unexpected`] for another result type.
    pub async fn query_vector(&self, promql: &str, at: SystemTime) -> Result<Vec<VectorSample>> {
        self.query(promql, at).await?.result.into_vector()
    }

    /// Runs a range query over `[start, end]` every `step` (`GET /api/v1/query_range`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a zero step or `end < start`, otherwise as
    /// [`PrometheusClient::query`].
    pub async fn query_range(
        &self,
        promql: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Result<QueryResponse> {
        if step.is_zero() {
            return Err(Error::invalid("step", "must be positive"));
        }
        if end < start {
            return Err(Error::invalid("end", "must not be before start"));
        }
        let params = [
            ("query", promql.to_owned()),
            ("start", unix_secs(start)),
            ("end", unix_secs(end)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        self.get("api/v1/query_range", &params).await
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<QueryResponse> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::invalid("url", e.to_string()))?;
        let timeout = format!("{}s", self.timeout.as_secs_f64());
        let mut request = self
            .http
            .get(url.clone())
            .query(params)
            .query(&[("timeout", timeout)])
            .timeout(self.timeout);
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        } else if let Some(basic) = &self.basic {
            request = basic.apply(request);
        }
        self.queries.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(endpoint = %url, query = %params[0].1, "prometheus query");
        let transport = |source| Error::Transport {
            service: "Prometheus",
            endpoint: url.to_string(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = crate::body::read_capped(response, "Prometheus", url.as_str()).await?;
        parse_response(&body, status)
    }
}

/// Unix seconds with millisecond precision, as Prometheus accepts for `time`/`start`/`end`.
pub(crate) fn unix_secs(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_gets_a_trailing_slash_and_keeps_prefix() {
        let (u, _) = parse_base_url("https://gw.example/prom?x=1").unwrap();
        assert_eq!(u.as_str(), "https://gw.example/prom/");
        assert_eq!(
            u.join("api/v1/query").unwrap().as_str(),
            "https://gw.example/prom/api/v1/query"
        );
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("not a url").is_err());
    }

    #[test]
    fn missing_url_names_the_variable() {
        let e = PrometheusClient::builder().build().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("PROMETHEUS_URL"), "{msg}");
        assert!(msg.contains("linkerd-viz"), "{msg}");
    }

    #[test]
    fn debug_redacts_the_token() {
        let c = PrometheusClient::builder()
            .url("http://p:9090")
            .bearer_token("s3cret")
            .build()
            .unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && dbg.contains("redacted"), "{dbg}");
    }

    #[test]
    fn time_format_has_millis() {
        let t = UNIX_EPOCH + Duration::from_millis(1_704_067_500_123);
        assert_eq!(unix_secs(t), "1704067500.123");
    }
}
