//! Building the `Mesh` a command talks to: an offline planner for `--target render`, the live
//! backend for `--target apply`.

use mesh::{ApplyReport, Capabilities, Change, Error, Mesh, MeshBackend, MeshKind, Plan, Result};

use crate::cli::{Cli, MeshArg, Target};

/// Plans against an empty control plane and never writes: what `--target render` uses. Plans made
/// this way are what a GitOps repository should hold for a fresh cluster.
struct Offline {
    kind: MeshKind,
    capabilities: Capabilities,
    planner: fn(&Change) -> Result<Plan>,
}

impl MeshBackend for Offline {
    fn kind(&self) -> MeshKind {
        self.kind
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities.clone()
    }

    async fn plan(&self, change: &Change) -> Result<Plan> {
        (self.planner)(change)
    }

    async fn apply(&self, _plan: &Plan) -> Result<ApplyReport> {
        Err(Error::not_configured(
            "a control plane",
            "rendering only; pass --target apply to write",
        ))
    }
}

/// The mesh `--mesh` names, resolving `auto`.
pub(crate) fn mesh_kind(cli: &Cli) -> Result<MeshKind> {
    match cli.mesh {
        MeshArg::Istio => Ok(MeshKind::Istio),
        MeshArg::Linkerd => Ok(MeshKind::Linkerd),
        MeshArg::Consul => Ok(MeshKind::Consul),
        MeshArg::Auto if std::env::var_os("CONSUL_HTTP_ADDR").is_some() => Ok(MeshKind::Consul),
        MeshArg::Auto => Err(Error::not_configured(
            "the mesh",
            "pass --mesh istio|linkerd|consul (auto needs CONSUL_HTTP_ADDR or a cluster with --target apply)",
        )),
    }
}

/// The offline backend of `kind`.
pub(crate) fn offline(kind: MeshKind) -> Mesh {
    let (capabilities, planner): (Capabilities, fn(&Change) -> Result<Plan>) = match kind {
        MeshKind::Istio => (mesh::istio::capabilities(), |c| {
            mesh::istio::plan(
                c,
                &mesh::istio::Snapshot::default(),
                &mesh::istio::Config::default(),
            )
        }),
        MeshKind::Consul => (
            mesh::consul::capabilities::capabilities(&mesh::consul::ConsulVersion::default()),
            |c| {
                let ctx = mesh::consul::translate::Context::new(mesh::consul::ConsulVersion::default());
                mesh::consul::translate::plan(c, &ctx, &mesh::consul::translate::Snapshot::default())
            },
        ),
        MeshKind::Linkerd => (Capabilities::new(MeshKind::Linkerd), |_| {
            Err(Error::not_configured(
                "the Linkerd planner",
                "this build has no Linkerd planner yet",
            ))
        }),
    };
    Mesh::from_backend(Offline {
        kind,
        capabilities,
        planner,
    })
}

/// The `Mesh` for this command line.
pub(crate) async fn connect(cli: &Cli) -> Result<Mesh> {
    let kind = mesh_kind(cli)?;
    match cli.target {
        Target::Render => Ok(offline(kind)),
        Target::Apply => Err(Error::not_configured(
            format!("--target apply for {kind}"),
            "this build of meshctl renders only; use --target render",
        )),
    }
}
