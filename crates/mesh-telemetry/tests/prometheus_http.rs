//! The Prometheus client against a loopback HTTP double: exact requests (one per metric family),
//! parameters, auth, and the error envelope.

use std::time::{Duration, UNIX_EPOCH};

use mesh_core::{MeshKind, TimeRange};
use mesh_telemetry::{Error, Telemetry, prometheus::PrometheusClient, promql::Dialect};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

const T: u64 = 1_704_069_000;

fn range() -> TimeRange {
    TimeRange::ending_at(UNIX_EPOCH + Duration::from_secs(T), Duration::from_secs(600)).unwrap()
}

fn vector(rows: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string(format!(
        r#"{{"status":"success","data":{{"resultType":"vector","result":[{rows}]}}}}"#
    ))
}

#[tokio::test]
async fn service_metrics_sends_exactly_one_query_per_family_whatever_the_versions() {
    let server = MockServer::start().await;
    let d = Dialect::for_mesh(MeshKind::Istio);
    let window = Duration::from_secs(600);
    let requests_rows = (1..=5)
        .map(|i| {
            format!(
                r#"{{"metric":{{"destination_version":"v{i}","response_code":"200"}},"value":[{T},"1"]}}"#
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let bucket_rows = (1..=5)
        .flat_map(|i| {
            [("100", "0.5"), ("+Inf", "1")].map(|(le, v)| {
                format!(r#"{{"metric":{{"destination_version":"v{i}","le":"{le}"}},"value":[{T},"{v}"]}}"#)
            })
        })
        .collect::<Vec<_>>()
        .join(",");
    Mock::given(method("GET"))
        .and(path("/prom/api/v1/query"))
        .and(query_param(
            "query",
            d.service_requests_query("bookinfo", "reviews", window),
        ))
        .and(query_param("time", format!("{T}.000")))
        .and(query_param("timeout", "7s"))
        .and(header("authorization", "Bearer t0ken"))
        .respond_with(vector(&requests_rows))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/prom/api/v1/query"))
        .and(query_param(
            "query",
            d.service_latency_query("bookinfo", "reviews", window),
        ))
        .respond_with(vector(&bucket_rows))
        .expect(1)
        .mount(&server)
        .await;
    let client = PrometheusClient::builder()
        .url(format!("{}/prom", server.uri()))
        .timeout(Duration::from_secs(7))
        .bearer_token("t0ken")
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("t0ken"));
    let t = Telemetry {
        prometheus: Some(client.clone()),
        ..Telemetry::default()
    };
    let m = t
        .get_service_metrics(MeshKind::Istio, &"bookinfo/reviews".parse().unwrap(), range())
        .await
        .unwrap();
    assert_eq!(m.by_version.len(), 5);
    assert_eq!(m.overall.request_rate, 5.0);
    assert_eq!(m.overall.requests, 3000.0);
    assert_eq!(m.by_version.values().next().unwrap().latency.p50_ms, Some(100.0));
    assert_eq!(client.queries_sent(), 2);
    // `expect(1)` on each mock is verified when the server drops.
}

#[tokio::test]
async fn hostile_value_reaches_prometheus_escaped() {
    let server = MockServer::start().await;
    let escaped = r#"sum by (version, classification, status_code) (rate(response_total{direction="inbound",namespace="shop",app="a\"} or vector(1) #"}[60s]))"#;
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .and(query_param("query", escaped))
        .respond_with(vector(""))
        .expect(1)
        .mount(&server)
        .await;
    let client = PrometheusClient::builder().url(server.uri()).build().unwrap();
    let q = Dialect::for_mesh(MeshKind::Linkerd).service_requests_query(
        "shop",
        r#"a"} or vector(1) #"#,
        Duration::from_secs(60),
    );
    let rows = client
        .query_vector(&q, UNIX_EPOCH + Duration::from_secs(T))
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn error_envelopes_and_status_codes() {
    let server = MockServer::start().await;
    for (q, status, body) in [
        (
            "bad",
            400,
            r#"{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected end of input"}"#,
        ),
        (
            "slow",
            503,
            r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#,
        ),
        (
            "m2m",
            422,
            r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#,
        ),
        ("proxy", 502, "<html>Bad Gateway</html>"),
        (
            "matrix",
            200,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        ),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/v1/query"))
            .and(query_param("query", q))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
    }
    let client = PrometheusClient::builder().url(server.uri()).build().unwrap();
    let at = UNIX_EPOCH + Duration::from_secs(T);
    let err = |q: &'static str| {
        let client = client.clone();
        async move { client.query_vector(q, at).await.unwrap_err() }
    };
    let e = err("bad").await;
    assert!(matches!(&e, Error::Prometheus { http_status: 400, error_type, .. } if error_type == "bad_data"));
    assert!(!e.is_transient());
    let e = err("slow").await;
    assert!(matches!(&e, Error::Prometheus { http_status: 503, error_type, .. } if error_type == "timeout"));
    assert!(e.is_transient());
    let e = err("m2m").await;
    assert!(matches!(&e, Error::Prometheus { http_status: 422, .. }));
    let e = err("proxy").await;
    assert_eq!(
        e.to_string(),
        "Prometheus answered HTTP 502: <html>Bad Gateway</html>"
    );
    let e = err("matrix").await;
    assert!(matches!(e, Error::Unexpected { .. }));
    // Through Telemetry the error becomes a core Observability error (not the mesh's control
    // plane), shown as what Prometheus said.
    let core = err("bad").await.into_core(MeshKind::Consul);
    assert!(matches!(core, mesh_core::Error::Observability { .. }));
    assert!(
        core.to_string().starts_with("Prometheus rejected the query"),
        "{core}"
    );
}

#[tokio::test]
async fn range_query_parameters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/query_range"))
        .and(query_param("query", "up"))
        .and(query_param("start", "1704068400.000"))
        .and(query_param("end", "1704069000.500"))
        .and(query_param("step", "30"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"p"},"values":[[1704068400,"1"],[1704068430,"0"]]}]}}"#,
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = PrometheusClient::builder().url(server.uri()).build().unwrap();
    let start = UNIX_EPOCH + Duration::from_secs(T - 600);
    let end = UNIX_EPOCH + Duration::from_millis(T * 1000 + 500);
    let m = client
        .query_range("up", start, end, Duration::from_secs(30))
        .await
        .unwrap()
        .result
        .into_matrix()
        .unwrap();
    assert_eq!(m[0].values.len(), 2);
    assert_eq!(m[0].values[1].value, 0.0);
    let e = client
        .query_range("up", end, start, Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { field: "end", .. }));
    let e = client
        .query_range("up", start, end, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { field: "step", .. }));
}

