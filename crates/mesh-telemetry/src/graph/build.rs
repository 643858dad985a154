//! The service graph of a namespace from two batched metric queries: edge request rates (with
//! response class and mTLS label) and edge latency buckets.

use std::collections::BTreeMap;

use mesh_core::{GraphEdge, GraphNode, Namespace, NodeKind, ServiceGraph, TimeRange};
use mesh_observe::{Bucket, histogram_quantile};

use crate::{
    Result,
    prometheus::{Labels, PrometheusClient, VectorSample, parse_value},
    promql::{Dialect, Outcome},
};

/// Reads the graph of `namespace` over `range` with exactly two queries.
///
/// # Errors
/// Any error of the two queries.
pub async fn service_graph(
    client: &PrometheusClient,
    dialect: Dialect,
    namespace: &Namespace,
    range: TimeRange,
) -> Result<ServiceGraph> {
    let window = range.duration();
    let requests_q = dialect.graph_requests_query(namespace.as_str(), window);
    let latency_q = dialect.graph_latency_query(namespace.as_str(), window);
    let (requests, buckets) = futures_util::future::try_join(
        client.query_vector(&requests_q, range.end()),
        client.query_vector(&latency_q, range.end()),
    )
    .await?;
    Ok(build_graph(dialect, namespace, &requests, &buckets))
}

/// Builds the graph from query rows.
///
/// Each edge is one (caller, callee) pair: `rps` sums its rows, `error_rate` is errors over all
/// requests (5xx and no response; 4xx are not errors), `p99_ms` comes from
/// [`mesh_observe::histogram_quantile`] over the edge's bucket rates, and `mtls` is `Some(true)`
/// only when every row of the edge was mTLS (`Some(false)` if any was plain text, `None` if the
/// mesh did not say). Rows with a zero rate are idle and make no edge. A caller named `unknown`
/// (traffic from outside the mesh) becomes an external node.
///
/// ```
/// use mesh_core::{MeshKind, Namespace};
/// use mesh_telemetry::{graph::build_graph, promql::Dialect, prometheus::{Sample, VectorSample}};
/// let row = |labels: &[(&str, &str)], value: f64| VectorSample {
///     metric: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
///     value: Sample { time: 0.0, value },
/// };
/// let edge = [("namespace", "shop"), ("deployment", "web"), ("dst_namespace", "shop"), ("dst_deployment", "cart")];
/// let mut ok = edge.to_vec();
/// ok.extend([("classification", "success"), ("tls", "true")]);
/// let mut bad = edge.to_vec();
/// bad.extend([("classification", "failure"), ("tls", "true")]);
/// let g = build_graph(
///     Dialect::for_mesh(MeshKind::Linkerd),
///     &Namespace::new("shop").unwrap(),
///     &[row(&ok, 3.0), row(&bad, 1.0)],
///     &[],
/// );
/// assert_eq!(g.nodes.len(), 2);
/// assert_eq!(g.edges[0].source, "workload:shop/web");
/// assert_eq!(g.edges[0].rps, 4.0);
/// assert_eq!(g.edges[0].error_rate, Some(0.25));
/// assert_eq!(g.edges[0].mtls, Some(true));
/// ```
pub fn build_graph(
    dialect: Dialect,
    namespace: &Namespace,
    requests: &[VectorSample],
    buckets: &[VectorSample],
) -> ServiceGraph {
    let mut nodes: BTreeMap<String, GraphNode> = BTreeMap::new();
    let mut edges: BTreeMap<(String, String), EdgeAcc> = BTreeMap::new();
    for row in requests {
        let rate = row.value.value;
        if rate.is_nan() || rate <= 0.0 {
            continue;
        }
        let (src, dst) = ends(dialect, &row.metric);
        let key = (src.id.clone(), dst.id.clone());
        nodes.entry(src.id.clone()).or_insert(src);
        nodes.entry(dst.id.clone()).or_insert(dst);
        let acc = edges.entry(key).or_default();
        acc.rate += rate;
        if dialect.classify(&row.metric) == Outcome::Error {
            acc.errors += rate;
        }
        acc.mtls = combine_mtls(acc.mtls, dialect.mtls_of(&row.metric));
    }
    let mut edge_buckets: BTreeMap<(String, String), Vec<Bucket>> = BTreeMap::new();
    for row in buckets {
        let Some(le) = row.metric.get("le").and_then(|le| parse_value(le)) else {
            continue;
        };
        let (src, dst) = ends(dialect, &row.metric);
        edge_buckets.entry((src.id, dst.id)).or_default().push(Bucket {
            upper_bound: le,
            count: row.value.value,
        });
    }
    let edges = edges
        .into_iter()
        .map(|((source, target), acc)| {
            let p99 = edge_buckets
                .get(&(source.clone(), target.clone()))
                .map(|b| histogram_quantile(0.99, b))
                .filter(|v| !v.is_nan());
            GraphEdge {
                source,
                target,
                rps: acc.rate,
                error_rate: (acc.rate > 0.0).then(|| acc.errors / acc.rate),
                p99_ms: p99,
                mtls: acc.mtls.unwrap_or(None),
            }
        })
        .collect();
    ServiceGraph {
        namespace: namespace.clone(),
        nodes: nodes.into_values().collect(),
        edges,
    }
}

