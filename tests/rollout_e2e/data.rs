//! The backfilled data set (its layout is described at the top of `rollout_e2e.rs`) and the
//! shared Prometheus.

use std::{sync::OnceLock, time::Duration};

use mesh::telemetry::prometheus::PrometheusClient;
use mesh_testkit::{Kind, OpenMetrics, Prometheus, Timeline, accumulate};

/// First sample: 2024-01-01T00:00:00Z.
pub(crate) const T0: u64 = 1_704_067_200;
/// Scrape step, seconds.
const STEP: u64 = 15;
/// Where every rollout starts.
pub(crate) const START: u64 = T0 + 600;
/// The rollout interval (and analysis window), seconds.
pub(crate) const INTERVAL: u64 = 60;
/// The canary weight of each stage.
pub(crate) const WEIGHTS: [u8; 4] = [10, 30, 50, 80];
/// Data runs this many intervals past `START`.
const INTERVALS_OF_DATA: u64 = 12;
/// Envoy's default histogram bounds, ms (Istio and Consul sidecars alike).
const ENVOY_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// How a service's traffic behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Profile {
    Healthy,
    ErrorsAtStage3,
    Quiet,
}

const SERVICES: [(&str, Profile); 5] = [
    ("healthy", Profile::Healthy),
    ("failing", Profile::ErrorsAtStage3),
    ("quiet", Profile::Quiet),
    ("resumed", Profile::Healthy),
    ("contested", Profile::Healthy),
];

/// Requests in one 15 s step of one version: `(ok, errors)`.
fn per_step(profile: Profile, version: &str, stage: Option<usize>) -> (f64, f64) {
    let canary = version == "v2";
    if profile == Profile::Quiet {
        return (if canary { 2.0 } else { 18.0 }, 0.0);
    }
    // Before the rollout the canary gets nothing; after the last stage it gets everything.
    let w = stage.map_or(0.0, |k| f64::from(WEIGHTS.get(k).copied().unwrap_or(100)));
    let total = 15.0 * if canary { w } else { 100.0 - w };
    let error_share = if canary && profile == Profile::ErrorsAtStage3 && stage == Some(2) {
        0.2
    } else {
        0.02
    };
    let errors = total * error_share;
    (total - errors, errors)
}

/// The stage whose interval holds the increment between samples `i - 1` and `i`.
fn stage_of_increment(i: u64) -> Option<usize> {
    let from = T0 + (i - 1) * STEP;
    (from >= START).then(|| ((from - START) / INTERVAL) as usize)
}

/// `(ok, errors)` counter values at sample `i`.
fn counts(profile: Profile, version: &'static str) -> (impl Fn(u64) -> f64, impl Fn(u64) -> f64) {
    (
        accumulate(move |i| per_step(profile, version, stage_of_increment(i)).0),
        accumulate(move |i| per_step(profile, version, stage_of_increment(i)).1),
    )
}

/// 60 % of the requests in the 25 ms bucket, 30 % in 50 ms, 10 % in 100 ms (p99 = 95 ms).
fn latency(profile: Profile, version: &'static str) -> impl Fn(u64) -> Vec<(f64, f64)> {
    let (ok, err) = counts(profile, version);
    move |i| {
        let n = ok(i) + err(i);
        vec![(25.0, 0.6 * n), (50.0, 0.3 * n), (100.0, 0.1 * n)]
    }
}

fn istio_labels<'a>(
    service: &'a str,
    version: &'a str,
    reporter: &'a str,
    workload: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mtls = if reporter == "destination" {
        "mutual_tls"
    } else {
        "unknown"
    };
    vec![
        ("reporter", reporter),
        ("source_workload", "frontend-v1"),
        ("source_workload_namespace", "prod"),
        ("destination_workload", workload),
        ("destination_workload_namespace", "prod"),
        ("destination_service_namespace", "prod"),
        ("destination_service_name", service),
        ("destination_version", version),
        ("connection_security_policy", mtls),
    ]
}

fn istio(om: &mut OpenMetrics) {
    om.family("istio_requests", Kind::Counter);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            let workload = format!("{service}-{version}");
            let (ok, err) = counts(profile, version);
            // Each request is seen by both sidecars; only the destination side may be read.
            for reporter in ["destination", "source"] {
                let base = istio_labels(service, version, reporter, &workload);
                let with_code = |code| {
                    let mut l = base.clone();
                    l.push(("response_code", code));
                    l
                };
                om.series("istio_requests_total", &with_code("200"), &ok);
                om.series("istio_requests_total", &with_code("503"), &err);
            }
        }
    }
    om.family("istio_request_duration_milliseconds", Kind::Histogram);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            let workload = format!("{service}-{version}");
            om.histogram_series(
                "istio_request_duration_milliseconds",
                &ENVOY_BUCKETS,
                &istio_labels(service, version, "destination", &workload),
                latency(profile, version),
                30.0,
            );
        }
    }
}

fn consul_labels<'a>(service: &'a str, subset: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("local_cluster", "frontend"),
        ("consul_source_service", "frontend"),
        ("consul_source_namespace", "default"),
        ("consul_destination_service", service),
        ("consul_destination_namespace", "default"),
        ("consul_destination_service_subset", subset),
    ]
}

fn consul(om: &mut OpenMetrics) {
    // Envoy's counters carry no `_total`: declared `unknown`.
    om.family("envoy_cluster_upstream_rq_xx", Kind::Unknown);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            let (ok, err) = counts(profile, version);
            let classes: [(&str, &dyn Fn(u64) -> f64); 2] = [("2", &ok), ("5", &err)];
            for (class, values) in classes {
                let mut l = consul_labels(service, version);
                l.push(("envoy_response_code_class", class));
                om.series("envoy_cluster_upstream_rq_xx", &l, values);
            }
        }
    }
    om.family("envoy_cluster_upstream_rq_time", Kind::Histogram);
    for (service, profile) in SERVICES {
        for version in ["v1", "v2"] {
            om.histogram_series(
                "envoy_cluster_upstream_rq_time",
                &ENVOY_BUCKETS,
                &consul_labels(service, version),
                latency(profile, version),
                30.0,
            );
        }
    }
}

fn openmetrics() -> String {
    let steps = (START - T0 + INTERVALS_OF_DATA * INTERVAL) / STEP;
    let mut om = OpenMetrics::new(Timeline::new(T0, STEP, steps));
    istio(&mut om);
    consul(&mut om);
    om.finish()
}

/// The Prometheus shared by every test of the file (stopped by mesh-testkit's watchdog when the
/// test process exits). `None` when `MESH_SKIP_PROMETHEUS=1`.
pub(crate) fn prometheus() -> Option<&'static Prometheus> {
    static SERVER: OnceLock<Option<Prometheus>> = OnceLock::new();
    SERVER.get_or_init(|| Prometheus::start(&openmetrics())).as_ref()
}

/// A client of its own, so that a test counts only its own queries.
pub(crate) fn client(prom: &Prometheus) -> PrometheusClient {
    PrometheusClient::builder()
        .url(prom.url())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
