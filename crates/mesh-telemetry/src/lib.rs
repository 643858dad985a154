//! Observability I/O for every mesh: request metrics from Prometheus, traces from Jaeger, Zipkin
//! or Tempo, and the service graph.
//!
//! # Overview
//! - [`prometheus::PrometheusClient`]: instant and range queries, the error envelope, timeouts;
//!   configured from `PROMETHEUS_URL` or a builder.
//! - [`promql::Dialect`]: the PromQL of Istio, Linkerd and Consul, with every label value escaped.
//! - [`metrics::service_metrics`]: one batched query per metric family, quantiles computed with
//!   [`mesh_observe::histogram_quantile`] from the bucket rates.
//! - [`traces::TracingClient`]: Jaeger api_v3 (and legacy `/api/traces`), Zipkin v2 and Tempo,
//!   normalized into [`mesh_core::Trace`]; configured from `TRACING_URL`/`TRACING_KIND`.
//! - [`graph`]: the service graph of a namespace from metrics (per-edge rps, error rate, p99 and
//!   mTLS) or from Kiali, rendered as JSON, DOT, Mermaid or SVG.
//! - [`Telemetry`]: the sources a backend holds, with `get_service_metrics`,
//!   `get_service_traces` and `get_service_graph`.
//!
//! ```
//! use std::time::Duration;
//! use mesh_core::MeshKind;
//! use mesh_telemetry::promql::Dialect;
//! let q = Dialect::for_mesh(MeshKind::Linkerd).service_latency_query("shop", "cart", Duration::from_secs(60));
//! assert!(q.starts_with("sum by (version, le) (rate(response_latency_ms_bucket{"));
//! ```
//!
//! # Features
//! None.

mod body;
mod credentials;
mod error;
pub mod graph;
pub mod metrics;
pub mod prometheus;
pub mod promql;
mod telemetry;
pub mod traces;

pub use error::{Error, Result};
pub use telemetry::{Telemetry, trace_service_name};

/// The README's example, compiled and run as a doctest so that it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
