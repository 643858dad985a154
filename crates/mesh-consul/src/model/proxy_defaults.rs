//! The `proxy-defaults` and `mesh` config entries.

use serde::{Deserialize, Serialize};

use super::{EntryMeta, EnvoyExtension, Extra, MeshGatewayConfig};

/// A `proxy-defaults` entry. Its name is always `global` on a real cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProxyDefaults {
    /// Always `global`.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// Opaque proxy configuration (`envoy_prometheus_bind_addr`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Extra>,
    /// `default`, `transparent` or `direct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `""`, `strict` or `permissive` (Consul 1.16+).
    #[serde(rename = "MutualTLSMode", default, skip_serializing_if = "Option::is_none")]
    pub mutual_tls_mode: Option<String>,
    /// Mesh-gateway mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_gateway: Option<MeshGatewayConfig>,
    /// Envoy extensions for every proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_extensions: Option<Vec<EnvoyExtension>>,
    /// Unmodelled fields (`TransparentProxy`, `Expose`, `AccessLogs`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `mesh` entry: mesh-wide settings. Its name is always `mesh`, and bodies may omit it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MeshEntry {
    /// `mesh`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// Lets services opt into `MutualTLSMode: permissive`. `false` keeps every service strict.
    #[serde(
        rename = "AllowEnablingPermissiveMutualTLS",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_enabling_permissive_mutual_tls: Option<bool>,
    /// Unmodelled fields (`TransparentProxy`, `TLS`, `HTTP`, `Peering`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
