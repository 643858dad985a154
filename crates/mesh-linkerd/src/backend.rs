//! [`LinkerdBackend`]: the [`MeshBackend`] over mesh-kube's [`KubeEngine`].

use std::sync::OnceLock;

use mesh_core::{
    ApplyReport, Capabilities, Change, DynStateStore, Error, MeshBackend, MeshKind, MtlsStatus, Namespace,
    Plan, Result,
};
use mesh_kube::KubeEngine;

use crate::{Config, LinkerdPlanner, LinkerdVersion, objects, translate};

/// The CRDs whose served versions tell the Linkerd release apart.
const VERSION_MARKERS: [(&str, &str); 3] = [
    ("policy.linkerd.io", "egressnetworks"),
    ("policy.linkerd.io", "servers"),
    ("workload.linkerd.io", "externalworkloads"),
];

/// The Linkerd backend: plans through [`crate::plan`] reading the cluster, and applies through the
/// shared Kubernetes engine (dry run of every write first, then the writes in order).
///
/// Annotation-only writes (failure accrual, retries and timeouts, the default inbound policy) are
/// server-side applied by a field manager of their own (`mesh-circuit-breaker`, …), so they own
/// nothing but their annotations on a Service or Namespace the user owns.
///
/// ```no_run
/// # async fn demo() -> mesh_core::Result<()> {
/// use mesh_core::{Change, MeshBackend, TrafficSplit};
/// use mesh_linkerd::{Config, LinkerdBackend};
/// let linkerd = LinkerdBackend::try_default(Config::default()).await?;
/// let change = Change::SetTrafficWeight {
///     service: "prod/reviews".parse()?,
///     split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
/// };
/// let report = linkerd.execute(&change).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LinkerdBackend {
    engine: KubeEngine,
    config: Config,
    detected: OnceLock<LinkerdVersion>,
}

impl LinkerdBackend {
    /// A backend on `engine`. The release is `config.version`, or detected on first use.
    pub fn new(engine: KubeEngine, config: Config) -> Self {
        Self {
            engine,
            config,
            detected: OnceLock::new(),
        }
    }

    /// A backend on `engine` whose release is known before the first call: the configured one, or
    /// detected now, so that [`MeshBackend::capabilities`] describes the cluster.
    ///
    /// # Errors
    /// As [`LinkerdBackend::version`].
    pub async fn connect(engine: KubeEngine, config: Config) -> Result<Self> {
        let backend = Self::new(engine, config);
        backend.version().await?;
        Ok(backend)
    }

    /// A backend on the default Kubernetes client (kubeconfig or in-cluster).
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when there is no Kubernetes configuration.
    pub async fn try_default(config: Config) -> Result<Self> {
        Ok(Self::new(
            KubeEngine::try_default(MeshKind::Linkerd).await?,
            config,
        ))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The engine.
    pub fn engine(&self) -> &KubeEngine {
        &self.engine
    }

    /// The release in force: the configured one, else the one detected from the CRD versions the
    /// cluster serves (read once).
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when no Linkerd CRD is installed; the engine's errors.
    pub async fn version(&self) -> Result<LinkerdVersion> {
        if let Some(v) = self.config.version.or_else(|| self.detected.get().copied()) {
            return Ok(v);
        }
        let mut served = Vec::new();
        for (group, plural) in VERSION_MARKERS {
            let versions = self.engine.served_versions(group, plural).await?;
            if !versions.is_empty() {
                served.push((group.to_owned(), plural.to_owned(), versions));
            }
        }
        let v = LinkerdVersion::detect(&served).ok_or_else(|| {
            Error::not_configured(
                "Linkerd CRDs (servers.policy.linkerd.io)",
                "install Linkerd 2.14 or later, or set Config::version to plan offline",
            )
        })?;
        Ok(*self.detected.get_or_init(|| v))
    }

    /// The planner for `change`: for the configured or detected release. With the release not
    /// known yet, what no release can do is refused before the reads that detect it, so bad input
    /// costs no request.
    ///
    /// # Errors
    /// The refusal, or as [`LinkerdBackend::version`].
    async fn planner(&self, change: &Change) -> Result<LinkerdPlanner> {
        let version = match self.config.version.or_else(|| self.detected.get().copied()) {
            Some(v) => v,
            None => {
                change.validate()?;
                let mut refusals: Vec<Error> = LinkerdVersion::ALL
                    .iter()
                    .filter_map(|v| crate::refuse(change, &self.config, *v).err())
                    .collect();
                if refusals.len() == LinkerdVersion::ALL.len()
                    && let Some(e) = refusals.pop()
                {
                    return Err(e);
                }
                self.version().await?
            }
        };
        Ok(LinkerdPlanner::new(self.config.clone(), version))
    }

    /// Whether the Linkerd policy controller accepted the service's HTTPRoute: `Some(true)` when
    /// every parent reports `Accepted: True` in `status.parents[].conditions`, `Some(false)` when
    /// one reports otherwise, `None` when there is no route or no status yet.
    ///
    /// # Errors
    /// The engine's errors, and those of [`LinkerdBackend::version`].
    pub async fn route_accepted(&self, service: &mesh_core::ServiceId) -> Result<Option<bool>> {
        let version = self.version().await?;
        let route = objects::http_route(
            service,
            &version.http_route_api_version(self.config.http_route_flavour),
        );
        let Some(route) = self.engine.get(&route).await? else {
            return Ok(None);
        };
        Ok(translate::http_route::accepted(&route))
    }
}

impl MeshBackend for LinkerdBackend {
    fn kind(&self) -> MeshKind {
        MeshKind::Linkerd
    }

    fn capabilities(&self) -> Capabilities {
        let version = self
            .config
            .version
            .or_else(|| self.detected.get().copied())
            .unwrap_or_default();
        crate::capabilities(version, &self.config)
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        let planner = self.planner(change).await?;
        self.engine.plan_change(&planner, change).await
    }

    /// The engine's apply: a dry run of every write of a multi-object plan, then the writes in
    /// order, each as its own field manager (annotation-only writes land as their concept's).
    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        self.engine.apply(plan).await
    }

    /// Plans and applies `change`, planning again on fresh reads when a guarded write loses a
    /// race (a user or another process changed the HTTPRoute after it was read), up to
    /// [`Config::conflict_retries`] times ([`KubeEngine::execute_change`]).
    async fn execute(&self, change: &Change) -> Result<ApplyReport> {
        let planner = self.planner(change).await?;
        self.engine
            .execute_change(&planner, change, self.config.conflict_retries)
            .await
    }

    /// State lives in one ConfigMap per key ([`crate::state_object`]), compare-and-swap on its
    /// `resourceVersion`: the engine's store.
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        Some(&self.engine)
    }

    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let ns = self.engine.get(&objects::namespace(namespace.as_str())).await?;
        let ns = ns.ok_or_else(|| Error::NotFound {
            kind: "Namespace".into(),
            name: namespace.to_string(),
        })?;
        Ok(translate::mtls::status(
            namespace,
            Some(&ns),
            &self.config.trust_domain,
        ))
    }
}