#[derive(Debug, Default)]
struct EdgeAcc {
    rate: f64,
    errors: f64,
    /// `None` before the first row; then the combined flag.
    mtls: Option<Option<bool>>,
}

/// `false` wins over unknown, unknown over `true`.
fn combine_mtls(acc: Option<Option<bool>>, row: Option<bool>) -> Option<Option<bool>> {
    Some(match (acc, row) {
        (None, r) => r,
        (Some(Some(false)), _) | (_, Some(false)) => Some(false),
        (Some(None), _) | (_, None) => None,
        (Some(Some(true)), Some(true)) => Some(true),
    })
}

fn ends(dialect: Dialect, labels: &Labels) -> (GraphNode, GraphNode) {
    let e = dialect.edge_labels();
    let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
    (
        node(dialect.node_kind(), get(e.source_namespace), get(e.source_name)),
        node(dialect.node_kind(), get(e.target_namespace), get(e.target_name)),
    )
}

/// A node id is `<kind>:<namespace>/<name>[:<version>]`.
pub(crate) fn node_id(kind: NodeKind, namespace: &str, name: &str, version: Option<&str>) -> String {
    let kind = match kind {
        NodeKind::Workload => "workload",
        NodeKind::Service => "service",
        NodeKind::External => "external",
    };
    match version {
        Some(v) => format!("{kind}:{namespace}/{name}:{v}"),
        None => format!("{kind}:{namespace}/{name}"),
    }
}

fn node(kind: NodeKind, namespace: &str, name: &str) -> GraphNode {
    let unknown = |s: &str| s.is_empty() || s == "unknown";
    let kind = if unknown(name) { NodeKind::External } else { kind };
    let name = if unknown(name) { "unknown" } else { name };
    let namespace = if unknown(namespace) { "unknown" } else { namespace };
    GraphNode {
        id: node_id(kind, namespace, name, None),
        kind,
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        version: None,
    }
}

#[cfg(test)]
mod tests {
    use mesh_core::MeshKind;

    use super::*;
    use crate::prometheus::Sample;

    fn row(labels: &[(&str, &str)], value: f64) -> VectorSample {
        VectorSample {
            metric: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value: Sample { time: 0.0, value },
        }
    }

    const EDGE: [(&str, &str); 4] = [
        ("source_workload_namespace", "unknown"),
        ("source_workload", "unknown"),
        ("destination_workload_namespace", "bookinfo"),
        ("destination_workload", "productpage-v1"),
    ];

    #[test]
    fn istio_mixed_mtls_is_false_and_unknown_caller_is_external() {
        let mut a = EDGE.to_vec();
        a.extend([
            ("response_code", "200"),
            ("connection_security_policy", "mutual_tls"),
        ]);
        let mut b = EDGE.to_vec();
        b.extend([("response_code", "0"), ("connection_security_policy", "none")]);
        let mut idle = EDGE.to_vec();
        idle[3] = ("destination_workload", "idle");
        idle.push(("response_code", "200"));
        let mut buckets: Vec<_> = [("10", 1.0), ("+Inf", 2.0)]
            .into_iter()
            .map(|(le, v)| {
                let mut l = EDGE.to_vec();
                l.push(("le", le));
                row(&l, v)
            })
            .collect();
        buckets.push(row(&EDGE, 5.0)); // no `le`: skipped
        let g = build_graph(
            Dialect::for_mesh(MeshKind::Istio),
            &Namespace::new("bookinfo").unwrap(),
            &[row(&a, 1.0), row(&b, 1.0), row(&idle, 0.0)],
            &buckets,
        );
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.nodes[0].id, "external:unknown/unknown");
        assert_eq!(g.nodes[0].kind, NodeKind::External);
        let e = &g.edges[0];
        assert_eq!((e.rps, e.error_rate, e.mtls), (2.0, Some(0.5), Some(false)));
        assert_eq!(e.p99_ms, Some(10.0));
    }

    #[test]
    fn mtls_combination() {
        assert_eq!(combine_mtls(None, Some(true)), Some(Some(true)));
        assert_eq!(combine_mtls(Some(Some(true)), None), Some(None));
        assert_eq!(combine_mtls(Some(None), Some(false)), Some(Some(false)));
        assert_eq!(combine_mtls(Some(Some(true)), Some(true)), Some(Some(true)));
    }
}
