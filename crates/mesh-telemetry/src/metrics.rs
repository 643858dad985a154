//! `get_service_metrics`: two batched queries (requests, latency buckets) turned into
//! [`ServiceMetrics`] per version and overall.

use std::collections::BTreeMap;

use mesh_core::{LatencyQuantiles, ServiceId, ServiceMetrics, TimeRange, TrafficSample, Version};
use mesh_observe::{Bucket, histogram_quantile};

use crate::{
    Result,
    prometheus::{PrometheusClient, VectorSample, parse_value},
    promql::{Dialect, Outcome},
};

/// The quantiles reported, in [`LatencyQuantiles`] order.
pub const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Reads the metrics of `service` over `range` with exactly two queries, evaluated at the end of
/// the range with a window as long as the range.
///
/// # Errors
/// Any error of the two queries ([`crate::Error::Prometheus`], [`crate::Error::Transport`], ...).
pub async fn service_metrics(
    client: &PrometheusClient,
    dialect: Dialect,
    service: &ServiceId,
    range: TimeRange,
) -> Result<ServiceMetrics> {
    let window = range.duration();
    let (ns, name) = (service.namespace.as_str(), service.name.as_str());
    let requests_q = dialect.service_requests_query(ns, name, window);
    let latency_q = dialect.service_latency_query(ns, name, window);
    let (requests, buckets) = futures_util::future::try_join(
        client.query_vector(&requests_q, range.end()),
        client.query_vector(&latency_q, range.end()),
    )
    .await?;
    let (overall, by_version) = aggregate(dialect, &requests, &buckets, window.as_secs_f64());
    Ok(ServiceMetrics {
        service: service.clone(),
        range,
        overall,
        by_version,
    })
}

/// Folds request-rate rows and bucket-rate rows into samples: overall and per version.
///
/// Rows whose version label is missing or not a valid version (`unknown`) count only in the
/// overall sample. `requests = rate * window_secs`. Quantiles come from
/// [`mesh_observe::histogram_quantile`] over the bucket rates, so a version's p99 equals
/// Prometheus' `histogram_quantile(0.99, <the same latency query>)` bit for bit.
///
/// ```
/// use mesh_core::MeshKind;
/// use mesh_telemetry::{metrics::aggregate, promql::Dialect, prometheus::{Sample, VectorSample}};
/// let row = |labels: &[(&str, &str)], value: f64| VectorSample {
///     metric: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
///     value: Sample { time: 0.0, value },
/// };
/// let requests = [
///     row(&[("destination_version", "v1"), ("response_code", "200")], 9.5),
///     row(&[("destination_version", "v1"), ("response_code", "503")], 0.5),
/// ];
/// let buckets = [
///     row(&[("destination_version", "v1"), ("le", "100")], 8.0),
///     row(&[("destination_version", "v1"), ("le", "250")], 9.9),
///     row(&[("destination_version", "v1"), ("le", "+Inf")], 10.0),
/// ];
/// let (overall, by_version) = aggregate(Dialect::for_mesh(MeshKind::Istio), &requests, &buckets, 300.0);
/// assert_eq!(overall.requests, 3000.0);
/// assert_eq!(overall.errors, 150.0);
/// assert_eq!(overall.availability(), Some(0.95));
/// assert_eq!(by_version[&"v1".parse().unwrap()].latency.p50_ms, Some(62.5));
/// assert_eq!(by_version[&"v1".parse().unwrap()].latency.p99_ms, Some(250.0));
/// ```
pub fn aggregate(
    dialect: Dialect,
    requests: &[VectorSample],
    buckets: &[VectorSample],
    window_secs: f64,
) -> (TrafficSample, BTreeMap<Version, TrafficSample>) {
    let version_of = |row: &VectorSample| {
        row.metric
            .get(dialect.version_label())
            .filter(|v| v.as_str() != "unknown")
            .and_then(|v| Version::new(v.as_str()).ok())
    };
    let mut overall = Counts::default();
    let mut per_version: BTreeMap<Version, Counts> = BTreeMap::new();
    for row in requests {
        let outcome = dialect.classify(&row.metric);
        overall.add(outcome, row.value.value);
        if let Some(v) = version_of(row) {
            per_version.entry(v).or_default().add(outcome, row.value.value);
        }
    }
    let mut all_buckets = Vec::new();
    let mut version_buckets: BTreeMap<Version, Vec<Bucket>> = BTreeMap::new();
    for row in buckets {
        let Some(le) = row.metric.get("le").and_then(|le| parse_value(le)) else {
            continue; // Prometheus skips buckets without a parseable `le` too.
        };
        let bucket = Bucket {
            upper_bound: le,
            count: row.value.value,
        };
        all_buckets.push(bucket);
        if let Some(v) = version_of(row) {
            version_buckets.entry(v).or_default().push(bucket);
        }
    }
    let mut versions: BTreeMap<Version, TrafficSample> = per_version
        .into_iter()
        .map(|(v, c)| {
            let latency = quantiles(version_buckets.get(&v).map_or(&[][..], Vec::as_slice));
            (v, c.sample(window_secs, latency))
        })
        .collect();
    // A version with latency data but no request rows still shows up, with its latency.
    for (v, b) in version_buckets {
        versions
            .entry(v)
            .or_insert_with(|| Counts::default().sample(window_secs, quantiles(&b)));
    }
    (overall.sample(window_secs, quantiles(&all_buckets)), versions)
}

