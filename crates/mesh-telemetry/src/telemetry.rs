//! [`Telemetry`]: what a backend holds to answer the three observability operations.

use std::time::{Duration, SystemTime};

use mesh_core::{MeshKind, Namespace, ServiceGraph, ServiceId, ServiceMetrics, TimeRange, Trace};

use crate::{
    Error,
    graph::{KialiClient, service_graph},
    metrics::service_metrics,
    prometheus::{PROMETHEUS_URL_ENV, PrometheusClient},
    promql::Dialect,
    traces::{TRACING_KIND_ENV, TRACING_URL_ENV, TraceQuery, TracingClient},
};

/// The observability sources of one mesh installation. Every source is optional; an operation
/// whose source is missing returns [`mesh_core::Error::NotConfigured`] saying what to set.
///
/// ```
/// use mesh_core::MeshKind;
/// use mesh_telemetry::{Telemetry, prometheus::PrometheusClient};
/// let t = Telemetry::default();
/// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let e = rt.block_on(t.get_service_graph(MeshKind::Istio, &"shop".parse().unwrap())).unwrap_err();
/// assert!(e.to_string().contains("PROMETHEUS_URL"));
///
/// let t = Telemetry { prometheus: Some(PrometheusClient::builder().url("http://prom:9090").build()?), ..Telemetry::default() };
/// assert!(t.prometheus.is_some());
/// # Ok::<(), mesh_telemetry::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Telemetry {
    /// Metrics and the graph.
    pub prometheus: Option<PrometheusClient>,
    /// Traces.
    pub tracing: Option<TracingClient>,
    /// Istio only: the graph from Kiali when no Prometheus is configured.
    pub kiali: Option<KialiClient>,
    /// The window of `get_service_graph` (ending now). Default 5 minutes.
    pub graph_window: Duration,
    /// How far back `get_service_traces` searches. Default 1 hour.
    pub trace_lookback: Duration,
}

impl Default for Telemetry {
    fn default() -> Self {
        Self {
            prometheus: None,
            tracing: None,
            kiali: None,
            graph_window: Duration::from_secs(300),
            trace_lookback: Duration::from_secs(3600),
        }
    }
}