#[tokio::test]
async fn telemetry_without_sources_is_not_configured() {
    let t = Telemetry::default();
    let svc = "shop/cart".parse().unwrap();
    let e = t
        .get_service_metrics(MeshKind::Linkerd, &svc, range())
        .await
        .unwrap_err();
    assert!(matches!(e, mesh_core::Error::NotConfigured { .. }));
    assert!(
        e.to_string().contains("PROMETHEUS_URL") && e.to_string().contains("linkerd-viz"),
        "{e}"
    );
    let e = t.get_service_traces(MeshKind::Istio, &svc, 10).await.unwrap_err();
    assert!(e.to_string().contains("TRACING_URL"), "{e}");
}

/// Credentials in the URL are sent as basic auth, and are gone from the URL the client keeps.
#[tokio::test]
async fn url_credentials_become_basic_auth() {
    let server = MockServer::start().await;
    // "ops:s@cret", base64.
    Mock::given(method("GET"))
        .and(path("/api/v1/query"))
        .and(header("authorization", "Basic b3BzOnNAY3JldA=="))
        .respond_with(vector(""))
        .expect(1)
        .mount(&server)
        .await;
    let with_userinfo = server.uri().replace("http://", "http://ops:s%40cret@");
    let client = PrometheusClient::builder().url(with_userinfo).build().unwrap();
    assert!(!client.base_url().contains("cret"), "{}", client.base_url());
    assert!(!format!("{client:?}").contains("cret"));
    client
        .query("up", UNIX_EPOCH + Duration::from_secs(T))
        .await
        .unwrap();
}
