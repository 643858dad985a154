//! Every trace fixture in `testdata/traces/`, served by a loopback HTTP double (wiremock) and read
//! through `TracingClient`, plus the empty results and error shapes of each backend.

use std::time::{Duration, UNIX_EPOCH};

use mesh_core::{TimeRange, Trace};
use mesh_telemetry::{
    Error,
    traces::{
        TraceQuery, TracingClient, TracingKind, parse_jaeger_v1, parse_jaeger_v3, parse_jaeger_v3_summaries,
        parse_zipkin,
    },
};
use serde_json::Value;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path, query_param},
};

fn fixture(name: &str) -> Vec<u8> {
    let p = format!("{}/testdata/traces/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn client(server: &MockServer, kind: TracingKind) -> TracingClient {
    TracingClient::builder()
        .url(server.uri())
        .kind(kind)
        .build()
        .unwrap()
}

fn query(service: &str) -> TraceQuery {
    let start = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    TraceQuery {
        service: service.into(),
        range: TimeRange::new(start, start + Duration::from_secs(3600)).unwrap(),
        limit: 20,
    }
}

fn ok(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

fn span_ids(t: &Trace) -> Vec<&str> {
    t.spans.iter().map(|s| s.span_id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Jaeger api_v3

#[tokio::test]
async fn jaeger_v3_find_traces_sends_snake_case_rfc3339_params() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/traces"))
        .and(query_param("query.service_name", "reviews.bookinfo"))
        .and(query_param(
            "query.start_time_min",
            "2024-01-01T00:00:00.000000000Z",
        ))
        .and(query_param(
            "query.start_time_max",
            "2024-01-01T01:00:00.000000000Z",
        ))
        .and(query_param("query.search_depth", "20"))
        .respond_with(ok(fixture("jaeger-apiv3-FindTraces.json")))
        .expect(1)
        .mount(&server)
        .await;
    let traces = client(&server, TracingKind::Jaeger)
        .find_traces(&query("reviews.bookinfo"))
        .await
        .unwrap();
    assert_eq!(traces.len(), 1);
    let s = &traces[0].spans[0];
    assert_eq!(traces[0].trace_id, "00000000000000000000000000000001");
    assert_eq!(s.span_id, "0000000000000002");
    assert_eq!(s.operation, "foobar");
    assert_eq!(s.service, "unknown"); // the snapshot's resource has no service.name
    assert!(s.error); // status.code 2
    assert_eq!(s.attributes["span.kind"], "server");
    assert_eq!(s.parent_span_id, None);
}

#[tokio::test]
async fn jaeger_v3_get_trace_and_404_is_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/traces/00000000000000000000000000000001"))
        .respond_with(ok(fixture("jaeger-apiv3-GetTrace.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/traces/000000000000000000000000000000ff"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string(r#"{"error":{"httpCode":404,"message":"trace not found"}}"#),
        )
        .mount(&server)
        .await;
    let c = client(&server, TracingKind::Jaeger);
    let t = c.trace("1").await.unwrap().unwrap();
    assert_eq!(span_ids(&t), ["0000000000000002"]);
    assert_eq!(c.trace("ff").await.unwrap(), None);
}

#[tokio::test]
async fn jaeger_v3_no_match_404_is_an_empty_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/traces"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_string(r#"{"error":{"httpCode":404,"message":"No traces found"}}"#),
        )
        .mount(&server)
        .await;
    let traces = client(&server, TracingKind::Jaeger)
        .find_traces(&query("x"))
        .await
        .unwrap();
    assert!(traces.is_empty());
}

#[tokio::test]
async fn jaeger_v3_error_envelope_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/traces"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(
                r#"{"error":{"httpCode":400,"message":"start time min and max are required"}}"#,
            ),
        )
        .mount(&server)
        .await;
    let e = client(&server, TracingKind::Jaeger)
        .find_traces(&query("x"))
        .await
        .unwrap_err();
    match &e {
        Error::Http {
            service,
            http_status,
            message,
        } => {
            assert_eq!((*service, *http_status), ("Jaeger", 400));
            assert_eq!(message, "start time min and max are required");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_transient());
    let core = e.into_core(mesh_core::MeshKind::Istio);
    assert!(matches!(core, mesh_core::Error::Observability { .. }));
}

#[tokio::test]
async fn jaeger_v3_services_and_operations() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/services"))
        .respond_with(ok(fixture("jaeger-apiv3-GetServices.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/operations"))
        .and(query_param("service", "foo"))
        .respond_with(ok(fixture("jaeger-apiv3-GetOperations.json")))
        .mount(&server)
        .await;
    let c = client(&server, TracingKind::Jaeger);
    assert_eq!(c.services().await.unwrap(), ["foo"]);
    assert_eq!(
        c.operations("foo").await.unwrap(),
        [("get_users".to_owned(), "server".to_owned())]
    );
}

#[test]
fn jaeger_v3_trace_summaries_fixture() {
    let s = parse_jaeger_v3_summaries(&fixture("jaeger-apiv3-FindTraceSummaries.json")).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].trace_id, "00000000000000000000000000000001");
    assert_eq!(
        (s[0].root_service.as_str(), s[0].root_operation.as_str()),
        ("frontend", "HTTP GET /")
    );
    assert_eq!(s[0].start_unix_nanos, 1_000_000_000_000);
    assert_eq!(s[0].duration_nanos, 1_000_000_000);
    assert_eq!((s[0].span_count, s[0].error_span_count), (2, 1));
}

