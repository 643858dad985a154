//! The PromQL of each mesh: which metrics, which labels, and how a response row is classified.
//!
//! Every query is one batched instant query per metric family: requests grouped by version and
//! response class, and histogram bucket rates grouped by version and `le`. The quantiles are then
//! computed here from the bucket rates (see [`crate::metrics`]), which is what Prometheus'
//! `histogram_quantile` does with the same input.

use std::time::Duration;

use mesh_core::{MeshKind, NodeKind};

use super::selector::{Selector, range};
use crate::prometheus::Labels;

/// How one row of a request-count query counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 1xx-3xx: a success.
    Success,
    /// 4xx: counted apart, not an error.
    ClientError,
    /// 5xx, no response, or a proxy-level failure.
    Error,
}

/// Where an edge's mTLS flag comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsSource {
    /// A label whose value is `secure` on mTLS traffic (Istio `connection_security_policy`,
    /// Linkerd `tls`).
    Label {
        /// The label name.
        name: &'static str,
        /// The value meaning mTLS.
        secure: &'static str,
    },
    /// The mesh only carries mTLS between sidecars (Consul).
    Always,
}

/// The labels that name the two ends of a graph edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLabels {
    /// Caller namespace.
    pub source_namespace: &'static str,
    /// Caller name.
    pub source_name: &'static str,
    /// Callee namespace.
    pub target_namespace: &'static str,
    /// Callee name.
    pub target_name: &'static str,
}

/// One mesh's PromQL dialect.
///
/// ```
/// use std::time::Duration;
/// use mesh_core::MeshKind;
/// use mesh_telemetry::promql::Dialect;
/// let d = Dialect::for_mesh(MeshKind::Istio);
/// assert_eq!(
///     d.service_requests_query("bookinfo", "reviews", Duration::from_secs(300)),
///     "sum by (destination_version, response_code) (rate(istio_requests_total{reporter=\"destination\",\
/// destination_service_namespace=\"bookinfo\",destination_service_name=\"reviews\"}[300s]))"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    mesh: MeshKind,
    requests_metric: &'static str,
    buckets_metric: &'static str,
    service_fixed: &'static [(&'static str, &'static str)],
    service_namespace_label: &'static str,
    service_name_label: &'static str,
    version_label: &'static str,
    outcome_labels: &'static [&'static str],
    graph_fixed: &'static [(&'static str, &'static str)],
    edge: EdgeLabels,
    mtls: MtlsSource,
    node_kind: NodeKind,
}

const ISTIO: Dialect = Dialect {
    mesh: MeshKind::Istio,
    requests_metric: "istio_requests_total",
    buckets_metric: "istio_request_duration_milliseconds_bucket",
    service_fixed: &[("reporter", "destination")],
    service_namespace_label: "destination_service_namespace",
    service_name_label: "destination_service_name",
    version_label: "destination_version",
    outcome_labels: &["response_code"],
    graph_fixed: &[("reporter", "destination")],
    edge: EdgeLabels {
        source_namespace: "source_workload_namespace",
        source_name: "source_workload",
        target_namespace: "destination_workload_namespace",
        target_name: "destination_workload",
    },
    mtls: MtlsSource::Label {
        name: "connection_security_policy",
        secure: "mutual_tls",
    },
    node_kind: NodeKind::Workload,
};

/// Linkerd: inbound `response_total` on the server's proxy for service metrics, selected by the
/// `app` pod label and split by the `version` pod label (both copied onto the series by
/// linkerd-viz's scrape job); outbound series (which carry `dst_*` labels) for the graph.
const LINKERD: Dialect = Dialect {
    mesh: MeshKind::Linkerd,
    requests_metric: "response_total",
    buckets_metric: "response_latency_ms_bucket",
    service_fixed: &[("direction", "inbound")],
    service_namespace_label: "namespace",
    service_name_label: "app",
    version_label: "version",
    outcome_labels: &["classification", "status_code"],
    graph_fixed: &[("direction", "outbound")],
    edge: EdgeLabels {
        source_namespace: "namespace",
        source_name: "deployment",
        target_namespace: "dst_namespace",
        target_name: "dst_deployment",
    },
    mtls: MtlsSource::Label {
        name: "tls",
        secure: "true",
    },
    node_kind: NodeKind::Workload,
};

