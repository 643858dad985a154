//! Deterministic synthetic traffic for all three meshes as an OpenMetrics text: counters that
//! grow by fixed amounts every 15 s for 30 minutes, and histograms that grow by fixed per-bucket
//! amounts. Rates are therefore `increment / 15` per second, and every quantile is known.

use mesh_testkit::{Kind, OpenMetrics, Timeline};

/// First sample, 2024-01-01T00:00:00Z (a 2 h block boundary).
pub(crate) const T0: u64 = 1_704_067_200;
/// Scrape step, seconds.
pub(crate) const STEP: u64 = 15;
/// Number of steps: 30 minutes.
pub(crate) const STEPS: u64 = 120;
/// Where the tests evaluate: the last sample (a closed `[t-300s, t]` window holds 21 samples).
pub(crate) const EVAL: u64 = T0 + STEP * STEPS;

pub(crate) const ENVOY_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0,
    300000.0, 600000.0, 1800000.0, 3600000.0,
];
pub(crate) const LINKERD_BUCKETS: [f64; 25] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 1000.0, 2000.0,
    3000.0, 4000.0, 5000.0, 10000.0, 20000.0, 30000.0, 40000.0, 50000.0,
];

type LabelSet = Vec<(&'static str, &'static str)>;

fn with(base: &LabelSet, extra: &[(&'static str, &'static str)]) -> LabelSet {
    let mut l = base.clone();
    l.extend_from_slice(extra);
    l
}

/// `(labels, increment per step)` series of one counter family.
fn counter(out: &mut OpenMetrics, family: &str, sample: &str, kind: Kind, series: &[(LabelSet, f64)]) {
    out.family(family, kind);
    for (l, inc) in series {
        let inc = *inc;
        out.series(sample, l, move |i| inc * i as f64);
    }
}

/// `(labels, [(upper bound, observations per step in this bucket alone)])` series of one
/// histogram family; `f64::INFINITY` for observations above every bound. Every observation
/// counts 10 ms in `_sum`.
fn histogram(out: &mut OpenMetrics, family: &str, bounds: &[f64], series: &[(LabelSet, Vec<(f64, f64)>)]) {
    out.family(family, Kind::Histogram);
    for (l, per_bucket) in series {
        out.histogram_series(
            family,
            bounds,
            l,
            |i| per_bucket.iter().map(|(ub, n)| (*ub, n * i as f64)).collect(),
            10.0,
        );
    }
}

/// The whole data set.
pub(crate) fn openmetrics() -> String {
    let mut out = OpenMetrics::new(Timeline::new(T0, STEP, STEPS));
    istio(&mut out);
    linkerd(&mut out);
    consul(&mut out);
    out.finish()
}

fn istio_edge(
    src_ns: &'static str,
    src: &'static str,
    dst_ns: &'static str,
    dst: &'static str,
    svc: &'static str,
    version: &'static str,
) -> LabelSet {
    vec![
        ("reporter", "destination"),
        ("source_workload_namespace", src_ns),
        ("source_workload", src),
        ("destination_workload_namespace", dst_ns),
        ("destination_workload", dst),
        ("destination_service_namespace", dst_ns),
        ("destination_service_name", svc),
        ("destination_version", version),
    ]
}

fn istio(out: &mut OpenMetrics) {
    let r1 = istio_edge(
        "bookinfo",
        "productpage-v1",
        "bookinfo",
        "reviews-v1",
        "reviews",
        "v1",
    );
    let r2 = istio_edge(
        "bookinfo",
        "productpage-v1",
        "bookinfo",
        "reviews-v2",
        "reviews",
        "v2",
    );
    let ext = istio_edge(
        "unknown",
        "unknown",
        "bookinfo",
        "productpage-v1",
        "productpage",
        "v1",
    );
    let web = istio_edge("web", "web-v1", "bookinfo", "productpage-v1", "productpage", "v1");
    let ratings = istio_edge(
        "bookinfo",
        "reviews-v2",
        "bookinfo",
        "ratings-v1",
        "ratings",
        "v1",
    );
    let mysql = istio_edge("bookinfo", "reviews-v1", "db", "mysql-v1", "mysql", "v1");
    let mut source_side = r1.clone();
    source_side[0] = ("reporter", "source");
    let code = |l: &LabelSet, csp: &'static str, code: &'static str, inc: f64| {
        (
            with(l, &[("connection_security_policy", csp), ("response_code", code)]),
            inc,
        )
    };
    counter(
        out,
        "istio_requests",
        "istio_requests_total",
        Kind::Counter,
        &[
            code(&r1, "mutual_tls", "200", 90.0),
            code(&r1, "mutual_tls", "404", 9.0),
            code(&r1, "mutual_tls", "503", 4.0),
            code(&r1, "mutual_tls", "0", 2.0),
            code(&r2, "none", "200", 30.0),
            code(&r2, "none", "500", 3.0),
            code(&source_side, "unknown", "200", 90.0),
            code(&ext, "none", "200", 60.0),
            code(&web, "mutual_tls", "200", 15.0),
            code(&ratings, "mutual_tls", "200", 27.0),
            code(&ratings, "mutual_tls", "503", 3.0),
            code(&mysql, "mutual_tls", "200", 3.0),
        ],
    );
    histogram(
        out,
        "istio_request_duration_milliseconds",
        &ENVOY_BUCKETS,
        &[
            (
                r1,
                vec![
                    (5.0, 10.0),
                    (10.0, 20.0),
                    (25.0, 30.0),
                    (50.0, 20.0),
                    (100.0, 15.0),
                    (250.0, 6.0),
                    (500.0, 3.0),
                    (1000.0, 1.0),
                ],
            ),
            (
                r2,
                vec![
                    (25.0, 5.0),
                    (50.0, 10.0),
                    (100.0, 10.0),
                    (250.0, 5.0),
                    (2500.0, 2.0),
                    (f64::INFINITY, 1.0),
                ],
            ),
            (ratings, vec![(10.0, 20.0), (50.0, 9.0), (100.0, 1.0)]),
            (source_side, vec![(0.5, 105.0)]),
        ],
    );
}

