//! Which service mesh a backend speaks to.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// The three meshes the library speaks to.
///
/// Parsed case-insensitively:
///
/// ```
/// use mesh_core::MeshKind;
/// assert_eq!("Istio".parse::<MeshKind>().unwrap(), MeshKind::Istio);
/// assert_eq!("CONSUL".parse::<MeshKind>().unwrap(), MeshKind::Consul);
/// assert!("kuma".parse::<MeshKind>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MeshKind {
    /// Istio (sidecar mode), through Kubernetes objects.
    Istio,
    /// Linkerd 2.14 or later, through Kubernetes objects and annotations.
    Linkerd,
    /// Consul Connect 1.15 or later, through Consul's HTTP API.
    Consul,
}

impl MeshKind {
    /// Every mesh, in a stable order.
    pub const ALL: [MeshKind; 3] = [MeshKind::Istio, MeshKind::Linkerd, MeshKind::Consul];

    /// The lower-case name (`istio`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Istio => "istio",
            Self::Linkerd => "linkerd",
            Self::Consul => "consul",
        }
    }
}

impl fmt::Display for MeshKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MeshKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MeshKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::invalid("mesh", format!("{s:?} is not one of istio, linkerd, consul")))
    }
}
