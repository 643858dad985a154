//! `GET /v1/connect/ca/roots`.

use serde::{Deserialize, Serialize};

use super::Extra;

/// The Connect CA roots.
///
/// ```
/// use mesh_consul::model::CaRoots;
/// let roots: CaRoots = serde_json::from_str(
///     r#"{"ActiveRootID":"a","TrustDomain":"x.consul","Roots":[{"ID":"a","Active":true}]}"#,
/// ).unwrap();
/// assert_eq!(roots.active_root().unwrap().id, "a");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CaRoots {
    /// The id of the active root.
    #[serde(rename = "ActiveRootID", default)]
    pub active_root_id: String,
    /// The SPIFFE trust domain.
    #[serde(default)]
    pub trust_domain: String,
    /// Every root, active or not.
    #[serde(default)]
    pub roots: Vec<CaRoot>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl CaRoots {
    /// The active root, if listed.
    pub fn active_root(&self) -> Option<&CaRoot> {
        self.roots
            .iter()
            .find(|r| r.active || r.id == self.active_root_id)
    }
}

/// One CA root.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CaRoot {
    /// The root id (a key fingerprint).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The PEM certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cert: Option<String>,
    /// Intermediates; Consul writes `null` when there are none.
    #[serde(default)]
    pub intermediate_certs: Option<Vec<String>>,
    /// Not valid after (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// True for the root in use.
    #[serde(default)]
    pub active: bool,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}