fn linkerd(out: &mut OpenMetrics) {
    let inbound = |deploy: &'static str, version: &'static str| -> LabelSet {
        vec![
            ("direction", "inbound"),
            ("namespace", "shop"),
            ("app", "cart"),
            ("deployment", deploy),
            ("version", version),
            ("tls", "true"),
        ]
    };
    let outbound = |ns: &'static str,
                    from: &'static str,
                    dst_ns: &'static str,
                    to: &'static str,
                    tls: &'static str|
     -> LabelSet {
        vec![
            ("direction", "outbound"),
            ("namespace", ns),
            ("deployment", from),
            ("dst_namespace", dst_ns),
            ("dst_deployment", to),
            ("tls", tls),
        ]
    };
    let (v1, v2) = (inbound("cart-v1", "v1"), inbound("cart-v2", "v2"));
    let web_v1 = outbound("shop", "web", "shop", "cart-v1", "true");
    let class = |l: &LabelSet, c: &'static str, s: &'static str, inc: f64| {
        (with(l, &[("classification", c), ("status_code", s)]), inc)
    };
    counter(
        out,
        "response",
        "response_total",
        Kind::Counter,
        &[
            class(&v1, "success", "200", 60.0),
            class(&v1, "success", "404", 6.0),
            class(&v1, "failure", "500", 3.0),
            class(&v1, "failure", "", 1.0),
            class(&v2, "success", "200", 27.0),
            class(&v2, "failure", "503", 3.0),
            class(&web_v1, "success", "200", 45.0),
            class(&web_v1, "failure", "500", 5.0),
            class(
                &outbound("shop", "web", "shop", "cart-v2", "true"),
                "success",
                "200",
                15.0,
            ),
            class(
                &outbound("shop", "legacy", "shop", "cart-v1", "no_identity"),
                "success",
                "200",
                15.0,
            ),
            class(
                &outbound("shop", "cart-v1", "billing", "payments", "true"),
                "success",
                "200",
                15.0,
            ),
            class(
                &outbound("ops", "probe", "shop", "cart-v2", "true"),
                "success",
                "200",
                15.0,
            ),
        ],
    );
    histogram(
        out,
        "response_latency_ms",
        &LINKERD_BUCKETS,
        &[
            (
                v1,
                vec![
                    (5.0, 20.0),
                    (10.0, 20.0),
                    (50.0, 20.0),
                    (100.0, 5.0),
                    (500.0, 4.0),
                    (1000.0, 1.0),
                ],
            ),
            (
                v2,
                vec![(10.0, 10.0), (20.0, 10.0), (200.0, 9.0), (f64::INFINITY, 1.0)],
            ),
            (web_v1, vec![(10.0, 25.0), (100.0, 20.0), (1000.0, 5.0)]),
        ],
    );
}

fn consul(out: &mut OpenMetrics) {
    let up = |src: &'static str, dst: &'static str, subset: &'static str| -> LabelSet {
        vec![
            ("local_cluster", src),
            ("consul_source_service", src),
            ("consul_source_namespace", "default"),
            ("consul_destination_service", dst),
            ("consul_destination_namespace", "default"),
            ("consul_destination_service_subset", subset),
        ]
    };
    let (w1, w2, b1, db) = (
        up("web", "api", "v1"),
        up("web", "api", "v2"),
        up("batch", "api", "v1"),
        up("api", "db", ""),
    );
    let class = |l: &LabelSet, c: &'static str, inc: f64| (with(l, &[("envoy_response_code_class", c)]), inc);
    counter(
        out,
        "envoy_cluster_upstream_rq_xx",
        "envoy_cluster_upstream_rq_xx",
        Kind::Unknown,
        &[
            class(&w1, "2", 54.0),
            class(&w1, "4", 3.0),
            class(&w1, "5", 3.0),
            class(&w2, "2", 14.0),
            class(&w2, "5", 1.0),
            class(&b1, "2", 15.0),
            class(&db, "2", 30.0),
        ],
    );
    histogram(
        out,
        "envoy_cluster_upstream_rq_time",
        &ENVOY_BUCKETS,
        &[
            (w1, vec![(5.0, 30.0), (25.0, 20.0), (100.0, 9.0), (1000.0, 1.0)]),
            (w2, vec![(10.0, 10.0), (50.0, 5.0)]),
            (b1, vec![(50.0, 15.0)]),
        ],
    );
}
