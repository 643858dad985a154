//! Which Linkerd release the backend talks to, and what that decides.

use std::{fmt, str::FromStr};

use mesh_core::Error;

/// A Linkerd stable release line, 2.14 to 2.20.
///
/// Parsed from `"2.16"`, `"2.16.3"` or `"stable-2.14.10"`; edge releases are not accepted because
/// they do not map onto one line.
///
/// ```
/// use mesh_linkerd::{HttpRouteFlavour, LinkerdVersion};
/// let v: LinkerdVersion = "stable-2.14.10".parse().unwrap();
/// assert_eq!(v, LinkerdVersion::V2_14);
/// assert!(!v.has_retry_annotations());
/// assert!("2.18".parse::<LinkerdVersion>().unwrap().gateway_http_route_version() == Some("v1"));
/// assert!("edge-24.8.2".parse::<LinkerdVersion>().is_err());
/// assert_eq!(LinkerdVersion::default().http_route_api_version(HttpRouteFlavour::Policy), "policy.linkerd.io/v1beta3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkerdVersion {
    minor: u8,
}

/// Which HTTPRoute API group the backend writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HttpRouteFlavour {
    /// `policy.linkerd.io/v1beta3`: served by every release from 2.14 on; the default.
    #[default]
    Policy,
    /// `gateway.networking.k8s.io`: `v1beta1` on 2.15–2.17, `v1` from 2.18.
    GatewayApi,
}

impl LinkerdVersion {
    /// Linkerd 2.14.
    pub const V2_14: Self = Self { minor: 14 };
    /// Linkerd 2.15.
    pub const V2_15: Self = Self { minor: 15 };
    /// Linkerd 2.16.
    pub const V2_16: Self = Self { minor: 16 };
    /// Linkerd 2.17.
    pub const V2_17: Self = Self { minor: 17 };
    /// Linkerd 2.18.
    pub const V2_18: Self = Self { minor: 18 };
    /// Linkerd 2.19.
    pub const V2_19: Self = Self { minor: 19 };
    /// Linkerd 2.20.
    pub const V2_20: Self = Self { minor: 20 };
    /// Every supported release line, oldest first.
    pub const ALL: [Self; 7] = [
        Self::V2_14,
        Self::V2_15,
        Self::V2_16,
        Self::V2_17,
        Self::V2_18,
        Self::V2_19,
        Self::V2_20,
    ];

    /// The release line `2.<minor>`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] outside 2.14..=2.20.
    pub fn new(minor: u8) -> Result<Self, Error> {
        if (14..=20).contains(&minor) {
            Ok(Self { minor })
        } else {
            Err(Error::invalid(
                "linkerd_version",
                format!("2.{minor} is outside the supported 2.14..=2.20"),
            ))
        }
    }

    /// The minor number (`16` for 2.16).
    pub fn minor(self) -> u8 {
        self.minor
    }

    /// True when the `retry.linkerd.io/*` and `timeout.linkerd.io/*` annotations exist (2.16+).
    pub fn has_retry_annotations(self) -> bool {
        self.minor >= 16
    }

    /// True when the ExternalWorkload CRD exists (2.15+).
    pub fn has_external_workload(self) -> bool {
        self.minor >= 15
    }

    /// True when `default-inbound-policy: audit` exists (2.16+).
    pub fn has_audit_policy(self) -> bool {
        self.minor >= 16
    }

    /// The Server version to write: `v1beta1` on 2.14, `v1beta2` on 2.15, `v1beta3` (with
    /// `accessPolicy`) from 2.16.
    pub fn server_api_version(self) -> &'static str {
        match self.minor {
            14 => "policy.linkerd.io/v1beta1",
            15 => "policy.linkerd.io/v1beta2",
            _ => "policy.linkerd.io/v1beta3",
        }
    }

    /// The `gateway.networking.k8s.io` HTTPRoute version Linkerd reads, if any: none on 2.14 (only
    /// `v1alpha2`/`v1beta1` bundled and not read for Service parents), `v1beta1` on 2.15–2.17, `v1`
    /// from 2.18.
    pub fn gateway_http_route_version(self) -> Option<&'static str> {
        match self.minor {
            14 => None,
            15..=17 => Some("v1beta1"),
            _ => Some("v1"),
        }
    }

    /// The `apiVersion` of the HTTPRoute written in `flavour`; the policy flavour on 2.14.
    pub fn http_route_api_version(self, flavour: HttpRouteFlavour) -> String {
        match (flavour, self.gateway_http_route_version()) {
            (HttpRouteFlavour::GatewayApi, Some(v)) => format!("gateway.networking.k8s.io/{v}"),
            _ => "policy.linkerd.io/v1beta3".to_owned(),
        }
    }

    /// The Gateway API schema bundle the emitted Gateway API HTTPRoutes are checked against:
    /// 1.1.1 up to 2.17, 1.6.1 from 2.18 (Linkerd 2.20 ignores fields newer than 1.2.1).
    pub fn gateway_api_bundle(self) -> &'static str {
        if self.minor >= 18 {
            "gateway-api-v1.6.1"
        } else {
            "gateway-api-v1.1.1"
        }
    }

    /// Infers the release from the CRD versions a cluster serves, as `(group, plural, versions)`.
    ///
    /// The newest marker present wins: `egressnetworks.policy.linkerd.io` (2.17),
    /// Server `v1beta3` (2.16), `externalworkloads.workload.linkerd.io` (2.15), Server `v1beta1`
    /// (2.14). The markers cannot tell 2.17 from 2.20, so a 2.17+ cluster reads as 2.17 unless the
    /// Gateway API HTTPRoute served as `v1` is Linkerd's own bundle, which the caller must say:
    /// pass the version explicitly for 2.18+ features.
    ///
    /// ```
    /// use mesh_linkerd::LinkerdVersion;
    /// let served = [("policy.linkerd.io", "servers", vec!["v1beta1", "v1beta2", "v1beta3"])];
    /// assert_eq!(LinkerdVersion::detect(&served), Some(LinkerdVersion::V2_16));
    /// assert_eq!(LinkerdVersion::detect::<&str>(&[]), None);
    /// ```
    pub fn detect<S: AsRef<str>>(served: &[(S, S, Vec<S>)]) -> Option<Self> {
        let serves = |group: &str, plural: &str, version: Option<&str>| {
            served.iter().any(|(g, p, vs)| {
                g.as_ref() == group
                    && p.as_ref() == plural
                    && version.is_none_or(|v| vs.iter().any(|x| x.as_ref() == v))
            })
        };
        if serves("policy.linkerd.io", "egressnetworks", None) {
            Some(Self::V2_17)
        } else if serves("policy.linkerd.io", "servers", Some("v1beta3")) {
            Some(Self::V2_16)
        } else if serves("workload.linkerd.io", "externalworkloads", None) {
            Some(Self::V2_15)
        } else if serves("policy.linkerd.io", "servers", None) {
            Some(Self::V2_14)
        } else {
            None
        }
    }
}

