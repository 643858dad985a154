//! Against a real Prometheus 2.42 (Debian's `prometheus`), over a TSDB backfilled by `promtool`
//! with deterministic traffic for Istio, Linkerd and Consul (`support/traffic.rs`, written and
//! served with `mesh-testkit`).
//!
//! Checks exact rates and counts, availabilities, per-version splits, that every quantile equals
//! what the same Prometheus answers for `histogram_quantile` over the same data, the graph edges
//! with their mTLS flags, that each call sends one query per metric family, and that a hostile
//! label value cannot change a query. Without the binaries the test fails with what to install,
//! unless `MESH_SKIP_PROMETHEUS=1`.

use crate::support;

use std::{
    collections::BTreeMap,
    time::{Duration, UNIX_EPOCH},
};

use mesh_core::{
    GraphEdge, MeshKind, Namespace, ServiceGraph, ServiceMetrics, TimeRange, TrafficSample, Version,
};
use mesh_telemetry::{
    Error, Telemetry,
    prometheus::{PrometheusClient, VectorSample},
    promql::{Dialect, Selector},
};
use mesh_testkit::Prometheus;
use support::traffic::{EVAL, openmetrics};

const WINDOW: Duration = Duration::from_secs(300);

fn at(secs: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn range() -> TimeRange {
    TimeRange::ending_at(at(EVAL), WINDOW).unwrap()
}

fn v(s: &str) -> Version {
    Version::new(s).unwrap()
}

/// `a` equals `b` within `rel` relative error (both finite).
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

#[track_caller]
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        close(actual, expected, 1e-9),
        "{what}: got {actual}, expected {expected}"
    );
}

/// Checks rate, counts and client errors of a sample against per-step increments (15 s steps).
#[track_caller]
fn assert_traffic(s: &TrafficSample, per_step: f64, errors_per_step: f64, client_per_step: f64, what: &str) {
    let secs = WINDOW.as_secs_f64();
    assert_close(s.request_rate, per_step / 15.0, &format!("{what} rate"));
    assert_close(s.requests, per_step / 15.0 * secs, &format!("{what} requests"));
    assert_close(s.errors, errors_per_step / 15.0 * secs, &format!("{what} errors"));
    assert_close(
        s.client_errors,
        client_per_step / 15.0 * secs,
        &format!("{what} client errors"),
    );
    assert_close(
        s.availability().unwrap(),
        1.0 - errors_per_step / per_step,
        &format!("{what} availability"),
    );
}

async fn vector(client: &PrometheusClient, q: &str) -> Vec<VectorSample> {
    client.query_vector(q, at(EVAL)).await.unwrap()
}

/// Every quantile of every version is bit-identical to Prometheus' `histogram_quantile` over the
/// same bucket-rate query; the overall one (summed in a different order) is within 1e-12.
async fn assert_quantiles_match_prometheus(client: &PrometheusClient, mesh: MeshKind, m: &ServiceMetrics) {
    let d = Dialect::for_mesh(mesh);
    let latency = d.service_latency_query(m.service.namespace.as_str(), m.service.name.as_str(), WINDOW);
    for (q, pick) in [
        (0.5, (|l: &mesh_core::LatencyQuantiles| l.p50_ms) as fn(&_) -> _),
        (0.9, |l| l.p90_ms),
        (0.99, |l| l.p99_ms),
    ] {
        let rows = vector(client, &format!("histogram_quantile({q}, {latency})")).await;
        assert_eq!(
            rows.len(),
            m.by_version.len(),
            "{mesh}: one quantile row per version"
        );
        for row in rows {
            let version = v(&row.metric[d.version_label()]);
            let ours = pick(&m.by_version[&version].latency).unwrap();
            assert_eq!(
                ours.to_bits(),
                row.value.value.to_bits(),
                "{mesh} {version} p{q}: ours {ours}, Prometheus {}",
                row.value.value
            );
        }
        let overall = vector(
            client,
            &format!("histogram_quantile({q}, sum by (le) ({latency}))"),
        )
        .await;
        let ours = pick(&m.overall.latency).unwrap();
        assert!(
            close(ours, overall[0].value.value, 1e-12),
            "{mesh} overall p{q}: ours {ours}, Prometheus {}",
            overall[0].value.value
        );
    }
}