/// p50/p90/p99 of bucket rates; `None` where Prometheus would answer NaN (no traffic).
///
/// ```
/// use mesh_observe::Bucket;
/// let q = mesh_telemetry::metrics::quantiles(&[Bucket::new(10.0, 0.0), Bucket::new(f64::INFINITY, 0.0)]);
/// assert_eq!(q.p99_ms, None);
/// ```
pub fn quantiles(buckets: &[Bucket]) -> LatencyQuantiles {
    let q = |q: f64| Some(histogram_quantile(q, buckets)).filter(|v| !v.is_nan());
    LatencyQuantiles {
        p50_ms: q(QUANTILES[0]),
        p90_ms: q(QUANTILES[1]),
        p99_ms: q(QUANTILES[2]),
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    rate: f64,
    error_rate: f64,
    client_error_rate: f64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome, rate: f64) {
        if rate.is_nan() {
            return;
        }
        self.rate += rate;
        match outcome {
            Outcome::Error => self.error_rate += rate,
            Outcome::ClientError => self.client_error_rate += rate,
            Outcome::Success => {}
        }
    }

    fn sample(self, window_secs: f64, latency: LatencyQuantiles) -> TrafficSample {
        TrafficSample {
            requests: self.rate * window_secs,
            errors: self.error_rate * window_secs,
            client_errors: self.client_error_rate * window_secs,
            request_rate: self.rate,
            latency,
        }
    }
}

#[cfg(test)]
mod tests {
    use mesh_core::MeshKind;

    use super::*;
    use crate::prometheus::Sample;

    fn v(s: &str) -> Version {
        Version::new(s).unwrap()
    }

    fn row(labels: &[(&str, &str)], value: f64) -> VectorSample {
        VectorSample {
            metric: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: Sample { time: 0.0, value },
        }
    }

    #[test]
    fn linkerd_split_by_version_with_client_errors() {
        let d = Dialect::for_mesh(MeshKind::Linkerd);
        let requests = [
            row(
                &[
                    ("version", "v1"),
                    ("classification", "success"),
                    ("status_code", "200"),
                ],
                3.0,
            ),
            row(
                &[
                    ("version", "v1"),
                    ("classification", "success"),
                    ("status_code", "404"),
                ],
                1.0,
            ),
            row(
                &[
                    ("version", "v2"),
                    ("classification", "failure"),
                    ("status_code", "500"),
                ],
                0.5,
            ),
            row(
                &[
                    ("version", "v2"),
                    ("classification", "success"),
                    ("status_code", "200"),
                ],
                0.5,
            ),
            row(&[("classification", "failure"), ("status_code", "")], 0.25),
        ];
        let (all, by) = aggregate(d, &requests, &[], 60.0);
        assert_eq!(all.request_rate, 5.25);
        assert_eq!(all.errors, 45.0);
        assert_eq!(all.client_errors, 60.0);
        assert_eq!(by.len(), 2);
        assert_eq!(by[&v("v1")].availability(), Some(1.0));
        assert_eq!(by[&v("v2")].error_rate(), Some(0.5));
        assert_eq!(by[&v("v1")].latency, LatencyQuantiles::default());
    }

    #[test]
    fn unknown_version_counts_only_overall_and_bad_le_is_skipped() {
        let d = Dialect::for_mesh(MeshKind::Istio);
        let requests = [row(
            &[("destination_version", "unknown"), ("response_code", "200")],
            2.0,
        )];
        let buckets = [
            row(&[("destination_version", "v1"), ("le", "10")], 1.0),
            row(&[("destination_version", "v1"), ("le", "+Inf")], 2.0),
            row(&[("destination_version", "v1"), ("le", "x")], 9.0),
        ];
        let (all, by) = aggregate(d, &requests, &buckets, 10.0);
        assert_eq!(all.requests, 20.0);
        assert_eq!(by.len(), 1);
        assert_eq!(by[&v("v1")].requests, 0.0);
        assert_eq!(by[&v("v1")].latency.p50_ms, Some(10.0));
        assert_eq!(all.latency.p50_ms, Some(10.0));
    }

    #[test]
    fn empty_result_is_zero_traffic() {
        let (all, by) = aggregate(Dialect::for_mesh(MeshKind::Consul), &[], &[], 300.0);
        assert_eq!(all.requests, 0.0);
        assert_eq!(all.availability(), None);
        assert!(by.is_empty());
    }
}