/// Consul: the callers' Envoy upstream-cluster stats, tagged by Consul with the destination
/// service, namespace and subset (the subset names the version).
const CONSUL: Dialect = Dialect {
    mesh: MeshKind::Consul,
    requests_metric: "envoy_cluster_upstream_rq_xx",
    buckets_metric: "envoy_cluster_upstream_rq_time_bucket",
    service_fixed: &[],
    service_namespace_label: "consul_destination_namespace",
    service_name_label: "consul_destination_service",
    version_label: "consul_destination_service_subset",
    outcome_labels: &["envoy_response_code_class"],
    graph_fixed: &[],
    edge: EdgeLabels {
        source_namespace: "consul_source_namespace",
        source_name: "consul_source_service",
        target_namespace: "consul_destination_namespace",
        target_name: "consul_destination_service",
    },
    mtls: MtlsSource::Always,
    node_kind: NodeKind::Service,
};

impl Dialect {
    /// The dialect of `mesh`.
    pub const fn for_mesh(mesh: MeshKind) -> Self {
        match mesh {
            MeshKind::Istio => ISTIO,
            MeshKind::Linkerd => LINKERD,
            MeshKind::Consul => CONSUL,
        }
    }

    /// The mesh.
    pub fn mesh(&self) -> MeshKind {
        self.mesh
    }

