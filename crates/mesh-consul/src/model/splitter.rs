//! The `service-splitter` config entry.

use serde::{Deserialize, Serialize};

use super::{EntryMeta, Extra};

/// A `service-splitter` entry: weighted splits whose weights sum to 100.
///
/// ```
/// use mesh_consul::model::ServiceSplitter;
/// let s: ServiceSplitter = serde_json::from_str(
///     r#"{"Name":"web","Splits":[{"Weight":90,"ServiceSubset":"v1"},{"Weight":10,"ServiceSubset":"v2"}]}"#,
/// ).unwrap();
/// assert_eq!(s.splits.len(), 2);
/// // Whole weights are written back as integers.
/// assert_eq!(serde_json::to_string(&s.splits[0]).unwrap(), r#"{"Weight":90,"ServiceSubset":"v1"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSplitter {
    /// The service name.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// The splits.
    #[serde(default)]
    pub splits: Vec<ServiceSplit>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceSplit {
    /// The share, with 0.01 granularity.
    #[serde(with = "super::common::weight")]
    pub weight: f64,
    /// The service; defaults to the entry's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_subset: Option<String>,
    /// The namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The partition (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Unmodelled fields (`RequestHeaders`, `ResponseHeaders`).
    #[serde(flatten)]
    pub extra: Extra,
}
