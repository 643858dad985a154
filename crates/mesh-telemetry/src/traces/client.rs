//! The tracing-backend client: one of Jaeger (api_v3 or legacy), Zipkin v2 or Tempo.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use mesh_core::{TimeRange, Trace};
use serde_json::Value;
use url::Url;

use super::{
    jaeger::{parse_jaeger_v1, parse_jaeger_v3, v3_error_message},
    tempo::{parse_tempo_search, parse_tempo_trace},
    zipkin::parse_zipkin,
};
use crate::{Error, Result, error::snippet, prometheus::parse_base_url};

/// The environment variable holding the tracing backend's base URL.
pub const TRACING_URL_ENV: &str = "TRACING_URL";
/// The environment variable naming the backend kind (`jaeger`, `jaeger-v1`, `zipkin`, `tempo`).
pub const TRACING_KIND_ENV: &str = "TRACING_KIND";

const NOT_CONFIGURED_HINT: &str = "set TRACING_URL (and TRACING_KIND=jaeger|jaeger-v1|zipkin|tempo, default \
    jaeger) or use TracingClient::builder()";

/// Which API the tracing backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TracingKind {
    /// Jaeger's `/api/v3` HTTP gateway (OTLP/JSON), Jaeger 1.35+ and 2.x.
    Jaeger,
    /// Jaeger's legacy internal `/api/traces` (removed from Jaeger main after v2.20).
    JaegerV1,
    /// Zipkin API v2 (`/api/v2/traces`).
    Zipkin,
    /// Grafana Tempo (`/api/search` + `/api/traces/{id}`).
    Tempo,
}

impl TracingKind {
    fn name(self) -> &'static str {
        match self {
            Self::Jaeger | Self::JaegerV1 => "Jaeger",
            Self::Zipkin => "Zipkin",
            Self::Tempo => "Tempo",
        }
    }
}

impl FromStr for TracingKind {
    type Err = Error;

    /// ```
    /// use mesh_telemetry::traces::TracingKind;
    /// assert_eq!("Tempo".parse::<TracingKind>().unwrap(), TracingKind::Tempo);
    /// assert_eq!("jaeger-v1".parse::<TracingKind>().unwrap(), TracingKind::JaegerV1);
    /// assert!("skywalking".parse::<TracingKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "jaeger" | "jaeger-v3" => Ok(Self::Jaeger),
            "jaeger-v1" | "jaeger-legacy" => Ok(Self::JaegerV1),
            "zipkin" => Ok(Self::Zipkin),
            "tempo" => Ok(Self::Tempo),
            other => Err(Error::invalid(
                "tracing_kind",
                format!("{other:?} is not one of jaeger, jaeger-v1, zipkin, tempo"),
            )),
        }
    }
}

/// What to search for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceQuery {
    /// The service name as the tracer records it (Istio: `<app>.<namespace>`).
    pub service: String,
    /// Start times within this window.
    pub range: TimeRange,
    /// At most this many traces.
    pub limit: usize,
}

/// A client for one tracing backend.
#[derive(Clone)]
pub struct TracingClient {
    http: reqwest::Client,
    base: Url,
    basic: Option<crate::credentials::BasicAuth>,
    kind: TracingKind,
}

impl fmt::Debug for TracingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracingClient")
            .field("base", &self.base.as_str())
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TracingClient`].
///
/// ```
/// use mesh_telemetry::traces::{TracingClient, TracingKind};
/// let c = TracingClient::builder().url("http://jaeger:16686").kind(TracingKind::Jaeger).build().unwrap();
/// assert_eq!(c.kind(), TracingKind::Jaeger);
/// assert!(TracingClient::builder().build().is_err());
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct TracingBuilder {
    url: Option<String>,
    kind: Option<TracingKind>,
    timeout: Option<Duration>,
    http: Option<reqwest::Client>,
}

