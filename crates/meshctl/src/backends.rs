//! Building the `Mesh` a command talks to: an offline planner for `--target render`, the live
//! backend for `--target apply`, and `--mesh auto` detection.

use mesh::{ApplyReport, Capabilities, Change, Error, Mesh, MeshBackend, MeshKind, Plan, Result};
use mesh_kube::KubeEngine;

use crate::cli::{Cli, MeshArg, Target};

/// Plans against an empty control plane and never writes: what `--target render` uses. Plans made
/// this way are what a GitOps repository holds for a fresh cluster.
struct Offline {
    kind: MeshKind,
    /// The port the apex Service is assumed to expose (Linkerd's routes name it).
    service_port: u16,
    /// The backends' settings and opt-ins (`--trust-domain`, `--linkerd-fault-backend`, ...).
    options: mesh::ConnectOptions,
}

impl Offline {
    fn consul_version(&self) -> mesh::consul::ConsulVersion {
        self.options.consul_version.unwrap_or_default()
    }
}

impl MeshBackend for Offline {
    fn kind(&self) -> MeshKind {
        self.kind
    }

    fn capabilities(&self) -> Capabilities {
        match self.kind {
            MeshKind::Istio => mesh::istio::capabilities(),
            MeshKind::Linkerd => {
                let config = &self.options.linkerd;
                mesh::linkerd::capabilities(config.version.unwrap_or_default(), config)
            }
            // Abort faults stay `Emulated` on CE with or without the opt-in, which decides
            // whether they are used.
            MeshKind::Consul => mesh::consul::capabilities::capabilities(&self.consul_version()),
        }
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        match self.kind {
            MeshKind::Istio => {
                mesh::istio::plan(change, &mesh::istio::Snapshot::default(), &self.options.istio)
            }
            MeshKind::Linkerd => {
                let config = self.options.linkerd.clone();
                let version = config.version.unwrap_or_default();
                let mut snapshot = mesh::linkerd::Snapshot::default();
                if let Some(id) = service_of(change) {
                    // Linkerd routes name the apex Service's port; offline, it is assumed.
                    snapshot.insert(
                        mesh::linkerd::objects::service(&id),
                        serde_json::json!({"metadata": {"name": id.name, "namespace": id.namespace},
                            "spec": {"selector": {"app": id.name}, "ports": [{"name": "http", "port": self.service_port}]}}),
                    );
                }
                if let (Change::InjectFault { service, .. }, Some((backend, port))) =
                    (change, &config.fault_error_backend)
                {
                    // The opted-in error backend is assumed deployed, as the apex Service is.
                    let id = mesh::ServiceId::new(service.namespace.clone(), backend.parse()?);
                    snapshot.insert(
                        mesh::linkerd::objects::service(&id),
                        serde_json::json!({"metadata": {"name": id.name, "namespace": id.namespace},
                            "spec": {"selector": {"app": id.name}, "ports": [{"name": "http", "port": port}]}}),
                    );
                }
                let mut plan = mesh::linkerd::plan(change, &snapshot, &config, version).await?;
                plan.warnings.push(format!(
                    "rendered assuming the apex Service exposes port {}; pass --service-port to change it",
                    self.service_port
                ));
                Ok(plan)
            }
            MeshKind::Consul => {
                let ctx = mesh::consul::translate::Context {
                    lua_fault_emulation: self.options.consul_lua_abort_emulation,
                    ..mesh::consul::translate::Context::new(self.consul_version())
                };
                mesh::consul::translate::plan(change, &ctx, &mesh::consul::translate::Snapshot::default())
            }
        }
    }

    async fn apply(&self, _plan: &Plan) -> Result<ApplyReport> {
        Err(Error::not_configured(
            "a control plane",
            "rendering only; pass --target apply to write",
        ))
    }

