//! A render-only mesh: the real planner of a backend against an empty control plane, with no I/O.
//! It renders the exact objects a fresh cluster (or Consul datacenter) would receive, which is
//! what a GitOps repository holds, and what `meshctl --target render` prints.

use mesh_core::{ApplyReport, Capabilities, Change, Error, MeshBackend, MeshKind, Namespace, Plan, Result};

use crate::{ConnectOptions, Mesh};

/// The port [`Offline`] assumes the service's Kubernetes Service exposes, unless told otherwise
/// ([`Offline::service_port`]): Linkerd's routes name it.
pub const DEFAULT_ASSUMED_SERVICE_PORT: u16 = 80;

/// A backend that plans with the real planner of `kind` against an empty control plane and never
/// writes. [`Mesh::offline`] wraps one with the defaults.
///
/// ```
/// # #[cfg(feature = "istio")] {
/// use mesh_handle::{Change, Mesh, MeshKind, TrafficSplit};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mesh = Mesh::offline(MeshKind::Istio).unwrap();
/// let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap();
/// let plan = mesh
///     .plan(&Change::SetTrafficWeight { service: "shop/reviews".parse().unwrap(), split })
///     .await
///     .unwrap();
/// // The real VirtualService and DestinationRule, not placeholders.
/// let kinds: Vec<&str> = plan.writes.iter().map(|w| w.target.kind.as_str()).collect();
/// assert!(kinds.contains(&"VirtualService") && kinds.contains(&"DestinationRule"), "{kinds:?}");
/// // Rendering never writes.
/// assert!(mesh.apply(&plan).await.is_err());
/// # });
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Offline {
    kind: MeshKind,
    options: ConnectOptions,
    service_port: u16,
}

impl Offline {
    /// The render-only backend of `kind`, with every backend's default settings and no opt-in.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when the backend's feature is off.
    pub fn new(kind: MeshKind) -> Result<Self> {
        Mesh::ensure_compiled_in(kind)?;
        Ok(Self {
            kind,
            options: ConnectOptions::default(),
            service_port: DEFAULT_ASSUMED_SERVICE_PORT,
        })
    }

    /// Plans with these settings and opt-ins (the same ones [`Mesh::connect_with`] takes).
    #[must_use]
    pub fn options(mut self, options: &ConnectOptions) -> Self {
        self.options = options.clone();
        self
    }

    /// Assumes that the service's Kubernetes Service exposes `port` (Linkerd's routes name it;
    /// the plan says so in a warning).
    #[must_use]
    pub fn service_port(mut self, port: u16) -> Self {
        self.service_port = port;
        self
    }

    fn not_compiled(&self) -> Error {
        Error::not_configured(
            format!("the {} backend", self.kind),
            format!("enable the `{}` feature of the `mesh` crate", self.kind),
        )
    }

    #[cfg(feature = "linkerd")]
    fn plan_linkerd(&self, change: &Change) -> Result<Plan> {
        let config = self.options.linkerd.clone();
        let version = config.version.unwrap_or_default();
        let mut snapshot = mesh_linkerd::Snapshot::default();
        let app = config.selector_labels.app().to_owned();
        let assume_service = |snapshot: &mut mesh_linkerd::Snapshot, id: &mesh_core::ServiceId, port: u16| {
            snapshot.insert(
                mesh_linkerd::objects::service(id),
                serde_json::json!({"metadata": {"name": id.name, "namespace": id.namespace},
                    "spec": {"selector": {&app: id.name}, "ports": [{"name": "http", "port": port}]}}),
            );
        };
        if let Some(id) = existing_service_of(change) {
            // Linkerd routes name the apex Service's port; offline, it is assumed.
            assume_service(&mut snapshot, &id, self.service_port);
        }
        if let (Change::InjectFault { service, .. }, Some((backend, port))) =
            (change, &config.fault_error_backend)
        {
            // The opted-in error backend is assumed deployed, as the apex Service is.
            let id = mesh_core::ServiceId::new(service.namespace.clone(), backend.parse()?);
            assume_service(&mut snapshot, &id, *port);
        }
        let mut plan = mesh_linkerd::plan(change, &snapshot, &config, version)?;
        plan.warnings.push(format!(
            "rendered assuming the apex Service exposes port {}; pass --service-port to change it",
            self.service_port
        ));
        Ok(plan)
    }
}