impl TracingBuilder {
    /// The base URL (Jaeger query `:16686`, Zipkin `:9411`, Tempo `:3200`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// The API kind; default [`TracingKind::Jaeger`].
    pub fn kind(mut self, kind: TracingKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Per-request timeout; default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Uses this reqwest client instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Fills the URL and kind from `TRACING_URL` / `TRACING_KIND` where not set.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an unknown `TRACING_KIND`.
    pub fn from_env(mut self) -> Result<Self> {
        if self.url.is_none() {
            self.url = std::env::var(TRACING_URL_ENV)
                .ok()
                .filter(|u| !u.trim().is_empty());
        }
        if self.kind.is_none()
            && let Ok(k) = std::env::var(TRACING_KIND_ENV)
            && !k.trim().is_empty()
        {
            self.kind = Some(k.parse()?);
        }
        Ok(self)
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without a URL, [`Error::InvalidInput`] for a bad URL.
    pub fn build(self) -> Result<TracingClient> {
        let raw = self.url.ok_or(Error::NotConfigured {
            what: "tracing backend",
            hint: NOT_CONFIGURED_HINT,
        })?;
        let (base, basic) = parse_base_url(&raw)?;
        let kind = self.kind.unwrap_or(TracingKind::Jaeger);
        crate::credentials::warn_if_cleartext(&base, kind.name(), basic.is_some());
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .timeout(self.timeout.unwrap_or(Duration::from_secs(30)))
                .build()
                .map_err(|source| Error::Transport {
                    service: kind.name(),
                    endpoint: base.to_string(),
                    source,
                })?,
        };
        Ok(TracingClient {
            http,
            base,
            basic,
            kind,
        })
    }
}

impl TracingClient {
    /// A builder.
    pub fn builder() -> TracingBuilder {
        TracingBuilder::default()
    }

    /// A client from `TRACING_URL` and `TRACING_KIND`.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when `TRACING_URL` is unset.
    pub fn from_env() -> Result<Self> {
        TracingBuilder::default().from_env()?.build()
    }

    /// The backend kind.
    pub fn kind(&self) -> TracingKind {
        self.kind
    }

    /// Recent traces through `query.service`, newest backends' order kept, at most `limit`.
    /// No match is an empty list (Jaeger api_v3 answers 404 then).
    ///
    /// # Errors
    /// [`Error::Transport`], [`Error::Http`] for an error status, [`Error::Decode`].
    pub async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let limit = query.limit.to_string();
        let (start, end) = (query.range.start(), query.range.end());
        let mut traces = match self.kind {
            TracingKind::Jaeger => {
                let params = [
                    ("query.service_name", query.service.clone()),
                    ("query.start_time_min", rfc3339(start)),
                    ("query.start_time_max", rfc3339(end)),
                    ("query.search_depth", limit),
                ];
                match self.get("api/v3/traces", &params).await? {
                    Some(body) => parse_jaeger_v3(&body)?,
                    None => Vec::new(),
                }
            }
            TracingKind::JaegerV1 => {
                let params = [
                    ("service", query.service.clone()),
                    ("start", unix_micros(start).to_string()),
                    ("end", unix_micros(end).to_string()),
                    ("limit", limit),
                ];
                self.get("api/traces", &params)
                    .await?
                    .map_or(Ok(Vec::new()), |b| parse_jaeger_v1(&b))?
            }
            TracingKind::Zipkin => {
                let lookback_ms = query.range.duration().as_millis().max(1);
                let params = [
                    ("serviceName", query.service.clone()),
                    ("endTs", (unix_micros(end) / 1000).to_string()),
                    ("lookback", lookback_ms.to_string()),
                    ("limit", limit),
                ];
                self.get("api/v2/traces", &params)
                    .await?
                    .map_or(Ok(Vec::new()), |b| parse_zipkin(&b))?
            }
            TracingKind::Tempo => {
                let params = [
                    ("tags", format!("service.name={}", query.service)),
                    ("start", (unix_micros(start) / 1_000_000).to_string()),
                    ("end", unix_micros(end).div_ceil(1_000_000).to_string()),
                    ("limit", limit),
                ];
                let ids = match self.get("api/search", &params).await? {
                    Some(body) => parse_tempo_search(&body)?,
                    None => Vec::new(),
                };
                // The by-id endpoint is authoritative for what it returns: keep every trace.
                let mut out = Vec::with_capacity(ids.len());
                for id in ids.iter().take(query.limit) {
                    if let Some(body) = self.get(&format!("api/traces/{id}"), &[]).await? {
                        out.extend(parse_tempo_trace(&body)?);
                    }
                }
                out
            }
        };
        traces.truncate(query.limit);
        Ok(traces)
    }

