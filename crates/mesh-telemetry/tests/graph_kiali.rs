//! Kiali graph fixtures (`testdata/graph/`) through the parser and the Kiali client, and the
//! graph renderers.

use std::time::{Duration, UNIX_EPOCH};

use mesh_core::{GraphEdge, MeshKind, Namespace, NodeKind, ServiceGraph, TimeRange};
use mesh_telemetry::{
    Telemetry,
    graph::{KialiClient, parse_kiali_graph, to_dot, to_json, to_mermaid, to_svg},
};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path, query_param},
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/testdata/graph/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn ns(s: &str) -> Namespace {
    Namespace::new(s).unwrap()
}

fn edge<'a>(g: &'a ServiceGraph, source: &str, target: &str) -> &'a GraphEdge {
    g.edges
        .iter()
        .find(|e| e.source == source && e.target == target)
        .unwrap_or_else(|| panic!("no edge {source} -> {target} in {:#?}", g.edges))
}

#[test]
fn workload_graph() {
    let g = parse_kiali_graph(&fixture("kiali-graph-workload.json"), &ns("bookinfo")).unwrap();
    assert_eq!(g.nodes.len(), 13);
    assert_eq!(g.edges.len(), 18);
    let e = edge(
        &g,
        "workload:bookinfo/productpage-v1",
        "workload:bookinfo/details-v1",
    );
    // http 80 rps of which 20 are 5xx (4xx and 3xx are not errors).
    assert_eq!((e.rps, e.error_rate), (80.0, Some(0.25)));
    assert_eq!((e.p99_ms, e.mtls), (None, None)); // the fixture has no responseTime/isMTLS
    let grpc = g
        .edges
        .iter()
        .find(|e| e.target.ends_with("/deposit-v1"))
        .unwrap();
    assert_eq!((grpc.rps, grpc.error_rate), (50.0, Some(0.0)));
    let tcp = g
        .edges
        .iter()
        .find(|e| e.target.ends_with("/tcp-v1") && e.source.starts_with("external:"))
        .unwrap();
    assert_eq!((tcp.rps, tcp.error_rate), (0.0, None));
    let external = g.nodes.iter().find(|n| n.kind == NodeKind::External).unwrap();
    assert_eq!(external.id, "external:unknown/unknown");
    assert!(
        g.nodes.windows(2).all(|w| w[0].id < w[1].id),
        "nodes sorted by id"
    );
}

#[test]
fn service_graph() {
    let g = parse_kiali_graph(&fixture("kiali-graph-service.json"), &ns("bankapp")).unwrap();
    assert_eq!(g.nodes.iter().filter(|n| n.kind == NodeKind::Service).count(), 8);
    assert!(g.nodes.iter().any(|n| n.id == "service:bankapp/deposit"));
    assert_eq!(g.edges.len(), 13);
    assert!(g.edges.iter().all(|e| g.nodes.iter().any(|n| n.id == e.source)));
}

#[test]
fn versioned_app_graph_drops_boxes_and_keeps_versions() {
    let g = parse_kiali_graph(&fixture("kiali-graph-versioned-app.json"), &ns("bookinfo")).unwrap();
    assert_eq!(g.nodes.len(), 13, "14 nodes minus 1 box");
    let reviews: Vec<_> = g.nodes.iter().filter(|n| n.name == "reviews").collect();
    assert!(reviews.iter().all(|n| n.version.is_some()));
    assert!(g.nodes.iter().any(|n| n.id == "workload:bookinfo/reviews:v2"));
    assert_eq!(g.edges.len(), 18);
    // Self-calls stay edges.
    assert!(g.edges.iter().any(|e| e.source == e.target));
}

#[test]
fn bad_body_is_a_decode_error() {
    let e = parse_kiali_graph(br#"{"nodes":[]}"#, &ns("x")).unwrap_err();
    assert!(matches!(e, mesh_telemetry::Error::Decode { .. }));
}

#[tokio::test]
async fn kiali_client_sends_graph_parameters_and_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/kiali/api/namespaces/graph"))
        .and(query_param("namespaces", "bookinfo"))
        .and(query_param("graphType", "workload"))
        .and(query_param("duration", "600s"))
        .and(query_param("queryTime", "1704067800"))
        .and(query_param("responseTime", "99"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("kiali-graph-workload.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let kiali = KialiClient::new(&format!("{}/kiali", server.uri()), Some("tok".into())).unwrap();
    assert!(
        !format!("{kiali:?}").contains("tok\""),
        "token must not be printed"
    );
    let start = UNIX_EPOCH + Duration::from_secs(1_704_067_200);
    let range = TimeRange::new(start, start + Duration::from_secs(600)).unwrap();
    // Telemetry uses Kiali for Istio when no Prometheus is configured.
    let t = Telemetry {
        kiali: Some(kiali),
        ..Telemetry::default()
    };
    let g = t
        .get_service_graph_in(MeshKind::Istio, &ns("bookinfo"), range)
        .await
        .unwrap();
    assert_eq!(g.edges.len(), 18);
    // ...but not for Linkerd.
    let e = t
        .get_service_graph_in(MeshKind::Linkerd, &ns("bookinfo"), range)
        .await
        .unwrap_err();
    assert!(matches!(e, mesh_core::Error::NotConfigured { .. }));
}

#[test]
fn renderers() {
    let g = parse_kiali_graph(&fixture("kiali-graph-workload.json"), &ns("bookinfo")).unwrap();
    let json: ServiceGraph = serde_json::from_str(&to_json(&g)).unwrap();
    assert_eq!(json, g);
    let dot = to_dot(&g);
    assert_eq!(dot.matches(" -> ").count(), 18);
    assert!(dot.contains("\"workload:bookinfo/productpage-v1\" -> \"workload:bookinfo/details-v1\" [label=\"80.00 rps, 25.0% err\", color=red, style=dashed];"));
    let mermaid = to_mermaid(&g);
    assert_eq!(mermaid.lines().count(), 1 + 13 + 18);
    assert!(mermaid.contains("-.->|\"80.00 rps, 25.0% err\"|"));
    match to_svg(&g) {
        Ok(svg) => {
            assert!(svg.contains("<svg"));
            assert!(svg.contains("productpage&#45;v1") || svg.contains("productpage-v1"));
        }
        Err(mesh_telemetry::Error::NotConfigured { what, .. }) => {
            assert_eq!(what, "Graphviz dot");
            assert!(
                std::process::Command::new("dot").arg("-V").output().is_err(),
                "dot is installed but to_svg said it is not"
            );
        }
        Err(other) => panic!("{other:?}"),
    }
}
