//! Building the `Mesh` a command talks to: the library's offline planner for `--target render`, the live
//! backend for `--target apply`, and `--mesh auto` detection.

use mesh::kube::KubeEngine;
use mesh::{Error, Mesh, MeshKind, Result};

use crate::cli::{Cli, MeshArg, Target};

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

/// The offline backend of `kind` ([`mesh::Offline`]): the real planner against an empty control
/// plane, with the command line's settings and opt-ins.
///
/// # Errors
/// A malformed backend setting ([`crate::options::from_cli`]).
pub(crate) fn offline(kind: MeshKind, cli: &Cli) -> Result<Mesh> {
    let backend = mesh::Offline::new(kind)?
        .options(&crate::options::from_cli(cli)?)
        .service_port(cli.service_port);
    Ok(Mesh::from_backend(backend))
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
    let client = mesh::kube::client_from(config).map_err(|e| Error::backend(kind, e))?;
    Ok(KubeEngine::new(client, kind, mesh::kube::DEFAULT_FIELD_MANAGER))
}

/// Detects the mesh from the CRDs the cluster serves: Istio's `virtualservices.networking.istio.io`
/// or Linkerd's `servers.policy.linkerd.io`.
async fn detect(cli: &Cli) -> Result<MeshKind> {
    let engine = engine(cli, MeshKind::Istio).await?;
    mesh::kube::detect::mesh_of_cluster(&engine).await
}

/// The `Mesh` for this command line, reading metrics, traces and the graph from the sources the
/// flags or the environment name (`--prometheus-url`/`PROMETHEUS_URL`, `--tracing-url`/
/// `TRACING_URL` with `--tracing-kind`/`TRACING_KIND`, `--kiali-url`/`KIALI_URL`), whatever the
/// target: reads never write.
pub(crate) async fn connect(cli: &Cli) -> Result<Mesh> {
    with_telemetry(cli, backend(cli).await?)
}

/// `mesh` reading metrics, traces and the graph from the sources the flags or the environment
/// name.
pub(crate) fn with_telemetry(cli: &Cli, mesh: Mesh) -> Result<Mesh> {
    let telemetry = mesh::telemetry::Telemetry::from_lookup(|name| cli.telemetry_setting(name))
        .map_err(|e| Error::not_configured("telemetry", e.to_string()))?;
    Ok(mesh.with_telemetry(telemetry))
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