    /// One trace by id (hex); `None` when the backend does not know it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an id that is not hex or base64, otherwise as
    /// [`TracingClient::find_traces`].
    pub async fn trace(&self, id: &str) -> Result<Option<Trace>> {
        let id = super::ids::trace_id(id)?;
        let (path, parse): (String, Parser) = match self.kind {
            TracingKind::Jaeger => (format!("api/v3/traces/{id}"), parse_jaeger_v3),
            TracingKind::JaegerV1 => (format!("api/traces/{id}"), parse_jaeger_v1),
            TracingKind::Zipkin => (format!("api/v2/trace/{id}"), parse_zipkin),
            TracingKind::Tempo => (format!("api/traces/{id}"), parse_tempo_trace),
        };
        let Some(body) = self.get(&path, &[]).await? else {
            return Ok(None);
        };
        Ok(parse(&body)?.into_iter().find(|t| t.trace_id == id))
    }

    /// The service names the backend has seen.
    ///
    /// # Errors
    /// As [`TracingClient::find_traces`].
    pub async fn services(&self) -> Result<Vec<String>> {
        let (path, what) = match self.kind {
            TracingKind::Jaeger => ("api/v3/services", "Jaeger api_v3 services"),
            TracingKind::JaegerV1 => ("api/services", "Jaeger services"),
            TracingKind::Zipkin => ("api/v2/services", "Zipkin services"),
            TracingKind::Tempo => ("api/search/tag/service.name/values", "Tempo tag values"),
        };
        let Some(body) = self.get(path, &[]).await? else {
            return Ok(Vec::new());
        };
        let v: Value = serde_json::from_slice(&body).map_err(|source| Error::Decode { what, source })?;
        let list = match self.kind {
            TracingKind::Jaeger => v.get("services"),
            TracingKind::JaegerV1 => v.get("data"),
            TracingKind::Zipkin => Some(&v),
            TracingKind::Tempo => v.get("tagValues"),
        };
        Ok(list
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default())
    }

    /// Jaeger api_v3 only: the operations of `service` as (name, span kind).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for another backend kind, otherwise as
    /// [`TracingClient::find_traces`].
    pub async fn operations(&self, service: &str) -> Result<Vec<(String, String)>> {
        if self.kind != TracingKind::Jaeger {
            return Err(Error::invalid(
                "tracing_kind",
                "operations are read from Jaeger api_v3 only",
            ));
        }
        let Some(body) = self
            .get("api/v3/operations", &[("service", service.to_owned())])
            .await?
        else {
            return Ok(Vec::new());
        };
        let v: Value = serde_json::from_slice(&body).map_err(|source| Error::Decode {
            what: "Jaeger api_v3 operations",
            source,
        })?;
        let ops = v
            .get("operations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(ops
            .iter()
            .filter_map(|o| {
                let name = o.get("name")?.as_str()?.to_owned();
                let kind = o.get("spanKind").and_then(Value::as_str).unwrap_or("").to_owned();
                Some((name, kind))
            })
            .collect())
    }

    /// GETs `path`; `Ok(None)` on 404, the body on 2xx, [`Error::Http`] otherwise.
    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Option<Vec<u8>>> {
        let url = self
            .base
            .join(path)
            .map_err(|e| Error::invalid("url", e.to_string()))?;
        tracing::debug!(endpoint = %url, kind = ?self.kind, "tracing query");
        let transport = |source| Error::Transport {
            service: self.kind.name(),
            endpoint: url.to_string(),
            source,
        };
        let mut request = self.http.get(url.clone()).query(params);
        if let Some(basic) = &self.basic {
            request = basic.apply(request);
        }
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = crate::body::read_capped(response, self.kind.name(), url.as_str()).await?;
        match status {
            200..=299 => Ok(Some(body.to_vec())),
            404 => Ok(None),
            _ => Err(Error::Http {
                service: self.kind.name(),
                http_status: status,
                message: match self.kind {
                    TracingKind::Jaeger => v3_error_message(&body),
                    _ => snippet(&String::from_utf8_lossy(&body)),
                },
            }),
        }
    }
}

/// A body parser of one backend.
type Parser = fn(&[u8]) -> Result<Vec<Trace>>;

fn unix_micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros()
}

/// RFC 3339 in UTC with nanoseconds, as Jaeger's api_v3 wants (`2024-01-01T00:00:00.000000000Z`).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(1_704_067_200, 5);
        assert_eq!(rfc3339(t), "2024-01-01T00:00:00.000000005Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn missing_url_names_the_variable() {
        let e = TracingClient::builder().build().unwrap_err();
        assert!(e.to_string().contains("TRACING_URL"));
    }
}