/// The OTLP input and the legacy envelope Jaeger produces from it normalize to the same spans
/// (apart from the `otel.scope.name` tag Jaeger adds).
#[test]
fn jaeger_otlp_and_legacy_envelope_agree() {
    let wrapped = serde_json::json!({ "result": json("jaeger-otlp-json-input-of-v1-envelope.json") });
    let v3 = parse_jaeger_v3(wrapped.to_string().as_bytes()).unwrap();
    let mut v1 = parse_jaeger_v1(&fixture("jaeger-v1-api-traces-envelope.json")).unwrap();
    for s in &mut v1[0].spans {
        assert_eq!(
            s.attributes.remove("otel.scope.name").as_deref(),
            Some("telemetrygen")
        );
    }
    assert_eq!(v3, v1);
    let s = &v3[0].spans[0];
    assert_eq!(v3[0].spans.len(), 1, "the fixture's duplicated span is dropped");
    assert_eq!(v3[0].trace_id, "83a9efd15c1c98a977e0711cc93ee28b");
    assert_eq!(s.parent_span_id.as_deref(), Some("909541b92cf05311"));
    assert_eq!(s.service, "telemetrygen");
    assert_eq!(s.start_unix_nanos, 1_706_678_909_209_712_000);
    assert_eq!(s.duration_nanos, 123_000);
    assert_eq!(s.attributes["peer.service"], "telemetrygen-client");
}

// ---------------------------------------------------------------------------------------------
// Jaeger legacy /api/traces

#[tokio::test]
async fn jaeger_v1_search_uses_microseconds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/traces"))
        .and(query_param("service", "telemetrygen"))
        .and(query_param("start", "1704067200000000"))
        .and(query_param("end", "1704070800000000"))
        .and(query_param("limit", "20"))
        .respond_with(ok(fixture("jaeger-v1-api-traces-envelope.json")))
        .expect(1)
        .mount(&server)
        .await;
    let t = client(&server, TracingKind::JaegerV1)
        .find_traces(&query("telemetrygen"))
        .await
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(span_ids(&t[0]), ["e127af99e3b3e074"]);
}

#[tokio::test]
async fn jaeger_v1_ui_trace_object_through_get_trace() {
    let server = MockServer::start().await;
    let body = serde_json::json!({"data": [json("jaeger-v1-ui-trace-object.json")], "errors": null});
    Mock::given(method("GET"))
        .and(path("/api/traces/00000000000000000000000000000001"))
        .respond_with(ok(body.to_string().into_bytes()))
        .mount(&server)
        .await;
    let t = client(&server, TracingKind::JaegerV1)
        .trace("0000000000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.trace_id, "00000000000000000000000000000001");
    // Two spans share id 2 (different operations), then 3, 4, 5: none is a duplicate.
    assert_eq!(t.spans.len(), 5);
    let by_op = |op: &str| t.spans.iter().find(|s| s.operation == op).unwrap();
    let tagged = by_op("some-operation");
    let tagged = if tagged.attributes.is_empty() {
        t.spans
            .iter()
            .find(|s| s.operation == "some-operation" && !s.attributes.is_empty())
            .unwrap()
    } else {
        tagged
    };
    assert!(tagged.error);
    assert_eq!(tagged.service, "service-x");
    assert_eq!(tagged.attributes["javascript_limit"], "9223372036854775222"); // int64 > 2^53 kept exact
    assert_eq!(tagged.attributes["peer.ipv4"], "23456");
    assert_eq!(tagged.attributes["temperature"], "72.5");
    assert_eq!(tagged.attributes["blob"], "AAAwOQ==");
    assert_eq!(tagged.duration_nanos, 5_000);
    // The reference into another trace is skipped; the CHILD_OF in this trace is the parent.
    assert_eq!(
        by_op("reference-test").parent_span_id.as_deref(),
        Some("0000000000000002")
    );
    assert_eq!(by_op("reference-test").service, "service-y");
    assert_eq!(
        by_op("preserveParentID-test").parent_span_id.as_deref(),
        Some("0000000000000004")
    );
    assert!(!by_op("test-general-conversion").error);
}

#[tokio::test]
async fn jaeger_v1_errors_and_services() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/traces"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}"#,
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/services"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"data":["a","b"],"total":2}"#))
        .mount(&server)
        .await;
    let c = client(&server, TracingKind::JaegerV1);
    let e = c.find_traces(&query("x")).await.unwrap_err();
    assert!(matches!(e, Error::Http { http_status: 400, .. }), "{e:?}");
    assert_eq!(c.services().await.unwrap(), ["a", "b"]);
}