    /// Every mesh reports its mTLS state; rendering has none to read (it once answered "does not
    /// support", which is not true of any mesh).
    async fn mtls_status(&self, _namespace: &mesh::Namespace) -> Result<mesh::MtlsStatus> {
        Err(Error::not_configured(
            "a control plane",
            "mtls --status reads the live control plane; pass --target apply (reads never write)",
        ))
    }
}

/// The mesh `--mesh` names. `auto` picks Consul when `CONSUL_HTTP_ADDR` is set; otherwise it needs
/// a cluster (see [`detect`]).
pub(crate) fn mesh_kind(cli: &Cli) -> Result<MeshKind> {
    match cli.mesh {
        MeshArg::Istio => Ok(MeshKind::Istio),
        MeshArg::Linkerd => Ok(MeshKind::Linkerd),
        MeshArg::Consul => Ok(MeshKind::Consul),
        MeshArg::Auto if std::env::var_os("CONSUL_HTTP_ADDR").is_some() => Ok(MeshKind::Consul),
        MeshArg::Auto => Err(Error::not_configured(
            "the mesh",
            "pass --mesh istio|linkerd|consul (auto needs CONSUL_HTTP_ADDR, or a cluster with --target apply)",
        )),
    }
}

/// The offline backend of `kind`.
///
/// # Errors
/// A malformed backend setting ([`crate::options::from_cli`]).
pub(crate) fn offline(kind: MeshKind, cli: &Cli) -> Result<Mesh> {
    Ok(Mesh::from_backend(Offline {
        kind,
        service_port: cli.service_port,
        options: crate::options::from_cli(cli)?,
    }))
}

/// The service a change is about, for changes that have one existing Service.
fn service_of(change: &Change) -> Option<mesh::ServiceId> {
    match change {
        Change::CreateVirtualService(r) => Some(r.service.clone()),
        Change::CreateDestinationRule(p) => Some(p.service.clone()),
        Change::SetTrafficWeight { service, .. }
        | Change::ConfigureCircuitBreaker { service, .. }
        | Change::SetRetryPolicy { service, .. }
        | Change::InjectFault { service, .. } => Some(service.clone()),
        // Linkerd's Server for a targeted policy selects the Service's pods on its port.
        Change::CreateAuthorizationPolicy(p) => p
            .target
            .as_ref()
            .map(|t| mesh::ServiceId::new(p.namespace.clone(), t.clone())),
        _ => None,
    }
}

/// A Kubernetes engine for `kind`, from `--kubeconfig`/`--context` when given (else as kubectl
/// finds its configuration: `KUBECONFIG`, `~/.kube/config`, in-cluster).
async fn engine(cli: &Cli, kind: MeshKind) -> Result<KubeEngine> {
    let what = match (&cli.kubeconfig, &cli.context) {
        (Some(path), _) => format!("kubeconfig {}", path.display()),
        (None, Some(context)) => format!("kubeconfig context {context:?}"),
        (None, None) => "Kubernetes client".to_owned(),
    };
    let config = crate::kubeconfig::client_config(cli).await.map_err(|e| {
        Error::not_configured(
            what,
            format!("pass --kubeconfig, set KUBECONFIG or run in a cluster: {e}"),
        )
    })?;
    let client = mesh_kube::client_from(config).map_err(|e| Error::backend(kind, e))?;
    Ok(KubeEngine::new(client, kind, mesh_kube::DEFAULT_FIELD_MANAGER))
}

