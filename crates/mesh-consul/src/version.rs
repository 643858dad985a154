//! Which Consul the backend talks to: edition and version, read from `/v1/agent/self`.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Community Edition or Enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Edition {
    /// Consul CE: no namespaces, partitions or Enterprise-only extensions.
    Ce,
    /// Consul Enterprise.
    Enterprise,
}

/// A Consul version and edition.
///
/// ```
/// use mesh_consul::{ConsulVersion, Edition};
/// let v: ConsulVersion = "1.18.2+ent".parse().unwrap();
/// assert_eq!(v.edition, Edition::Enterprise);
/// assert!(v.at_least(1, 18));
/// let ce: ConsulVersion = "1.16.0".parse().unwrap();
/// assert_eq!((ce.edition, ce.minor), (Edition::Ce, 16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConsulVersion {
    /// The edition.
    pub edition: Edition,
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl ConsulVersion {
    /// A CE version.
    pub fn ce(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            edition: Edition::Ce,
            major,
            minor,
            patch,
        }
    }

    /// An Enterprise version.
    pub fn enterprise(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            edition: Edition::Enterprise,
            major,
            minor,
            patch,
        }
    }

    /// True when this version is `major.minor` or newer.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// True for Enterprise.
    pub fn is_enterprise(&self) -> bool {
        self.edition == Edition::Enterprise
    }

    /// Reads the version from a `/v1/agent/self` answer: `Config.Version` plus
    /// `Config.VersionMetadata` (`ent`), or a `+ent` suffix on the version.
    ///
    /// ```
    /// use mesh_consul::{ConsulVersion, Edition};
    /// let body = serde_json::json!({"Config": {"Version": "1.17.3", "VersionMetadata": "ent"}});
    /// let v = ConsulVersion::from_agent_self(&body).unwrap();
    /// assert_eq!((v.edition, v.minor), (Edition::Enterprise, 17));
    /// ```
    ///
    /// # Errors
    /// A description when `Config.Version` is missing or not `x.y.z`.
    pub fn from_agent_self(body: &serde_json::Value) -> Result<Self, String> {
        let config = &body["Config"];
        let version = config["Version"]
            .as_str()
            .ok_or("agent/self has no Config.Version")?;
        let mut v: Self = version.parse()?;
        let meta = config["VersionMetadata"].as_str().unwrap_or("");
        if meta.split(['+', '.']).any(|m| m == "ent") {
            v.edition = Edition::Enterprise;
        }
        Ok(v)
    }
}

impl Default for ConsulVersion {
    /// Consul CE 1.16.0, the oldest release with `MutualTLSMode`.
    fn default() -> Self {
        Self::ce(1, 16, 0)
    }
}

impl FromStr for ConsulVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim().trim_start_matches('v');
        let (core, meta) = s.split_once('+').unwrap_or((s, ""));
        let core = core.split('-').next().unwrap_or(core);
        let mut parts = core.split('.').map(str::parse::<u32>);
        let mut next = || parts.next().and_then(Result::ok);
        let (Some(major), Some(minor)) = (next(), next()) else {
            return Err(format!("{s:?} is not a Consul version"));
        };
        let patch = next().unwrap_or(0);
        let edition = if meta.split('.').any(|m| m == "ent") {
            Edition::Enterprise
        } else {
            Edition::Ce
        };
        Ok(Self {
            edition,
            major,
            minor,
            patch,
        })
    }
}

impl fmt::Display for ConsulVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.is_enterprise() {
            f.write_str("+ent")?;
        }
        Ok(())
    }
}