/// The per-version request rates equal Prometheus' own `sum by (version)` of the same rows.
async fn assert_rates_match_prometheus(client: &PrometheusClient, mesh: MeshKind, m: &ServiceMetrics) {
    let d = Dialect::for_mesh(mesh);
    let q = d.service_requests_query(m.service.namespace.as_str(), m.service.name.as_str(), WINDOW);
    let rows = vector(client, &format!("sum by ({}) ({q})", d.version_label())).await;
    assert_eq!(rows.len(), m.by_version.len());
    for row in rows {
        let version = v(&row.metric[d.version_label()]);
        let ours = m.by_version[&version].request_rate;
        assert!(
            close(ours, row.value.value, 1e-12),
            "{mesh} {version}: {ours} vs {}",
            row.value.value
        );
    }
}

async fn metrics_checked(t: &Telemetry, mesh: MeshKind, service: &str) -> ServiceMetrics {
    let client = t.prometheus.as_ref().unwrap();
    let before = client.queries_sent();
    let m = t
        .get_service_metrics(mesh, &service.parse().unwrap(), range())
        .await
        .unwrap();
    assert_eq!(
        client.queries_sent() - before,
        2,
        "{mesh}: one query per metric family"
    );
    assert_rates_match_prometheus(client, mesh, &m).await;
    assert_quantiles_match_prometheus(client, mesh, &m).await;
    m
}

fn edges(g: &ServiceGraph) -> BTreeMap<(&str, &str), &GraphEdge> {
    g.edges
        .iter()
        .map(|e| ((e.source.as_str(), e.target.as_str()), e))
        .collect()
}

/// Every edge p99 is bit-identical to Prometheus' `histogram_quantile(0.99, <graph latency query>)`.
async fn assert_graph_p99_matches_prometheus(client: &PrometheusClient, mesh: MeshKind, g: &ServiceGraph) {
    let d = Dialect::for_mesh(mesh);
    let rows = vector(
        client,
        &format!(
            "histogram_quantile(0.99, {})",
            d.graph_latency_query(g.namespace.as_str(), WINDOW)
        ),
    )
    .await;
    assert!(!rows.is_empty());
    let e = d.edge_labels();
    for row in rows {
        let id = |ns: &str, name: &str| {
            let kind = if mesh == MeshKind::Consul {
                "service"
            } else {
                "workload"
            };
            format!("{kind}:{}/{}", row.metric[ns], row.metric[name])
        };
        let (s, t) = (
            id(e.source_namespace, e.source_name),
            id(e.target_namespace, e.target_name),
        );
        let edge = g.edges.iter().find(|x| x.source == s && x.target == t).unwrap();
        assert_eq!(
            edge.p99_ms.unwrap().to_bits(),
            row.value.value.to_bits(),
            "{mesh} {s} -> {t}"
        );
    }
}

async fn graph_checked(t: &Telemetry, mesh: MeshKind, ns: &str) -> ServiceGraph {
    let client = t.prometheus.as_ref().unwrap();
    let before = client.queries_sent();
    let g = t
        .get_service_graph_in(mesh, &Namespace::new(ns).unwrap(), range())
        .await
        .unwrap();
    assert_eq!(
        client.queries_sent() - before,
        2,
        "{mesh}: one query per metric family"
    );
    assert_graph_p99_matches_prometheus(client, mesh, &g).await;
    g
}