/// Detects the mesh from the CRDs the cluster serves: Istio's `virtualservices.networking.istio.io`
/// or Linkerd's `servers.policy.linkerd.io`.
async fn detect(cli: &Cli) -> Result<MeshKind> {
    let engine = engine(cli, MeshKind::Istio).await?;
    let has = |versions: Result<Vec<String>>| versions.is_ok_and(|v| !v.is_empty());
    let istio = has(engine
        .served_versions("networking.istio.io", "virtualservices")
        .await);
    let linkerd = has(engine.served_versions("policy.linkerd.io", "servers").await);
    match (istio, linkerd) {
        (true, false) => Ok(MeshKind::Istio),
        (false, true) => Ok(MeshKind::Linkerd),
        (true, true) => Err(Error::not_configured(
            "the mesh",
            "both Istio and Linkerd CRDs are served; pass --mesh",
        )),
        (false, false) => Err(Error::not_configured(
            "the mesh",
            "no Istio or Linkerd CRDs are served and CONSUL_HTTP_ADDR is unset; pass --mesh",
        )),
    }
}

/// The `Mesh` for this command line, reading metrics, traces and the graph from the sources the
/// flags or the environment name (`--prometheus-url`/`PROMETHEUS_URL`, `--tracing-url`/
/// `TRACING_URL` with `--tracing-kind`/`TRACING_KIND`, `--kiali-url`/`KIALI_URL`), whatever the
/// target: reads never write.
pub(crate) async fn connect(cli: &Cli) -> Result<Mesh> {
    let telemetry = mesh::telemetry::Telemetry::from_lookup(|name| cli.telemetry_setting(name))
        .map_err(|e| Error::not_configured("telemetry", e.to_string()))?;
    Ok(backend(cli).await?.with_telemetry(telemetry))
}

async fn backend(cli: &Cli) -> Result<Mesh> {
    match cli.target {
        Target::Render => offline(mesh_kind(cli)?, cli),
        Target::Apply => Ok(live(cli).await?.mesh()),
    }
}

/// A live control plane: the backend, plus a way to read the objects a plan writes.
pub(crate) enum Live {
    /// Istio or Linkerd, through a Kubernetes engine, with the backends' settings.
    Kube(MeshKind, Box<KubeEngine>, Box<mesh::ConnectOptions>),
    /// Consul.
    Consul(std::sync::Arc<mesh::consul::ConsulBackend>),
}

impl Live {
    /// A `Mesh` over this control plane.
    pub(crate) fn mesh(&self) -> Mesh {
        match self {
            Self::Kube(MeshKind::Linkerd, engine, options) => Mesh::from_backend(
                mesh::linkerd::LinkerdBackend::new((**engine).clone(), options.linkerd.clone()),
            ),
            Self::Kube(_, engine, options) => Mesh::from_backend(mesh::istio::IstioBackend::new(
                (**engine).clone(),
                options.istio.clone(),
            )),
            Self::Consul(backend) => Mesh::from_dyn(backend.clone()),
        }
    }

    /// The current state of the object a write targets, `None` when it does not exist.
    pub(crate) async fn current(&self, target: &mesh::ObjectRef) -> Result<Option<serde_json::Value>> {
        match self {
            Self::Kube(_, engine, _) => engine.get(target).await,
            Self::Consul(backend) => {
                let Some(key) = mesh::consul::entry_key(target) else {
                    return Ok(None); // agent registrations are not config entries
                };
                let entry = backend
                    .client()
                    .get_entry(key.kind, &key.name, key.namespace.as_deref())
                    .await?;
                entry
                    .map(|e| serde_json::to_value(e).map_err(|e| Error::backend(MeshKind::Consul, e)))
                    .transpose()
            }
        }
    }
}

/// Connects to the live control plane whatever `--target` says (for `plan` and `diff`, which read
/// but never write).
pub(crate) async fn live(cli: &Cli) -> Result<Live> {
    let kind = match mesh_kind(cli) {
        Ok(kind) => kind,
        Err(_) if cli.mesh == MeshArg::Auto => detect(cli).await?,
        Err(e) => return Err(e),
    };
    let options = crate::options::from_cli(cli)?;
    Ok(match kind {
        MeshKind::Consul => Live::Consul(std::sync::Arc::new(options.consul_backend()?)),
        kube => Live::Kube(kube, Box::new(engine(cli, kube).await?), Box::new(options)),
    })
}
