//! Istio only, optional: Kiali's graph API (`GET /api/namespaces/graph`) parsed into the same
//! [`ServiceGraph`].

use std::{collections::BTreeMap, fmt, time::UNIX_EPOCH};

use mesh_core::{GraphEdge, GraphNode, Namespace, NodeKind, ServiceGraph, TimeRange};
use serde::Deserialize;
use url::Url;

use super::build::node_id;
use crate::{Error, Result, error::snippet, prometheus::parse_base_url};

#[derive(Debug, Deserialize)]
struct KialiGraph {
    elements: Elements,
}

#[derive(Debug, Default, Deserialize)]
struct Elements {
    #[serde(default)]
    nodes: Vec<Element<KialiNode>>,
    #[serde(default)]
    edges: Vec<Element<KialiEdge>>,
}

#[derive(Debug, Deserialize)]
struct Element<T> {
    data: T,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KialiNode {
    id: String,
    node_type: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    workload: Option<String>,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    service: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct KialiEdge {
    source: String,
    target: String,
    #[serde(default)]
    response_time: Option<String>,
    #[serde(default, rename = "isMTLS")]
    is_mtls: Option<String>,
    #[serde(default)]
    traffic: Option<Traffic>,
}

#[derive(Debug, Deserialize)]
struct Traffic {
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    rates: BTreeMap<String, String>,
}

/// Parses a Kiali graph response (`graphType` workload, app, versionedApp or service).
///
/// Kiali's sha256 node ids become this crate's `<kind>:<namespace>/<name>[:<version>]`; boxes are
/// dropped; `unknown` nodes are external. Edge `rps` is the `http` or `grpc` rate (TCP edges carry
/// bytes, so their `rps` is 0 and error rate `None`); errors are HTTP `5xx` plus `NoResponse`
/// (gRPC: `grpcErr` plus `grpcNoResponse`); `responseTime` is taken as the p99 (request it with
/// `responseTime=99`); `isMTLS` (a percentage) gives `mtls = Some(pct >= 100)`, absent gives `None`.
///
/// ```
/// let body = br#"{"elements":{"nodes":[
///   {"data":{"id":"a","nodeType":"workload","namespace":"bookinfo","workload":"productpage-v1"}},
///   {"data":{"id":"b","nodeType":"service","namespace":"bookinfo","service":"reviews"}}],
///  "edges":[{"data":{"id":"e","source":"a","target":"b","isMTLS":"100","responseTime":"12.5",
///   "traffic":{"protocol":"http","rates":{"http":"10.00","http5xx":"1.00"}}}}]}}"#;
/// let ns = mesh_core::Namespace::new("bookinfo").unwrap();
/// let g = mesh_telemetry::graph::parse_kiali_graph(body, &ns).unwrap();
/// assert_eq!(g.edges[0].source, "workload:bookinfo/productpage-v1");
/// assert_eq!(g.edges[0].target, "service:bookinfo/reviews");
/// assert_eq!((g.edges[0].rps, g.edges[0].error_rate, g.edges[0].mtls), (10.0, Some(0.1), Some(true)));
/// assert_eq!(g.edges[0].p99_ms, Some(12.5));
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape.
pub fn parse_kiali_graph(body: &[u8], namespace: &Namespace) -> Result<ServiceGraph> {
    let g: KialiGraph = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Kiali graph",
        source,
    })?;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut nodes: BTreeMap<String, GraphNode> = BTreeMap::new();
    for Element { data: n } in g.elements.nodes {
        let Some(node) = convert_node(&n) else {
            continue;
        };
        ids.insert(n.id, node.id.clone());
        nodes.entry(node.id.clone()).or_insert(node);
    }
    let mut edges: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for Element { data: e } in g.elements.edges {
        let (Some(source), Some(target)) = (ids.get(&e.source), ids.get(&e.target)) else {
            continue;
        };
        let acc = edges.entry((source.clone(), target.clone())).or_default();
        let rate = |k: &str| {
            e.traffic
                .as_ref()
                .and_then(|t| t.rates.get(k))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        match e.traffic.as_ref().map(|t| t.protocol.as_str()) {
            Some("http") => {
                acc.rps += rate("http");
                acc.errors += rate("http5xx") + rate("httpNoResponse");
                acc.counted = true;
            }
            Some("grpc") => {
                acc.rps += rate("grpc");
                acc.errors += rate("grpcErr") + rate("grpcNoResponse");
                acc.counted = true;
            }
            _ => {}
        }
        if let Some(p) = e.response_time.as_deref().and_then(|v| v.parse::<f64>().ok()) {
            acc.p99 = Some(acc.p99.map_or(p, |q: f64| q.max(p)));
        }
        let mtls = e
            .is_mtls
            .as_deref()
            .and_then(|v| v.parse::<f64>().ok())
            .map(|pct| pct >= 100.0);
        acc.mtls = match (acc.seen, acc.mtls, mtls) {
            (false, _, m) => m,
            (true, Some(false), _) | (true, _, Some(false)) => Some(false),
            (true, Some(true), Some(true)) => Some(true),
            _ => None,
        };
        acc.seen = true;
    }
    Ok(ServiceGraph {
        namespace: namespace.clone(),
        nodes: nodes.into_values().collect(),
        edges: edges
            .into_iter()
            .map(|((source, target), a)| GraphEdge {
                source,
                target,
                rps: a.rps,
                error_rate: (a.counted && a.rps > 0.0).then(|| a.errors / a.rps),
                p99_ms: a.p99,
                mtls: a.mtls,
            })
            .collect(),
    })
}

#[derive(Debug, Default)]
struct Acc {
    rps: f64,
    errors: f64,
    counted: bool,
    p99: Option<f64>,
    mtls: Option<bool>,
    seen: bool,
}

fn convert_node(n: &KialiNode) -> Option<GraphNode> {
    let (kind, name, version) = match n.node_type.as_str() {
        "workload" => (NodeKind::Workload, n.workload.clone()?, None),
        "app" => (NodeKind::Workload, n.app.clone()?, n.version.clone()),
        "service" => (NodeKind::Service, n.service.clone()?, None),
        "unknown" => (NodeKind::External, "unknown".to_owned(), None),
        _ => return None, // boxes and future node types
    };
    let namespace = if n.namespace.is_empty() {
        "unknown"
    } else {
        &n.namespace
    };
    Some(GraphNode {
        id: node_id(kind, namespace, &name, version.as_deref()),
        kind,
        name,
        namespace: namespace.to_owned(),
        version,
    })
}

/// How long one Kiali request may take.
pub const KIALI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A small client for Kiali's graph API.
#[derive(Clone)]
pub struct KialiClient {
    http: reqwest::Client,
    base: Url,
    basic: Option<crate::credentials::BasicAuth>,
    token: Option<String>,
}

impl fmt::Debug for KialiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KialiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl KialiClient {
    /// A client for Kiali at `url` (including its web root, e.g. `http://kiali:20001/kiali`).
    ///
    /// ```
    /// let k = mesh_telemetry::graph::KialiClient::new("http://kiali:20001/kiali", None).unwrap();
    /// assert!(format!("{k:?}").contains("kiali:20001/kiali/"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad URL.
    pub fn new(url: &str, token: Option<String>) -> Result<Self> {
        // A silent Kiali must not hang the caller: every request has a deadline.
        let http = reqwest::Client::builder()
            .timeout(KIALI_TIMEOUT)
            .build()
            .map_err(|e| Error::invalid("Kiali client", e.to_string()))?;
        let (base, basic) = parse_base_url(url)?;
        crate::credentials::warn_if_cleartext(&base, "Kiali", basic.is_some() || token.is_some());
        Ok(Self {
            http,
            base,
            basic,
            token,
        })
    }

