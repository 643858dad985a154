//! Shared helpers of the integration tests. The real Prometheus and the OpenMetrics writer come
//! from `mesh-testkit`; this holds the data set.

pub(crate) mod traffic;