impl Default for LinkerdVersion {
    /// The newest supported release, 2.20.
    fn default() -> Self {
        Self::V2_20
    }
}

impl fmt::Display for LinkerdVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "2.{}", self.minor)
    }
}

impl FromStr for LinkerdVersion {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                "linkerd_version",
                format!("{s:?} is not a stable release such as 2.16 or stable-2.14.10"),
            )
        };
        let rest = s.trim();
        let rest = rest.strip_prefix("stable-").unwrap_or(rest);
        let rest = rest.strip_prefix("version-").unwrap_or(rest);
        let mut parts = rest.split('.');
        if parts.next() != Some("2") {
            return Err(bad());
        }
        let minor: u8 = parts.next().and_then(|m| m.parse().ok()).ok_or_else(bad)?;
        if parts.any(|p| p.parse::<u32>().is_err()) {
            return Err(bad());
        }
        Self::new(minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_parses_and_round_trips() {
        for v in LinkerdVersion::ALL {
            assert_eq!(v.to_string().parse::<LinkerdVersion>().unwrap(), v);
        }
        assert!("2.13".parse::<LinkerdVersion>().is_err());
        assert!("2.21.0".parse::<LinkerdVersion>().is_err());
        assert!("3.0".parse::<LinkerdVersion>().is_err());
        assert!("2.16.x".parse::<LinkerdVersion>().is_err());
    }

    #[test]
    fn what_each_version_decides() {
        use HttpRouteFlavour::*;
        let v = |m| LinkerdVersion::new(m).unwrap();
        assert_eq!(
            v(14).http_route_api_version(GatewayApi),
            "policy.linkerd.io/v1beta3"
        );
        assert_eq!(
            v(17).http_route_api_version(GatewayApi),
            "gateway.networking.k8s.io/v1beta1"
        );
        assert_eq!(
            v(18).http_route_api_version(GatewayApi),
            "gateway.networking.k8s.io/v1"
        );
        for m in 14..=20 {
            assert_eq!(v(m).http_route_api_version(Policy), "policy.linkerd.io/v1beta3");
            assert_eq!(v(m).has_retry_annotations(), m >= 16);
            assert_eq!(v(m).has_external_workload(), m >= 15);
            assert_eq!(v(m).has_audit_policy(), m >= 16);
        }
        assert_eq!(v(14).server_api_version(), "policy.linkerd.io/v1beta1");
        assert_eq!(v(15).server_api_version(), "policy.linkerd.io/v1beta2");
        assert_eq!(v(20).server_api_version(), "policy.linkerd.io/v1beta3");
    }

    #[test]
    fn detection_uses_the_newest_marker() {
        let s = |g: &'static str, p: &'static str, v: &[&'static str]| (g, p, v.to_vec());
        let v214 = [s("policy.linkerd.io", "servers", &["v1alpha1", "v1beta1"])];
        assert_eq!(LinkerdVersion::detect(&v214), Some(LinkerdVersion::V2_14));
        let v215 = [
            s("policy.linkerd.io", "servers", &["v1beta1", "v1beta2"]),
            s("workload.linkerd.io", "externalworkloads", &["v1beta1"]),
        ];
        assert_eq!(LinkerdVersion::detect(&v215), Some(LinkerdVersion::V2_15));
        let v217 = [
            s("policy.linkerd.io", "servers", &["v1beta3"]),
            s("policy.linkerd.io", "egressnetworks", &["v1alpha1"]),
        ];
        assert_eq!(LinkerdVersion::detect(&v217), Some(LinkerdVersion::V2_17));
    }
}
