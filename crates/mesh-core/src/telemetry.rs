//! The observability operations: what they return (metrics, traces and the service graph), and
//! [`Observability`], the contract of whatever answers them.

use std::{
    collections::BTreeMap,
    future::Future,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

use crate::{BoxFuture, Error, Namespace, Result, ServiceId, Version};

/// A closed time window `[start, end]`, serialized as Unix milliseconds.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use mesh_core::TimeRange;
/// let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let r = TimeRange::new(start, start + Duration::from_secs(300)).unwrap();
/// assert_eq!(r.duration(), Duration::from_secs(300));
/// assert!(TimeRange::new(start, start).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTimeRange", into = "RawTimeRange")]
pub struct TimeRange {
    start: SystemTime,
    end: SystemTime,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeRange {
    start_unix_ms: u64,
    end_unix_ms: u64,
}

impl TimeRange {
    /// Validates `start < end`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `time_range` when the window is empty or reversed.
    pub fn new(start: SystemTime, end: SystemTime) -> Result<Self, Error> {
        if end <= start {
            return Err(Error::invalid("time_range", "end must be after start"));
        }
        Ok(Self { start, end })
    }

    /// The window ending at `end` and lasting `length`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `length` is zero or reaches before the epoch.
    pub fn ending_at(end: SystemTime, length: Duration) -> Result<Self, Error> {
        let start = end
            .checked_sub(length)
            .ok_or_else(|| Error::invalid("time_range", "starts before 1970"))?;
        Self::new(start, end)
    }

    /// The start.
    pub fn start(&self) -> SystemTime {
        self.start
    }

    /// The end.
    pub fn end(&self) -> SystemTime {
        self.end
    }

    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

impl From<TimeRange> for RawTimeRange {
    fn from(r: TimeRange) -> Self {
        Self {
            start_unix_ms: unix_ms(r.start),
            end_unix_ms: unix_ms(r.end),
        }
    }
}

impl TryFrom<RawTimeRange> for TimeRange {
    type Error = Error;
    fn try_from(r: RawTimeRange) -> Result<Self, Error> {
        Self::new(
            UNIX_EPOCH + Duration::from_millis(r.start_unix_ms),
            UNIX_EPOCH + Duration::from_millis(r.end_unix_ms),
        )
    }
}

/// Latency quantiles in milliseconds; `None` when there was no traffic to measure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyQuantiles {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
}

/// Request counts over a window, and what follows from them.
///
/// Counts are the raw material: the canary judgement needs the sample size, not only ratios.
/// "Error" means a 5xx or no response at all (proxy error, reset); 4xx responses are counted apart in
/// `client_errors` and are not errors unless the caller's SLI settings say so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TrafficSample {
    /// Requests in the window (an estimate from rates; may be fractional).
    pub requests: f64,
    /// Failed requests: 5xx or no response.
    pub errors: f64,
    /// 4xx responses.
    pub client_errors: f64,
    /// Requests per second.
    pub request_rate: f64,
    /// Latency quantiles.
    pub latency: LatencyQuantiles,
}

impl TrafficSample {
    /// `1 - errors/requests`, or `None` with no traffic.
    pub fn availability(&self) -> Option<f64> {
        self.error_rate().map(|e| 1.0 - e)
    }

    /// `errors/requests`, or `None` with no traffic.
    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| (self.errors / self.requests).clamp(0.0, 1.0))
    }
}

/// What `get_service_metrics` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceMetrics {
    /// The service measured.
    pub service: ServiceId,
    /// The window measured.
    pub range: TimeRange,
    /// All versions together.
    pub overall: TrafficSample,
    /// Each version alone.
    #[serde(default)]
    pub by_version: BTreeMap<Version, TrafficSample>,
}

/// One span, normalized from Jaeger, Zipkin or Tempo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// 16 lower-case hex digits.
    pub span_id: String,
    /// The parent span, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The service that emitted the span.
    pub service: String,
    /// The operation name.
    pub operation: String,
    /// Start, Unix nanoseconds.
    pub start_unix_nanos: u64,
    /// Duration in nanoseconds.
    pub duration_nanos: u64,
    /// True when the span recorded an error.
    pub error: bool,
    /// The HTTP status, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Other tags and attributes, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// A trace: spans sharing a trace id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// The spans, in start order.
    pub spans: Vec<Span>,
}

/// What a graph node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A workload (deployment, Consul service instance set).
    Workload,
    /// A service.
    Service,
    /// Something outside the mesh.
    External,
}

/// A node of the service graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphNode {
    /// A stable id, `<kind>:<namespace>/<name>[:<version>]`.
    pub id: String,
    /// What it is.
    pub kind: NodeKind,
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A directed edge: traffic from `source` to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphEdge {
    /// The calling node's id.
    pub source: String,
    /// The called node's id.
    pub target: String,
    /// Requests per second.
    pub rps: f64,
    /// Share of failed requests, `None` with no traffic.
    pub error_rate: Option<f64>,
    /// 99th percentile latency in ms, when known.
    pub p99_ms: Option<f64>,
    /// True when the traffic was mTLS; `None` when the mesh does not say.
    pub mtls: Option<bool>,
}

/// What `get_service_graph` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceGraph {
    /// The namespace inspected.
    pub namespace: Namespace,
    /// Nodes, sorted by id.
    pub nodes: Vec<GraphNode>,
    /// Edges, sorted by (source, target).
    pub edges: Vec<GraphEdge>,
}

/// Answers the three observability operations for one mesh: the contract of a telemetry source.
/// The real meshes' answers come from Prometheus and a tracing backend (`mesh-telemetry`, which
/// the `Mesh` handle holds); a backend that answers them itself (the in-memory mesh) hands this
/// out through [`MeshBackend::observability`](crate::MeshBackend::observability).
pub trait Observability: Send + Sync + 'static {
    /// Request metrics of a service over a window.
    fn get_service_metrics(
        &self,
        service: &ServiceId,
        range: TimeRange,
    ) -> impl Future<Output = Result<ServiceMetrics>> + Send;

    /// Up to `limit` recent traces through a service.
    fn get_service_traces(
        &self,
        service: &ServiceId,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Trace>>> + Send;

    /// The observed service graph of a namespace.
    fn get_service_graph(&self, namespace: &Namespace) -> impl Future<Output = Result<ServiceGraph>> + Send;
}

/// The object-safe form of [`Observability`]. Every `T: Observability` implements it.
pub trait DynObservability: Send + Sync + 'static {
    /// See [`Observability::get_service_metrics`].
    fn metrics_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>>;
    /// See [`Observability::get_service_traces`].
    fn traces_dyn<'a>(&'a self, service: &'a ServiceId, limit: usize) -> BoxFuture<'a, Result<Vec<Trace>>>;
    /// See [`Observability::get_service_graph`].
    fn graph_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<ServiceGraph>>;
}

impl<T: Observability> DynObservability for T {
    fn metrics_dyn<'a>(
        &'a self,
        service: &'a ServiceId,
        range: TimeRange,
    ) -> BoxFuture<'a, Result<ServiceMetrics>> {
        Box::pin(self.get_service_metrics(service, range))
    }
    fn traces_dyn<'a>(&'a self, service: &'a ServiceId, limit: usize) -> BoxFuture<'a, Result<Vec<Trace>>> {
        Box::pin(self.get_service_traces(service, limit))
    }
    fn graph_dyn<'a>(&'a self, namespace: &'a Namespace) -> BoxFuture<'a, Result<ServiceGraph>> {
        Box::pin(self.get_service_graph(namespace))
    }
}
