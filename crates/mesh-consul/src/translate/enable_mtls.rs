//! `enable_mtls`: `MutualTLSMode: strict` on proxy-defaults, and the mesh entry forbidding services
//! to opt back into permissive mode.

use mesh_core::{Feature, Namespace, Result};

use super::{
    EntryKey, consul_namespace,
    planner::{Deps, Planner},
};
use crate::model::{ConfigEntry, EntryKind, MeshEntry, ProxyDefaults};

pub(super) fn plan(p: &mut Planner<'_>, namespace: &Namespace) -> Result<()> {
    consul_namespace(p.ctx, namespace, Feature::MtlsStrict)?;
    if !namespace.is_default() {
        p.warn(format!(
            "proxy-defaults is partition-wide in Consul: strict mTLS applies to every namespace, not only {namespace}"
        ));
    }
    let mesh_key = EntryKey::new(EntryKind::Mesh, None, "mesh");
    let mut mesh = match p.current(&mesh_key) {
        Some(ConfigEntry::Mesh(m)) => m,
        _ => MeshEntry::default(),
    };
    mesh.allow_enabling_permissive_mutual_tls = Some(false);
    p.put(&mesh_key, ConfigEntry::Mesh(mesh), Deps::default());
    let key = EntryKey::new(EntryKind::ProxyDefaults, None, "global");
    let mut pd = match p.current(&key) {
        Some(ConfigEntry::ProxyDefaults(pd)) => pd,
        _ => ProxyDefaults {
            name: "global".into(),
            ..ProxyDefaults::default()
        },
    };
    pd.mutual_tls_mode = Some("strict".into());
    p.put(&key, ConfigEntry::ProxyDefaults(pd), Deps::default());
    p.warn("sidecar-to-sidecar traffic is always mTLS in Consul; strict mode additionally blocks plaintext in transparent-proxy mode");
    Ok(())
}
