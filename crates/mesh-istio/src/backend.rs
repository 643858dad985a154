//! [`IstioBackend`]: the [`MeshBackend`] for Istio, over the shared Kubernetes engine.

use mesh_core::{
    ApplyReport, Capabilities, Change, DynStateStore, Error, MeshBackend, MeshKind, MtlsStatus, Namespace,
    Plan, Result,
};
use mesh_kube::KubeEngine;

use crate::{Config, IstioPlanner, objects, translate::peer_authentication};

/// The Istio backend: plans read through the engine, applies delegate to it (server-side dry run,
/// then the writes in plan order, with retries on transient failures).
///
/// It keeps state in the engine's store ([`MeshBackend::state_store`]); metrics, traces and the
/// graph come from `mesh-telemetry`, which the `Mesh` handle composes with it.
///
/// ```no_run
/// # async fn demo() -> mesh_core::Result<()> {
/// use mesh_core::{Change, MeshBackend, TrafficSplit};
/// let istio = mesh_istio::IstioBackend::try_default().await?;
/// let report = istio
///     .execute(&Change::SetTrafficWeight {
///         service: "bookinfo/reviews".parse()?,
///         split: TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)])?,
///     })
///     .await?;
/// assert_eq!(report.event.name(), "traffic.weight.updated");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IstioBackend {
    engine: KubeEngine,
    config: Config,
}

impl IstioBackend {
    /// A backend on `engine` with `config`.
    pub fn new(engine: KubeEngine, config: Config) -> Self {
        Self { engine, config }
    }

    /// A backend on the default Kubernetes client (kubeconfig or in-cluster) with the default
    /// [`Config`].
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when no Kubernetes configuration is found.
    pub async fn try_default() -> Result<Self> {
        Self::try_default_with(Config::default()).await
    }

    /// [`IstioBackend::try_default`] with `config` (trust domain, root namespace, ...).
    ///
    /// # Errors
    /// As [`IstioBackend::try_default`].
    pub async fn try_default_with(config: Config) -> Result<Self> {
        Ok(Self::new(KubeEngine::try_default(MeshKind::Istio).await?, config))
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Kubernetes engine.
    pub fn engine(&self) -> &KubeEngine {
        &self.engine
    }

    /// The planner under this backend's configuration.
    pub fn planner(&self) -> IstioPlanner {
        IstioPlanner::new(self.config.clone())
    }
}

impl MeshBackend for IstioBackend {
    fn kind(&self) -> MeshKind {
        MeshKind::Istio
    }

    fn capabilities(&self) -> Capabilities {
        crate::capabilities()
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        self.engine.plan_change(&self.planner(), change).await
    }

    async fn apply(&self, plan: &Plan) -> Result<ApplyReport> {
        if plan.mesh != MeshKind::Istio {
            return Err(Error::invalid(
                "plan.mesh",
                format!("a {} plan cannot be applied to istio", plan.mesh),
            ));
        }
        self.engine.apply(plan).await
    }

    /// Plans and applies `change`, planning again on fresh reads when a guarded write loses a
    /// race, up to [`Config::conflict_retries`] times ([`KubeEngine::execute_change`]).
    async fn execute(&self, change: &Change) -> Result<ApplyReport> {
        self.engine
            .execute_change(&self.planner(), change, self.config.conflict_retries)
            .await
    }

    async fn mtls_status(&self, namespace: &Namespace) -> Result<MtlsStatus> {
        let own = self.engine.get(&objects::peer_authentication(namespace)).await?;
        let root = Namespace::new(self.config.root_namespace.as_str())?;
        let mesh_wide = if root == *namespace {
            None
        } else {
            self.engine.get(&objects::peer_authentication(&root)).await?
        };
        Ok(peer_authentication::status(
            namespace,
            own.as_ref(),
            mesh_wide.as_ref(),
            &self.config.trust_domain,
        ))
    }

    /// State lives in one ConfigMap per key ([`crate::state_object`]), compare-and-swap on its
    /// `resourceVersion`: the engine's store.
    fn state_store(&self) -> Option<&dyn DynStateStore> {
        Some(&self.engine)
    }
}
