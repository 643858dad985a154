//! The `service-router` config entry.

use serde::{Deserialize, Serialize};

use super::{EntryMeta, Extra, HeaderMatcher};

/// A `service-router` entry: ordered L7 routes; the first match wins, unmatched requests take the
/// default (resolver) route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRouter {
    /// The service name.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// The routes, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<ServiceRoute>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceRoute {
    /// When it applies; absent matches everything.
    #[serde(rename = "Match", default, skip_serializing_if = "Option::is_none")]
    pub route_match: Option<RouteMatch>,
    /// Where it goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<RouteDestination>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Match`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteMatch {
    /// HTTP conditions.
    #[serde(rename = "HTTP", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRouteMatch>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Match.HTTP`: all present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpRouteMatch {
    /// Exact path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_exact: Option<String>,
    /// Path prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Path regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_regex: Option<String>,
    /// Case-insensitive path matching (newer Consul releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_insensitive: Option<bool>,
    /// Header conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Vec<HeaderMatcher>>,
    /// Query-parameter conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_param: Option<Vec<HeaderMatcher>>,
    /// Methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Destination`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteDestination {
    /// Service; defaults to the router's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Subset, which the service's resolver must define.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subset: Option<String>,
    /// Namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Partition (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Path prefix rewrite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
    /// Overall request timeout, retries included (Go duration).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_timeout: Option<String>,
    /// Idle timeout (Go duration).
    #[serde(
        default,
        deserialize_with = "super::common::duration::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub idle_timeout: Option<String>,
    /// Retry count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_retries: Option<u32>,
    /// Retry on connect failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on_connect_failure: Option<bool>,
    /// Envoy retry conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<Vec<String>>,
    /// Retried status codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on_status_codes: Option<Vec<u16>>,
    /// Unmodelled fields (`RequestHeaders`, `ResponseHeaders`).
    #[serde(flatten)]
    pub extra: Extra,
}