    /// The same client with another request deadline ([`KIALI_TIMEOUT`] by default).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the HTTP client cannot be built.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Result<Self> {
        self.http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::invalid("Kiali client", e.to_string()))?;
        Ok(self)
    }

    /// The workload graph of `namespace` over `range`, p99 response times and mTLS.
    ///
    /// # Errors
    /// [`Error::Transport`], [`Error::Http`] for an error status, [`Error::Decode`].
    pub async fn graph(&self, namespace: &Namespace, range: TimeRange) -> Result<ServiceGraph> {
        let url = self
            .base
            .join("api/namespaces/graph")
            .map_err(|e| Error::invalid("url", e.to_string()))?;
        let query_time = range
            .end()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let params = [
            ("namespaces", namespace.to_string()),
            ("graphType", "workload".to_owned()),
            ("duration", format!("{}s", range.duration().as_secs().max(1))),
            ("queryTime", query_time.to_string()),
            ("responseTime", "99".to_owned()),
            ("appenders", "deadNode,responseTime,securityPolicy".to_owned()),
        ];
        let mut req = self.http.get(url.clone()).query(&params);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        } else if let Some(basic) = &self.basic {
            req = basic.apply(req);
        }
        let transport = |source| Error::Transport {
            service: "Kiali",
            endpoint: url.to_string(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let body = crate::body::read_capped(resp, "Kiali", url.as_str()).await?;
        if !(200..300).contains(&status) {
            return Err(Error::Http {
                service: "Kiali",
                http_status: status,
                message: snippet(&String::from_utf8_lossy(&body)),
            });
        }
        parse_kiali_graph(&body, namespace)
    }
}
