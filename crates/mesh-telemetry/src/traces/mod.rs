//! Traces from Jaeger, Zipkin or Tempo, normalized into [`mesh_core::Trace`]/[`mesh_core::Span`]:
//! lower-case hex ids (left-padded; Tempo's base64 decoded), parent links, service, operation,
//! start and duration in nanoseconds, the error flag, the HTTP status and the other tags.

mod client;
mod ids;
mod jaeger;
mod model;
mod otlp;
mod tempo;
mod zipkin;

pub use client::{TRACING_KIND_ENV, TRACING_URL_ENV, TraceQuery, TracingBuilder, TracingClient, TracingKind};
pub use ids::{span_id, trace_id};
pub use jaeger::{TraceSummary, parse_jaeger_v1, parse_jaeger_v3, parse_jaeger_v3_summaries};
pub use tempo::{parse_tempo_search, parse_tempo_trace};
pub use zipkin::parse_zipkin;