    /// The label carrying the version.
    pub fn version_label(&self) -> &'static str {
        self.version_label
    }

    /// The labels naming an edge's ends.
    pub fn edge_labels(&self) -> EdgeLabels {
        self.edge
    }

    /// Where the mTLS flag comes from.
    pub fn mtls_source(&self) -> MtlsSource {
        self.mtls
    }

    /// What graph nodes stand for in this mesh.
    pub fn node_kind(&self) -> NodeKind {
        self.node_kind
    }

    fn service_selector(&self, metric: &'static str, namespace: &str, service: &str) -> Selector {
        let mut s = Selector::new(metric);
        for (k, v) in self.service_fixed {
            s = s.eq(k, *v);
        }
        s.eq(self.service_namespace_label, namespace)
            .eq(self.service_name_label, service)
    }

    /// Request rates of one service over `window`, grouped by version and response class.
    pub fn service_requests_query(&self, namespace: &str, service: &str, window: Duration) -> String {
        let by = std::iter::once(self.version_label)
            .chain(self.outcome_labels.iter().copied())
            .collect::<Vec<_>>()
            .join(", ");
        let sel = self.service_selector(self.requests_metric, namespace, service);
        format!("sum by ({by}) (rate({sel}[{}]))", range(window))
    }

    /// Latency bucket rates of one service over `window`, grouped by version and `le`.
    pub fn service_latency_query(&self, namespace: &str, service: &str, window: Duration) -> String {
        let sel = self.service_selector(self.buckets_metric, namespace, service);
        format!(
            "sum by ({}, le) (rate({sel}[{}]))",
            self.version_label,
            range(window)
        )
    }

    /// Edge request rates of a namespace (traffic into or out of it), grouped by both ends, the
    /// response class and the mTLS label.
    pub fn graph_requests_query(&self, namespace: &str, window: Duration) -> String {
        let mut by = self.edge_by();
        by.extend(self.outcome_labels.iter().copied());
        if let MtlsSource::Label { name, .. } = self.mtls {
            by.push(name);
        }
        self.graph_query(self.requests_metric, &by.join(", "), namespace, window)
    }

    /// Edge latency bucket rates of a namespace, grouped by both ends and `le`.
    pub fn graph_latency_query(&self, namespace: &str, window: Duration) -> String {
        let mut by = self.edge_by();
        by.push("le");
        self.graph_query(self.buckets_metric, &by.join(", "), namespace, window)
    }

    fn edge_by(&self) -> Vec<&'static str> {
        vec![
            self.edge.source_namespace,
            self.edge.source_name,
            self.edge.target_namespace,
            self.edge.target_name,
        ]
    }

    /// `sum by (..) (rate(m{.., dst_ns="NS"}[w])) or sum by (..) (rate(m{.., src_ns="NS"}[w]))`:
    /// one query; `or` drops the right-hand rows whose label set the left side already has, so an
    /// edge inside the namespace is counted once.
    fn graph_query(&self, metric: &'static str, by: &str, namespace: &str, window: Duration) -> String {
        let side = |label: &'static str| {
            let mut s = Selector::new(metric);
            for (k, v) in self.graph_fixed {
                s = s.eq(k, *v);
            }
            let s = s.eq(label, namespace);
            format!("sum by ({by}) (rate({s}[{}]))", range(window))
        };
        format!(
            "{} or {}",
            side(self.edge.target_namespace),
            side(self.edge.source_namespace)
        )
    }

    /// Classifies one row of a requests query.
    ///
    /// ```
    /// use mesh_core::MeshKind;
    /// use mesh_telemetry::promql::{Dialect, Outcome};
    /// let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    /// let istio = Dialect::for_mesh(MeshKind::Istio);
    /// assert_eq!(istio.classify(&labels(&[("response_code", "0")])), Outcome::Error); // no response
    /// assert_eq!(istio.classify(&labels(&[("response_code", "404")])), Outcome::ClientError);
    /// let linkerd = Dialect::for_mesh(MeshKind::Linkerd);
    /// assert_eq!(linkerd.classify(&labels(&[("classification", "failure"), ("status_code", "")])), Outcome::Error);
    /// let consul = Dialect::for_mesh(MeshKind::Consul);
    /// assert_eq!(consul.classify(&labels(&[("envoy_response_code_class", "5")])), Outcome::Error);
    /// ```
    pub fn classify(&self, labels: &Labels) -> Outcome {
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        match self.mesh {
            MeshKind::Istio => http_outcome(get("response_code")),
            MeshKind::Linkerd => {
                if get("classification") == "failure" {
                    Outcome::Error
                } else if get("status_code").starts_with('4') {
                    Outcome::ClientError
                } else {
                    Outcome::Success
                }
            }
            MeshKind::Consul => match get("envoy_response_code_class") {
                "5" => Outcome::Error,
                "4" => Outcome::ClientError,
                _ => Outcome::Success,
            },
        }
    }

    /// The mTLS flag of one row of a graph requests query.
    pub fn mtls_of(&self, labels: &Labels) -> Option<bool> {
        match self.mtls {
            MtlsSource::Always => Some(true),
            MtlsSource::Label { name, secure } => match labels.get(name).map(String::as_str) {
                None | Some("") | Some("unknown") => None,
                Some(v) => Some(v == secure),
            },
        }
    }
}

