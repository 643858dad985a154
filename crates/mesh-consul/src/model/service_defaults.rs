//! The `service-defaults` config entry.

use serde::{Deserialize, Serialize};

use super::{EntryMeta, EnvoyExtension, Extra, MeshGatewayConfig};

/// A `service-defaults` entry: protocol, mTLS mode, the service's upstream (client-side) limits and
/// its Envoy extensions.
///
/// ```
/// use mesh_consul::model::ServiceDefaults;
/// let sd: ServiceDefaults = serde_json::from_str(r#"{"Name":"web","Protocol":"http","Foo":1}"#).unwrap();
/// assert_eq!(sd.protocol.as_deref(), Some("http"));
/// // Unknown fields survive a round trip.
/// assert_eq!(serde_json::to_value(&sd).unwrap()["Foo"], 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceDefaults {
    /// The service name.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// `tcp`, `http`, `http2` or `grpc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// `""`, `strict` or `permissive` (Consul 1.16+).
    #[serde(rename = "MutualTLSMode", default, skip_serializing_if = "Option::is_none")]
    pub mutual_tls_mode: Option<String>,
    /// `default`, `transparent` or `direct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Mesh-gateway mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_gateway: Option<MeshGatewayConfig>,
    /// The SNI for a service outside the mesh.
    #[serde(rename = "ExternalSNI", default, skip_serializing_if = "Option::is_none")]
    pub external_sni: Option<String>,
    /// How this service's proxy talks to its upstreams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_config: Option<UpstreamConfiguration>,
    /// Envoy extensions applied to this service's proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_extensions: Option<Vec<EnvoyExtension>>,
    /// Unmodelled fields (`TransparentProxy`, `RateLimits`, `Destination`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `UpstreamConfig`: defaults for every upstream plus per-upstream overrides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpstreamConfiguration {
    /// Per-upstream settings, matched on `Name` (and `Namespace`/`Partition`/`Peer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Vec<UpstreamConfig>>,
    /// Settings for every upstream without an override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<UpstreamConfig>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The settings for one upstream (or for all of them, in `Defaults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpstreamConfig {
    /// The upstream service (overrides only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The upstream's namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The upstream's partition (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The upstream's cluster peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// The protocol used towards the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Connect timeout in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout_ms: Option<u64>,
    /// Connection limits (Envoy circuit-breaker thresholds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<UpstreamLimits>,
    /// Outlier detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passive_health_check: Option<PassiveHealthCheck>,
    /// Mesh-gateway mode towards the upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_gateway: Option<MeshGatewayConfig>,
    /// Raw Envoy cluster JSON (escape hatch).
    #[serde(rename = "EnvoyClusterJSON", default, skip_serializing_if = "Option::is_none")]
    pub envoy_cluster_json: Option<String>,
    /// Raw Envoy listener JSON (escape hatch).
    #[serde(
        rename = "EnvoyListenerJSON",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub envoy_listener_json: Option<String>,
    /// Unmodelled fields (`BalanceOutboundConnections`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Limits`: Envoy's circuit-breaker thresholds towards one upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpstreamLimits {
    /// Maximum connections (HTTP/1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Maximum queued requests (L7 protocols).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<u32>,
    /// Maximum concurrent requests (L7 protocols).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_requests: Option<u32>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `PassiveHealthCheck`: Envoy outlier detection towards one upstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PassiveHealthCheck {
    /// Sweep interval (Go duration; the agent answers integer nanoseconds, read as `"10s"`).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<String>,
    /// Consecutive 5xx before ejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_failures: Option<u32>,
    /// Percentage chance of ejecting on consecutive 5xx.
    #[serde(
        rename = "EnforcingConsecutive5xx",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_5xx: Option<u32>,
    /// Maximum share of hosts ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
    /// Base ejection time (Go duration; the agent answers integer nanoseconds, read as `"30s"`).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_ejection_time: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}
