//! Observability I/O for every mesh: request metrics from Prometheus, traces from Jaeger, Zipkin
//! or Tempo, and the service graph.
//!
//! # Overview
//! - [`prometheus::PrometheusClient`]: instant and range queries, the error envelope, timeouts;
//!   configured from `PROMETHEUS_URL` or a builder.
//! - [`promql::Dialect`]: the PromQL of Istio, Linkerd and Consul, with every label value escaped.
//! - [`metrics::service_metrics`]: one batched query per metric family, quantiles computed with
//!   [`mesh_observe::histogram_quantile`] from the bucket rates.
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

mod error;
pub mod metrics;
pub mod prometheus;
pub mod promql;
pub mod traces;

pub use error::{Error, Result};