impl Telemetry {
    /// Sources from the environment: `PROMETHEUS_URL`, `TRACING_URL` + `TRACING_KIND`,
    /// `KIALI_URL` (+ `KIALI_TOKEN`). Unset variables leave the source empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a set but unusable URL or an unknown `TRACING_KIND`.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Sources from the same names as [`Telemetry::from_env`], read through `lookup` (command-line
    /// flags over the environment, a config file, ...). Empty values count as unset.
    ///
    /// ```
    /// use mesh_telemetry::{Telemetry, traces::TracingKind};
    /// let t = Telemetry::from_lookup(|name| match name {
    ///     "PROMETHEUS_URL" => Some("http://prometheus.monitoring:9090".into()),
    ///     "TRACING_URL" => Some("http://zipkin:9411".into()),
    ///     "TRACING_KIND" => Some("zipkin".into()),
    ///     _ => None,
    /// })
    /// .unwrap();
    /// assert_eq!(t.prometheus.unwrap().base_url(), "http://prometheus.monitoring:9090/");
    /// assert_eq!(t.tracing.unwrap().kind(), TracingKind::Zipkin);
    /// assert!(t.kiali.is_none());
    /// ```
    ///
    /// # Errors
    /// As [`Telemetry::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let kiali = match get("KIALI_URL") {
            Some(url) => Some(KialiClient::new(&url, get("KIALI_TOKEN"))?),
            None => None,
        };
        let prometheus = match get(PROMETHEUS_URL_ENV) {
            Some(url) => Some(PrometheusClient::builder().url(url).build()?),
            None => None,
        };
        let kind = get(TRACING_KIND_ENV).map(|k| k.parse()).transpose()?;
        let tracing = match get(TRACING_URL_ENV) {
            Some(url) => {
                let builder = TracingClient::builder().url(url);
                Some(
                    match kind {
                        Some(k) => builder.kind(k),
                        None => builder,
                    }
                    .build()?,
                )
            }
            None => None,
        };
        Ok(Self {
            prometheus,
            tracing,
            kiali,
            ..Self::default()
        })
    }

    fn prometheus_client(&self) -> mesh_core::Result<&PrometheusClient> {
        self.prometheus.as_ref().ok_or_else(|| {
            mesh_core::Error::not_configured(
                "Prometheus URL",
                "set PROMETHEUS_URL (for Linkerd, linkerd-viz's Prometheus) or configure Telemetry.prometheus",
            )
        })
    }

    /// Request metrics of `service` over `range`, per version and overall (two queries).
    ///
    /// # Errors
    /// [`mesh_core::Error::NotConfigured`] without Prometheus; [`mesh_core::Error::Backend`] when
    /// Prometheus fails.
    pub async fn get_service_metrics(
        &self,
        mesh: MeshKind,
        service: &ServiceId,
        range: TimeRange,
    ) -> mesh_core::Result<ServiceMetrics> {
        service_metrics(self.prometheus_client()?, Dialect::for_mesh(mesh), service, range)
            .await
            .map_err(|e| e.into_core(mesh))
    }

    /// Up to `limit` traces through `service` from the last [`Telemetry::trace_lookback`].
    ///
    /// # Errors
    /// [`mesh_core::Error::NotConfigured`] without a tracing backend; [`mesh_core::Error::Backend`]
    /// when it fails.
    pub async fn get_service_traces(
        &self,
        mesh: MeshKind,
        service: &ServiceId,
        limit: usize,
    ) -> mesh_core::Result<Vec<Trace>> {
        let range = TimeRange::ending_at(SystemTime::now(), self.trace_lookback)?;
        self.get_service_traces_in(mesh, service, range, limit).await
    }

    /// Up to `limit` traces through `service` that started within `range`.
    ///
    /// # Errors
    /// As [`Telemetry::get_service_traces`].
    pub async fn get_service_traces_in(
        &self,
        mesh: MeshKind,
        service: &ServiceId,
        range: TimeRange,
        limit: usize,
    ) -> mesh_core::Result<Vec<Trace>> {
        let client = self.tracing.as_ref().ok_or_else(|| {
            mesh_core::Error::not_configured(
                "tracing backend",
                "set TRACING_URL and TRACING_KIND (jaeger, jaeger-v1, zipkin, tempo) or configure Telemetry.tracing",
            )
        })?;
        let query = TraceQuery {
            service: trace_service_name(mesh, service),
            range,
            limit,
        };
        client.find_traces(&query).await.map_err(|e| e.into_core(mesh))
    }

    /// The graph of `namespace` over the last [`Telemetry::graph_window`].
    ///
    /// # Errors
    /// As [`Telemetry::get_service_graph_in`].
    pub async fn get_service_graph(
        &self,
        mesh: MeshKind,
        namespace: &Namespace,
    ) -> mesh_core::Result<ServiceGraph> {
        let range = TimeRange::ending_at(SystemTime::now(), self.graph_window)?;
        self.get_service_graph_in(mesh, namespace, range).await
    }

    /// The graph of `namespace` over `range`: from Prometheus (two queries), or for Istio from
    /// Kiali when only Kiali is configured.
    ///
    /// # Errors
    /// [`mesh_core::Error::NotConfigured`] without a source; [`mesh_core::Error::Backend`] when it
    /// fails.
    pub async fn get_service_graph_in(
        &self,
        mesh: MeshKind,
        namespace: &Namespace,
        range: TimeRange,
    ) -> mesh_core::Result<ServiceGraph> {
        if self.prometheus.is_none()
            && mesh == MeshKind::Istio
            && let Some(kiali) = &self.kiali
        {
            return kiali.graph(namespace, range).await.map_err(|e| e.into_core(mesh));
        }
        service_graph(
            self.prometheus_client()?,
            Dialect::for_mesh(mesh),
            namespace,
            range,
        )
        .await
        .map_err(|e| e.into_core(mesh))
    }
}

/// The service name the mesh's tracer records: Istio's default is `<app>.<namespace>`; Linkerd
/// and Consul (Envoy) use the service name.
///
/// ```
/// use mesh_core::MeshKind;
/// use mesh_telemetry::trace_service_name;
/// let id = "bookinfo/reviews".parse().unwrap();
/// assert_eq!(trace_service_name(MeshKind::Istio, &id), "reviews.bookinfo");
/// assert_eq!(trace_service_name(MeshKind::Consul, &id), "reviews");
/// ```
pub fn trace_service_name(mesh: MeshKind, service: &ServiceId) -> String {
    match mesh {
        MeshKind::Istio => format!("{}.{}", service.name, service.namespace),
        MeshKind::Linkerd | MeshKind::Consul => service.name.to_string(),
    }
}
