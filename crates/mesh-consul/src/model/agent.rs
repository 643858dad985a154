//! Agent service registration (`PUT /v1/agent/service/register`) and health answers.
//!
//! The agent accepts PascalCase and snake_case keys; these models read both (snake_case through
//! aliases) and always write PascalCase. Opaque maps (`Meta`, `Proxy.Config`) are kept as given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Extra;

/// A service registration body.
///
/// ```
/// use mesh_consul::model::AgentServiceRegistration;
/// let r: AgentServiceRegistration = serde_json::from_str(r#"{"name":"web","port":8080}"#).unwrap();
/// assert_eq!((r.name.as_str(), r.port), ("web", Some(8080)));
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"Name":"web","Port":8080}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentServiceRegistration {
    /// The instance id (defaults to the name).
    #[serde(rename = "ID", alias = "id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The service name (empty, and omitted, for a sidecar that takes the defaults).
    #[serde(alias = "name", default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `connect-proxy`, `mesh-gateway`, ... or absent for a typical service.
    #[serde(alias = "kind", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Tags.
    #[serde(alias = "tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// The address.
    #[serde(alias = "address", default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The port.
    #[serde(alias = "port", default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// String metadata; `version` is what resolver subsets filter on.
    #[serde(alias = "meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
    /// Lets external agents update tags.
    #[serde(
        alias = "enable_tag_override",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_tag_override: Option<bool>,
    /// One check.
    #[serde(alias = "check", default, skip_serializing_if = "Option::is_none")]
    pub check: Option<AgentCheck>,
    /// Several checks.
    #[serde(alias = "checks", default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<AgentCheck>>,
    /// DNS SRV weights by health.
    #[serde(alias = "weights", default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<AgentWeights>,
    /// Connect settings (the sidecar).
    #[serde(alias = "connect", default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<AgentConnect>,
    /// Proxy settings (for `connect-proxy` kinds and sidecars).
    #[serde(alias = "proxy", default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<AgentProxy>,
    /// The namespace (Enterprise). Never sent to CE.
    #[serde(alias = "namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The partition (Enterprise). Never sent to CE.
    #[serde(alias = "partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Weights`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentWeights {
    /// Weight while passing.
    #[serde(alias = "passing")]
    pub passing: u32,
    /// Weight while warning.
    #[serde(alias = "warning")]
    pub warning: u32,
}

/// `Connect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentConnect {
    /// The application speaks Connect itself.
    #[serde(alias = "native", default, skip_serializing_if = "Option::is_none")]
    pub native: Option<bool>,
    /// The sidecar to register with the service (`{}` takes every default).
    #[serde(alias = "sidecar_service", default, skip_serializing_if = "Option::is_none")]
    pub sidecar_service: Option<Box<AgentServiceRegistration>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Proxy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentProxy {
    /// The proxied service's name.
    #[serde(
        alias = "destination_service_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_service_name: Option<String>,
    /// The proxied instance's id.
    #[serde(
        rename = "DestinationServiceID",
        alias = "destination_service_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_service_id: Option<String>,
    /// Where the proxied service listens.
    #[serde(
        alias = "local_service_address",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub local_service_address: Option<String>,
    /// Its port.
    #[serde(
        alias = "local_service_port",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub local_service_port: Option<u16>,
    /// Upstreams bound locally.
    #[serde(alias = "upstreams", default, skip_serializing_if = "Option::is_none")]
    pub upstreams: Option<Vec<AgentUpstream>>,
    /// Opaque proxy configuration, kept verbatim.
    #[serde(alias = "config", default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Extra>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One upstream of a proxy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentUpstream {
    /// The upstream service.
    #[serde(alias = "destination_name", default)]
    pub destination_name: String,
    /// The local port.
    #[serde(alias = "local_bind_port", default, skip_serializing_if = "Option::is_none")]
    pub local_bind_port: Option<u16>,
    /// The datacenter.
    #[serde(alias = "datacenter", default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// Opaque configuration.
    #[serde(alias = "config", default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Extra>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A health check definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AgentCheck {
    /// The check id.
    #[serde(
        rename = "CheckID",
        alias = "check_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub check_id: Option<String>,
    /// The check name.
    #[serde(alias = "name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A script check's command.
    #[serde(alias = "args", default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// HTTP check URL.
    #[serde(
        rename = "HTTP",
        alias = "http",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub http: Option<String>,
    /// TCP check address.
    #[serde(
        rename = "TCP",
        alias = "tcp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp: Option<String>,
    /// gRPC check address.
    #[serde(
        rename = "GRPC",
        alias = "grpc",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc: Option<String>,
    /// Alias of another service's health.
    #[serde(alias = "alias_service", default, skip_serializing_if = "Option::is_none")]
    pub alias_service: Option<String>,
    /// How often (Go duration).
    #[serde(alias = "interval", default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// How long one check may take (Go duration).
    #[serde(alias = "timeout", default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Deregister after being critical this long (Go duration).
    #[serde(
        alias = "deregister_critical_service_after",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deregister_critical_service_after: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One answer of `GET /v1/health/service/:name`: an instance and its checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthServiceEntry {
    /// The node (kept verbatim).
    #[serde(default)]
    pub node: serde_json::Value,
    /// The instance.
    #[serde(default)]
    pub service: AgentServiceRegistration,
    /// The checks (kept verbatim).
    #[serde(default)]
    pub checks: Vec<serde_json::Value>,
}