impl MeshBackend for Offline {
    fn kind(&self) -> MeshKind {
        self.kind
    }

    fn capabilities(&self) -> Capabilities {
        match self.kind {
            #[cfg(feature = "istio")]
            MeshKind::Istio => mesh_istio::capabilities(),
            #[cfg(feature = "linkerd")]
            MeshKind::Linkerd => {
                let config = &self.options.linkerd;
                mesh_linkerd::capabilities(config.version.unwrap_or_default(), config)
            }
            // Abort faults stay `Emulated` on CE with or without the opt-in, which decides
            // whether they are used.
            #[cfg(feature = "consul")]
            MeshKind::Consul => {
                mesh_consul::capabilities::capabilities(&self.options.consul_version.unwrap_or_default())
            }
            #[allow(unreachable_patterns)]
            kind => Capabilities::new(kind),
        }
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        match self.kind {
            #[cfg(feature = "istio")]
            MeshKind::Istio => {
                mesh_istio::plan(change, &mesh_istio::Snapshot::default(), &self.options.istio)
            }
            #[cfg(feature = "linkerd")]
            MeshKind::Linkerd => self.plan_linkerd(change),
            #[cfg(feature = "consul")]
            MeshKind::Consul => {
                let ctx = mesh_consul::translate::Context {
                    lua_fault_emulation: self.options.consul_lua_abort_emulation,
                    selector_labels: self.options.consul_selector_labels.clone(),
                    ..mesh_consul::translate::Context::new(self.options.consul_version.unwrap_or_default())
                };
                mesh_consul::translate::plan(change, &ctx, &mesh_consul::translate::Snapshot::default())
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = change;
                Err(self.not_compiled())
            }
        }
    }

    async fn apply(&self, _plan: &Plan) -> Result<ApplyReport> {
        Err(Error::not_configured(
            "a control plane",
            "rendering only; connect to a control plane to write (meshctl: --target apply)",
        ))
    }

    /// Every mesh reports its mTLS state; rendering has none to read (it once answered "does not
    /// support", which is not true of any mesh).
    async fn mtls_status(&self, _namespace: &Namespace) -> Result<mesh_core::MtlsStatus> {
        Err(Error::not_configured(
            "a control plane",
            "the mTLS status is read from a live control plane (meshctl: --target apply; reads never write)",
        ))
    }
}

impl Mesh {
    /// A render-only mesh of `kind` with the defaults ([`Offline`]): the real planner against an
    /// empty control plane. For settings and opt-ins, wrap an [`Offline`] with
    /// [`Mesh::from_backend`].
    ///
    /// # Errors
    /// [`Error::NotConfigured`] when the backend's feature is off.
    pub fn offline(kind: MeshKind) -> Result<Self> {
        Ok(Self::from_backend(Offline::new(kind)?))
    }
}

/// The service a change is about, for changes that need one existing Service.
#[cfg(feature = "linkerd")]
fn existing_service_of(change: &Change) -> Option<mesh_core::ServiceId> {
    match change {
        // Linkerd's Server for a targeted policy selects the Service's pods on its port.
        Change::CreateAuthorizationPolicy(p) => p
            .target
            .as_ref()
            .map(|t| mesh_core::ServiceId::new(p.namespace.clone(), t.clone())),
        // Registration creates the Service; the others build on an existing one.
        Change::RegisterService(_) | Change::UnregisterService { .. } | Change::RemoveFault { .. } => None,
        other => other.service(),
    }
}
