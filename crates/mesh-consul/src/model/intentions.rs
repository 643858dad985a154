//! The `service-intentions` config entry.

use serde::{Deserialize, Serialize};

use super::{EntryMeta, Extra, HeaderMatcher};

/// A `service-intentions` entry: who may call the service named `Name` (`*` for all).
///
/// ```
/// use mesh_consul::model::ServiceIntentions;
/// let i: ServiceIntentions = serde_json::from_str(
///     r#"{"Name":"db","Sources":[{"Name":"web","Action":"allow"}]}"#,
/// ).unwrap();
/// assert_eq!(i.allowed_sources(), vec!["web".to_owned()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceIntentions {
    /// The destination service.
    pub name: String,
    /// Tenancy, metadata, indexes.
    #[serde(flatten)]
    pub meta: EntryMeta,
    /// The sources, most specific first when Consul evaluates them.
    #[serde(default)]
    pub sources: Vec<IntentionSource>,
    /// Unmodelled fields (`JWT`).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ServiceIntentions {
    /// Names of concrete sources (not `*`) that are allowed: by an L4 `allow`, or by at least one
    /// L7 `allow` permission.
    pub fn allowed_sources(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|s| s.name != "*")
            .filter(|s| {
                s.action.as_deref() == Some("allow")
                    || s.permissions.iter().flatten().any(|p| p.action == "allow")
            })
            .map(|s| s.name.clone())
            .collect()
    }
}

/// One source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IntentionSource {
    /// The source service (`*` for all).
    pub name: String,
    /// The source namespace (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The source partition (Enterprise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// The source cluster peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// L4: `allow` or `deny`. Exclusive with `Permissions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// L7 permissions, evaluated in order. Exclusive with `Action`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<IntentionPermission>>,
    /// `consul`.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Unmodelled fields (`SamenessGroup`, `Precedence`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One L7 permission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IntentionPermission {
    /// `allow` or `deny`.
    pub action: String,
    /// HTTP conditions.
    #[serde(rename = "HTTP", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<PermissionHttp>,
    /// Unmodelled fields (`JWT`).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Permissions[].HTTP`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PermissionHttp {
    /// Exact path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_exact: Option<String>,
    /// Path prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Path regex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_regex: Option<String>,
    /// Methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub methods: Option<Vec<String>>,
    /// Header conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<Vec<HeaderMatcher>>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}
