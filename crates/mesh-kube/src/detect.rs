//! Which mesh a cluster runs, from the CRDs its API server serves: Istio's
//! `virtualservices.networking.istio.io`, Linkerd's `servers.policy.linkerd.io`.

use mesh_core::{Error, MeshKind, Result};

use crate::KubeEngine;

/// The mesh whose CRDs the cluster serves.
///
/// # Errors
/// [`Error::NotConfigured`] when both meshes' CRDs are served, or neither (pass the mesh
/// explicitly then); the engine's errors when the API server cannot be asked.
pub async fn mesh_of_cluster(engine: &KubeEngine) -> Result<MeshKind> {
    let served = |versions: Result<Vec<String>>| versions.map(|v| !v.is_empty());
    let istio = served(
        engine
            .served_versions("networking.istio.io", "virtualservices")
            .await,
    )?;
    let linkerd = served(engine.served_versions("policy.linkerd.io", "servers").await)?;
    match (istio, linkerd) {
        (true, false) => Ok(MeshKind::Istio),
        (false, true) => Ok(MeshKind::Linkerd),
        (true, true) => Err(Error::not_configured(
            "the mesh",
            "both Istio and Linkerd CRDs are served; name the mesh",
        )),
        (false, false) => Err(Error::not_configured(
            "the mesh",
            "no Istio or Linkerd CRDs are served; name the mesh (or set CONSUL_HTTP_ADDR for Consul)",
        )),
    }
}