#[track_caller]
fn assert_edge(
    e: &BTreeMap<(&str, &str), &GraphEdge>,
    from: &str,
    to: &str,
    per_step: f64,
    err: f64,
    mtls: Option<bool>,
) {
    let edge = e
        .get(&(from, to))
        .unwrap_or_else(|| panic!("no edge {from} -> {to}: {:?}", e.keys()));
    assert_close(edge.rps, per_step / 15.0, &format!("{from} -> {to} rps"));
    assert_close(
        edge.error_rate.unwrap(),
        err,
        &format!("{from} -> {to} error rate"),
    );
    assert_eq!(edge.mtls, mtls, "{from} -> {to} mTLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_all_meshes() {
    let Some(server) = Prometheus::start(&openmetrics()) else {
        return;
    };
    let client = PrometheusClient::builder()
        .url(server.url())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let t = Telemetry {
        prometheus: Some(client.clone()),
        ..Telemetry::default()
    };

    // ---- Istio: reporter="destination" only; response code 0 is an error, 404 a client error.
    let m = metrics_checked(&t, MeshKind::Istio, "bookinfo/reviews").await;
    assert_eq!(m.by_version.len(), 2);
    assert_traffic(&m.by_version[&v("v1")], 105.0, 6.0, 9.0, "istio v1");
    assert_traffic(&m.by_version[&v("v2")], 33.0, 3.0, 0.0, "istio v2");
    assert_traffic(&m.overall, 138.0, 9.0, 9.0, "istio overall");
    let l1 = m.by_version[&v("v1")].latency;
    assert_close(l1.p50_ms.unwrap(), 21.25, "istio v1 p50");
    assert_close(l1.p90_ms.unwrap(), 50.0 + 50.0 * 14.5 / 15.0, "istio v1 p90");
    assert_close(l1.p99_ms.unwrap(), 250.0 + 250.0 * 2.95 / 3.0, "istio v1 p99");
    assert_close(
        m.by_version[&v("v2")].latency.p50_ms.unwrap(),
        57.5,
        "istio v2 p50",
    );
    // Rank in the +Inf bucket: the highest finite bound, as Prometheus does.
    assert_eq!(m.by_version[&v("v2")].latency.p99_ms, Some(3_600_000.0));

    let g = graph_checked(&t, MeshKind::Istio, "bookinfo").await;
    assert_eq!(g.nodes.len(), 7, "{:#?}", g.nodes);
    let e = edges(&g);
    assert_eq!(e.len(), 6, "{:?}", e.keys());
    let pp = "workload:bookinfo/productpage-v1";
    assert_edge(
        &e,
        pp,
        "workload:bookinfo/reviews-v1",
        105.0,
        6.0 / 105.0,
        Some(true),
    );
    assert_edge(
        &e,
        pp,
        "workload:bookinfo/reviews-v2",
        33.0,
        3.0 / 33.0,
        Some(false),
    );
    assert_edge(&e, "external:unknown/unknown", pp, 60.0, 0.0, Some(false));
    assert_edge(&e, "workload:web/web-v1", pp, 15.0, 0.0, Some(true));
    assert_edge(
        &e,
        "workload:bookinfo/reviews-v2",
        "workload:bookinfo/ratings-v1",
        30.0,
        0.1,
        Some(true),
    );
    assert_edge(
        &e,
        "workload:bookinfo/reviews-v1",
        "workload:db/mysql-v1",
        3.0,
        0.0,
        Some(true),
    );
    assert_close(
        e[&("workload:bookinfo/reviews-v2", "workload:bookinfo/ratings-v1")]
            .p99_ms
            .unwrap(),
        85.0,
        "ratings p99",
    );
    assert_eq!(
        e[&("external:unknown/unknown", pp)].p99_ms,
        None,
        "no histogram for that edge"
    );

    // ---- Linkerd: inbound response_total by classification; outbound edges with the tls label.
    let m = metrics_checked(&t, MeshKind::Linkerd, "shop/cart").await;
    assert_eq!(m.by_version.len(), 2);
    assert_traffic(&m.by_version[&v("v1")], 70.0, 4.0, 6.0, "linkerd v1");
    assert_traffic(&m.by_version[&v("v2")], 30.0, 3.0, 0.0, "linkerd v2");
    assert_traffic(&m.overall, 100.0, 7.0, 6.0, "linkerd overall");
    assert_eq!(m.by_version[&v("v2")].latency.p99_ms, Some(50_000.0)); // +Inf bucket: top Linkerd bound

    let g = graph_checked(&t, MeshKind::Linkerd, "shop").await;
    assert_eq!(g.nodes.len(), 6, "{:#?}", g.nodes);
    let e = edges(&g);
    assert_eq!(e.len(), 5, "{:?}", e.keys());
    let (web, c1, c2) = (
        "workload:shop/web",
        "workload:shop/cart-v1",
        "workload:shop/cart-v2",
    );
    assert_edge(&e, web, c1, 50.0, 0.1, Some(true));
    assert_edge(&e, web, c2, 15.0, 0.0, Some(true));
    assert_edge(&e, "workload:shop/legacy", c1, 15.0, 0.0, Some(false));
    assert_edge(&e, c1, "workload:billing/payments", 15.0, 0.0, Some(true));
    assert_edge(&e, "workload:ops/probe", c2, 15.0, 0.0, Some(true));
    assert_close(e[&(web, c1)].p99_ms.unwrap(), 950.0, "web -> cart-v1 p99");

    // ---- Consul: callers' upstream cluster stats by subset; two callers of v1 add up.
    let m = metrics_checked(&t, MeshKind::Consul, "default/api").await;
    assert_eq!(m.by_version.len(), 2);
    assert_traffic(&m.by_version[&v("v1")], 75.0, 3.0, 3.0, "consul v1");
    assert_traffic(&m.by_version[&v("v2")], 15.0, 1.0, 0.0, "consul v2");
    assert_traffic(&m.overall, 90.0, 4.0, 3.0, "consul overall");

    let g = graph_checked(&t, MeshKind::Consul, "default").await;
    assert_eq!(g.nodes.len(), 4, "{:#?}", g.nodes);
    let e = edges(&g);
    assert_eq!(e.len(), 3);
    let api = "service:default/api";
    assert_edge(&e, "service:default/web", api, 75.0, 4.0 / 75.0, Some(true));
    assert_edge(&e, "service:default/batch", api, 15.0, 0.0, Some(true));
    assert_edge(&e, api, "service:default/db", 30.0, 0.0, Some(true));
    assert_close(
        e[&("service:default/web", api)].p99_ms.unwrap(),
        625.0,
        "web -> api p99",
    );
    assert_close(
        e[&("service:default/batch", api)].p99_ms.unwrap(),
        49.75,
        "batch -> api p99",
    );

    // ---- A hostile label value stays a value: the escaped query selects nothing, while the same
    // text pasted unescaped would have returned vector(1).
    let hostile = r#"a"} or vector(1) #"#;
    let escaped = Dialect::for_mesh(MeshKind::Istio).service_requests_query("bookinfo", hostile, WINDOW);
    assert!(vector(&client, &escaped).await.is_empty());
    let selector = Selector::new("istio_requests_total").eq("destination_service_name", hostile);
    assert!(vector(&client, &selector.to_string()).await.is_empty());
    let pasted = format!(r#"istio_requests_total{{destination_service_name="{hostile}"}}"#);
    let injected = vector(&client, &pasted).await;
    assert_eq!(injected.len(), 1, "the unescaped control query is injectable");
    assert_eq!(injected[0].value.value, 1.0);

    // ---- No traffic in the window: zero counts, no quantiles, no availability.
    let empty = TimeRange::ending_at(at(EVAL + 86_400), WINDOW).unwrap();
    let m = t
        .get_service_metrics(MeshKind::Istio, &"bookinfo/reviews".parse().unwrap(), empty)
        .await
        .unwrap();
    assert_eq!((m.overall.requests, m.overall.availability()), (0.0, None));
    assert!(m.by_version.is_empty());

    // ---- Range query and the error envelope.
    let r = client
        .query_range(
            r#"sum(rate(istio_requests_total{reporter="destination",destination_service_name="reviews"}[5m]))"#,
            at(EVAL - 600),
            at(EVAL),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let series = r.result.into_matrix().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].values.len(), 11);
    assert!(
        series[0]
            .values
            .iter()
            .all(|s| close(s.value, 138.0 / 15.0, 1e-9))
    );
    match client.query_vector("sum(rate(x[5m]", at(EVAL)).await.unwrap_err() {
        Error::Prometheus {
            http_status,
            error_type,
            message,
        } => {
            assert_eq!((http_status, error_type.as_str()), (400, "bad_data"));
            assert!(message.contains("parse error"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    drop(server);
}
