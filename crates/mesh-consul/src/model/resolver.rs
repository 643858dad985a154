//! The `service-resolver` config entry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{EntryMeta, Extra};

/// A `service-resolver` entry: subsets, default subset, redirect, failover, load balancing.
///
/// ```
/// use mesh_consul::model::ServiceResolver;
/// let r: ServiceResolver = serde_json::from_str(
///     r#"{"Name":"web","Subsets":{"v1":{"Filter":"Service.Meta.version == v1"}}}"#,
/// ).unwrap();
/// assert!(r.has_subset("v1"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceResolver {
    /// The service name.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// The subset used when a request names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_subset: Option<String>,
    /// Named subsets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsets: Option<BTreeMap<String, ResolverSubset>>,
    /// Sends every request to another service, subset or datacenter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<ResolverRedirect>,
    /// Failover per subset (`*` for all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failover: Option<BTreeMap<String, ResolverFailover>>,
    /// Connect timeout (Go duration).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub connect_timeout: Option<String>,
    /// Request timeout (Go duration).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timeout: Option<String>,
    /// Load balancing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<ResolverLoadBalancer>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ServiceResolver {
    /// True when a subset called `name` is defined.
    pub fn has_subset(&self, name: &str) -> bool {
        self.subsets.as_ref().is_some_and(|s| s.contains_key(name))
    }

    /// The names of the defined subsets.
    pub fn subset_names(&self) -> Vec<String> {
        self.subsets
            .as_ref()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// One subset: a catalog filter over instances.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverSubset {
    /// The filter expression (`Service.Meta.version == v1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Only instances with passing checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_passing: Option<bool>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Redirect`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverRedirect {
    /// Target service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Target subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subset: Option<String>,
    /// Target namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Target partition (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Target datacenter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// Target cluster peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Unmodelled fields (`SamenessGroup`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One `Failover` value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverFailover {
    /// Failover service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Failover subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subset: Option<String>,
    /// Failover namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Datacenters, tried in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenters: Option<Vec<String>>,
    /// Targets, tried in order (exclusive with `Service`/`Datacenters`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<FailoverTarget>>,
    /// Unmodelled fields (`SamenessGroup`, `Policy`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One failover target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailoverTarget {
    /// Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subset: Option<String>,
    /// Datacenter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacenter: Option<String>,
    /// Cluster peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Unmodelled fields (`Namespace`, `Partition`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `LoadBalancer`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResolverLoadBalancer {
    /// `random`, `round_robin`, `least_request`, `ring_hash` or `maglev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// What `ring_hash` and `maglev` hash on, e.g. `[{"SourceIP": true}]`; without one Consul
    /// picks at random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_policies: Option<Vec<serde_json::Value>>,
    /// Unmodelled fields (`RingHashConfig`, `LeastRequestConfig`).
    #[serde(flatten)]
    pub extra: Extra,
}
