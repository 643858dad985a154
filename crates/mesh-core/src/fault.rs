//! Fault injection and its stateless id.

use std::{fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, HttpStatus, MeshKind, Percent, ServiceId};

/// A fault to inject on a share of requests.
///
/// ```
/// use std::time::Duration;
/// use mesh_core::{Fault, Percent};
/// let f = Fault::Delay { percent: Percent::new(10.0).unwrap(), duration: Duration::from_millis(3000) };
/// assert!(f.validate().is_ok());
/// assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"type":"delay","percent":10.0,"duration":"3s"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub enum Fault {
    /// Delay requests.
    Delay {
        /// The share of requests delayed.
        percent: Percent,
        /// The delay.
        #[serde(with = "crate::duration_input::millis_or_str")]
        duration: Duration,
    },
    /// Answer requests with an HTTP error instead of forwarding them.
    Abort {
        /// The share of requests aborted.
        percent: Percent,
        /// The status returned.
        #[serde(alias = "httpStatus")]
        http_status: HttpStatus,
    },
}

impl Fault {
    /// The share of requests affected.
    pub fn percent(&self) -> Percent {
        match self {
            Fault::Delay { percent, .. } | Fault::Abort { percent, .. } => *percent,
        }
    }

    /// Checks the share is above 0 and the delay at least 1 ms.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `fault.duration`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.percent().value() == 0.0 {
            return Err(Error::invalid(
                "fault.percent",
                "a fault at 0 % never fires; give a share above 0",
            ));
        }
        if let Fault::Delay { duration, .. } = self
            && *duration < Duration::from_millis(1)
        {
            return Err(Error::invalid("fault.duration", "must be at least 1ms"));
        }
        Ok(())
    }

    /// A short, stable fingerprint of the fault (FNV-1a over its JSON), used in fault ids.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let hash = json.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        format!("{:08x}", hash as u32)
    }
}

/// A stateless fault id: `fault:<mesh>:<namespace>/<service>:<key>`. The mesh, the target and the key
/// are the whole id, and the ownership mark lives on the control plane (the route's name, an
/// annotation or a `Meta` key), so any process can remove the fault after a restart.
///
/// ```
/// use mesh_core::{FaultId, MeshKind};
/// let id = FaultId::new(MeshKind::Istio, "prod/api".parse().unwrap(), "1a2b3c4d").unwrap();
/// assert_eq!(id.to_string(), "fault:istio:prod/api:1a2b3c4d");
/// assert_eq!(id.to_string().parse::<FaultId>().unwrap(), id);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FaultId {
    /// The mesh holding the fault.
    pub mesh: MeshKind,
    /// The service the fault is on.
    pub service: ServiceId,
    /// The fault's key on that service (lower-case alphanumerics and `-`).
    pub key: String,
}

impl FaultId {
    /// Builds an id.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `key` is not a non-empty label-like string.
    pub fn new(mesh: MeshKind, service: ServiceId, key: impl Into<String>) -> Result<Self, Error> {
        let key = key.into();
        crate::names::check_rfc1123_label(&key).map_err(|r| Error::invalid("fault_id.key", r))?;
        Ok(Self { mesh, service, key })
    }

    /// The name the library gives the route or extension that carries this fault.
    pub fn marker(&self) -> String {
        format!("mesh-fault-{}", self.key)
    }
}

impl fmt::Display for FaultId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault:{}:{}:{}", self.mesh, self.service, self.key)
    }
}

impl FromStr for FaultId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                "fault_id",
                format!("{s:?} is not fault:<mesh>:<ns>/<service>:<key>"),
            )
        };
        let rest = s.strip_prefix("fault:").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(mesh), Some(service), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        Self::new(mesh.parse()?, service.parse()?, key)
    }
}

impl TryFrom<String> for FaultId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<FaultId> for String {
    fn from(id: FaultId) -> String {
        id.to_string()
    }
}