/// HTTP status classes; `0` (or a missing/unparseable code) means no response was sent.
fn http_outcome(code: &str) -> Outcome {
    match code.parse::<u16>() {
        Ok(c) if (400..500).contains(&c) => Outcome::ClientError,
        Ok(c) if (100..500).contains(&c) => Outcome::Success,
        _ => Outcome::Error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::is_label_name;

    const W: Duration = Duration::from_secs(300);

    #[test]
    fn every_label_name_is_valid() {
        for mesh in MeshKind::ALL {
            let d = Dialect::for_mesh(mesh);
            let mut names = vec![
                d.service_namespace_label,
                d.service_name_label,
                d.version_label,
                d.edge.source_namespace,
                d.edge.source_name,
                d.edge.target_namespace,
                d.edge.target_name,
            ];
            names.extend(d.outcome_labels);
            names.extend(d.service_fixed.iter().map(|(k, _)| *k));
            names.extend(d.graph_fixed.iter().map(|(k, _)| *k));
            if let MtlsSource::Label { name, .. } = d.mtls {
                names.push(name);
            }
            assert!(names.iter().all(|n| is_label_name(n)), "{mesh}: {names:?}");
        }
    }

    #[test]
    fn linkerd_and_consul_queries() {
        let l = Dialect::for_mesh(MeshKind::Linkerd);
        assert_eq!(
            l.service_latency_query("shop", "cart", W),
            r#"sum by (version, le) (rate(response_latency_ms_bucket{direction="inbound",namespace="shop",app="cart"}[300s]))"#
        );
        assert_eq!(
            l.service_requests_query("shop", "cart", W),
            r#"sum by (version, classification, status_code) (rate(response_total{direction="inbound",namespace="shop",app="cart"}[300s]))"#
        );
        let c = Dialect::for_mesh(MeshKind::Consul);
        assert_eq!(
            c.service_requests_query("default", "api", W),
            r#"sum by (consul_destination_service_subset, envoy_response_code_class) (rate(envoy_cluster_upstream_rq_xx{consul_destination_namespace="default",consul_destination_service="api"}[300s]))"#
        );
    }

    #[test]
    fn graph_query_unions_both_directions() {
        let q = Dialect::for_mesh(MeshKind::Istio).graph_requests_query("bookinfo", W);
        assert_eq!(
            q,
            "sum by (source_workload_namespace, source_workload, destination_workload_namespace, destination_workload, response_code, connection_security_policy) (rate(istio_requests_total{reporter=\"destination\",destination_workload_namespace=\"bookinfo\"}[300s])) \
             or sum by (source_workload_namespace, source_workload, destination_workload_namespace, destination_workload, response_code, connection_security_policy) (rate(istio_requests_total{reporter=\"destination\",source_workload_namespace=\"bookinfo\"}[300s]))"
        );
        let q = Dialect::for_mesh(MeshKind::Consul).graph_latency_query("default", W);
        assert!(q.starts_with("sum by (consul_source_namespace, consul_source_service, consul_destination_namespace, consul_destination_service, le) (rate(envoy_cluster_upstream_rq_time_bucket{consul_destination_namespace=\"default\"}[300s])) or "));
    }

    #[test]
    fn hostile_service_name_stays_a_value() {
        let q = Dialect::for_mesh(MeshKind::Istio).service_requests_query("ns", r#"a"} or vector(1) #"#, W);
        assert_eq!(
            q,
            r#"sum by (destination_version, response_code) (rate(istio_requests_total{reporter="destination",destination_service_namespace="ns",destination_service_name="a\"} or vector(1) #"}[300s]))"#
        );
    }

    #[test]
    fn mtls_flags() {
        let row = |k: &str, v: &str| Labels::from([(k.to_owned(), v.to_owned())]);
        let istio = Dialect::for_mesh(MeshKind::Istio);
        assert_eq!(
            istio.mtls_of(&row("connection_security_policy", "mutual_tls")),
            Some(true)
        );
        assert_eq!(
            istio.mtls_of(&row("connection_security_policy", "none")),
            Some(false)
        );
        assert_eq!(istio.mtls_of(&row("connection_security_policy", "unknown")), None);
        let linkerd = Dialect::for_mesh(MeshKind::Linkerd);
        assert_eq!(linkerd.mtls_of(&row("tls", "true")), Some(true));
        assert_eq!(linkerd.mtls_of(&row("tls", "no_identity")), Some(false));
        assert_eq!(
            Dialect::for_mesh(MeshKind::Consul).mtls_of(&Labels::new()),
            Some(true)
        );
    }

    #[test]
    fn http_outcomes() {
        assert_eq!(http_outcome("200"), Outcome::Success);
        assert_eq!(http_outcome("302"), Outcome::Success);
        assert_eq!(http_outcome("499"), Outcome::ClientError);
        assert_eq!(http_outcome("503"), Outcome::Error);
        assert_eq!(http_outcome("0"), Outcome::Error);
    }
}