// ---------------------------------------------------------------------------------------------
// Zipkin v2

#[tokio::test]
async fn zipkin_search_returns_every_trace_of_the_list() {
    let server = MockServer::start().await;
    let list = Value::Array(vec![
        json("zipkin-v2-trace-skew.json"),
        json("zipkin-v2-trace-messaging.json"),
        json("zipkin-v2-trace-envoy-proxy-span.json"),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/v2/traces"))
        .and(query_param("serviceName", "frontend"))
        .and(query_param("endTs", "1704070800000"))
        .and(query_param("lookback", "3600000"))
        .and(query_param("limit", "20"))
        .respond_with(ok(list.to_string().into_bytes()))
        .expect(1)
        .mount(&server)
        .await;
    let t = client(&server, TracingKind::Zipkin)
        .find_traces(&query("frontend"))
        .await
        .unwrap();
    assert_eq!(t.len(), 3);

    // skew.json: the client and the shared server half of one RPC keep their own services.
    let skew = &t[0];
    assert_eq!(skew.trace_id, "00000000000000001e223ff1f80f1c69");
    let halves: Vec<_> = skew
        .spans
        .iter()
        .filter(|s| s.span_id == "74280ae0c10d8062")
        .collect();
    assert_eq!(halves.len(), 2);
    assert!(
        halves
            .iter()
            .any(|s| s.service == "servicea" && s.attributes["span.kind"] == "client")
    );
    assert!(
        halves.iter().any(|s| s.service == "serviceb"
            && s.attributes.get("zipkin.shared").map(String::as_str) == Some("true"))
    );
    let local = skew.spans.iter().find(|s| s.operation == "async").unwrap();
    assert!(!local.attributes.contains_key("span.kind"));
    assert_eq!(local.parent_span_id.as_deref(), Some("74280ae0c10d8062"));
    let root = skew.spans.iter().find(|s| s.parent_span_id.is_none()).unwrap();
    assert_eq!(root.span_id, "bf396325699c84bf");

    // messaging.json: producer/consumer kinds, broker as peer, start order.
    let m = &t[1];
    assert_eq!(m.spans.len(), 4);
    assert_eq!(m.spans[0].operation, "get /");
    assert!(
        m.spans
            .windows(2)
            .all(|w| w[0].start_unix_nanos <= w[1].start_unix_nanos)
    );
    let consumer = m.spans.iter().find(|s| s.operation == "next-message").unwrap();
    assert_eq!(consumer.attributes["span.kind"], "consumer");
    assert_eq!(consumer.attributes["peer.service"], "rabbitmq");
    assert_eq!(consumer.duration_nanos, 14_000);

    // envoy.json: Envoy's span has no service name; status and tags come through.
    let envoy = &t[2].spans[0];
    assert_eq!(envoy.service, "unknown");
    assert_eq!(envoy.http_status, Some(200));
    assert!(!envoy.error);
    assert_eq!(envoy.attributes["upstream_cluster"], "service_google");
    assert_eq!(envoy.start_unix_nanos, 1_570_523_661_059_232_000);
}

#[tokio::test]
async fn zipkin_trace_by_id_single_span_and_not_found() {
    let server = MockServer::start().await;
    let one = Value::Array(vec![json("zipkin-v2-single-client-span.json")]);
    Mock::given(method("GET"))
        .and(path("/api/v2/trace/4d1e00c0db9010db86154a4ba6e91385"))
        .respond_with(ok(one.to_string().into_bytes()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/trace/00000000000000000000000000000abc"))
        .respond_with(
            ResponseTemplate::new(404).set_body_string("00000000000000000000000000000abc not found"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/traces"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&server)
        .await;
    let c = client(&server, TracingKind::Zipkin);
    let t = c
        .trace("4D1E00C0DB9010DB86154A4BA6E91385")
        .await
        .unwrap()
        .unwrap();
    let s = &t.spans[0];
    assert_eq!(s.parent_span_id.as_deref(), Some("86154a4ba6e91385"));
    assert_eq!((s.service.as_str(), s.operation.as_str()), ("frontend", "get"));
    assert_eq!(s.attributes["peer.service"], "backend");
    assert_eq!(s.attributes["http.path"], "/api");
    assert_eq!(s.duration_nanos, 207_000_000);
    assert_eq!(c.trace("abc").await.unwrap(), None);
    assert!(c.find_traces(&query("nobody")).await.unwrap().is_empty());
    // The bare span object parses too.
    assert_eq!(
        parse_zipkin(&fixture("zipkin-v2-single-client-span.json")).unwrap(),
        vec![t]
    );
}

#[tokio::test]
async fn zipkin_server_error_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/traces"))
        .respond_with(ResponseTemplate::new(503).set_body_string("storage unavailable"))
        .mount(&server)
        .await;
    let e = client(&server, TracingKind::Zipkin)
        .find_traces(&query("x"))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Zipkin answered HTTP 503: storage unavailable");
    assert!(e.is_transient());
}

// ---------------------------------------------------------------------------------------------
// Tempo

#[tokio::test]
async fn tempo_search_then_trace_by_id_with_base64_and_hex_ids() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/search"))
        .and(query_param("tags", "service.name=frontend"))
        .and(query_param("start", "1704067200"))
        .and(query_param("end", "1704070800"))
        .and(query_param("limit", "20"))
        .respond_with(ok(fixture("tempo-api-search-tags-response.json")))
        .expect(1)
        .mount(&server)
        .await;
    // Tempo trims leading zeros in search results; the client asks for the padded id.
    Mock::given(method("GET"))
        .and(path("/api/traces/0000000000000000d6e9329d67b6146a"))
        .respond_with(ok(fixture("tempo-v1-trace-by-id-batches.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/traces/00000000000000001b1ba462b409200d"))
        .respond_with(ok(fixture("tempo-trace-jsonpb-base64-ids.json")))
        .expect(1)
        .mount(&server)
        .await;
    let t = client(&server, TracingKind::Tempo)
        .find_traces(&query("frontend"))
        .await
        .unwrap();
    assert_eq!(t.len(), 2);

    let hex = &t[0];
    assert_eq!(hex.trace_id, "5b8efff798038103d269b633813fc60c");
    let s = &hex.spans[0];
    assert_eq!(s.span_id, "eee19b7ec3c1b174");
    assert_eq!(s.parent_span_id.as_deref(), Some("eee19b7ec3c1b173"));
    assert_eq!(s.service, "my.service");
    assert_eq!(s.duration_nanos, 1_000_000_000);
    assert_eq!(s.attributes["my.span.attr"], "some value");

    let b64 = &t[1];
    assert_eq!(b64.trace_id, "3149195ffb0bec05347b48efe8ecc1b0");
    assert_eq!(b64.spans.len(), 6);
    let root = b64
        .spans
        .iter()
        .find(|s| s.span_id == "4b23de25d1fb6641")
        .unwrap();
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.service, "tempo-vulture");
    assert_eq!(root.http_status, Some(110));
    assert_eq!(root.attributes["vulture-int-01"], "581134");
    let child = b64
        .spans
        .iter()
        .find(|s| s.span_id == "3ef58fd67f3c3c44")
        .unwrap();
    assert_eq!(child.parent_span_id.as_deref(), Some("4b23de25d1fb6641"));
    assert!(b64.spans.iter().all(|s| s.trace_id == b64.trace_id));
}

#[tokio::test]
async fn tempo_trace_by_id_empty_search_and_errors() {
    let server = MockServer::start().await;
    let id = "3149195ffb0bec05347b48efe8ecc1b0";
    Mock::given(method("GET"))
        .and(path(format!("/api/traces/{id}")))
        .respond_with(ok(fixture("tempo-trace-jsonpb-base64-ids.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/search"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"traces":[],"metrics":{}}"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/traces/000000000000000000000000000000aa"))
        .respond_with(ResponseTemplate::new(404).set_body_string("trace not found"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/search/tag/service.name/values"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .mount(&server)
        .await;
    let c = client(&server, TracingKind::Tempo);
    // A base64 id from Tempo's own JSON is accepted and normalized too.
    let t = c.trace("MUkZX/sL7AU0e0jv6OzBsA==").await.unwrap().unwrap();
    assert_eq!(t.trace_id, id);
    assert!(c.find_traces(&query("nobody")).await.unwrap().is_empty());
    assert_eq!(c.trace("aa").await.unwrap(), None);
    let e = c.services().await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Http {
                service: "Tempo",
                http_status: 500,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(matches!(
        c.trace("not an id!").await.unwrap_err(),
        Error::InvalidInput { .. }
    ));
}

#[tokio::test]
async fn unreachable_backend_is_a_transport_error() {
    // A listener that closes every connection without answering.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            drop(conn);
        }
    });
    let c = TracingClient::builder()
        .url(format!("http://{addr}"))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = c.find_traces(&query("x")).await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(e.is_transient());
}
