//! The Prometheus HTTP API: a client and the response model.

mod client;
mod response;

pub(crate) use client::parse_base_url;
pub use client::{PROMETHEUS_URL_ENV, PrometheusBuilder, PrometheusClient};
pub use response::{
    Labels, QueryResponse, QueryResult, RangeSeries, Sample, VectorSample, parse_response, parse_value,
};
