//! Service registration: what a service is, where its instances run, and its stateless id.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, MeshKind, Namespace, Port, ServiceName, Version};

/// The application protocol of a service port. L7 routing, splitting and retries need an HTTP-aware
/// protocol on every mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1.
    #[default]
    Http,
    /// HTTP/2 (cleartext or via the sidecar's mTLS).
    Http2,
    /// gRPC.
    Grpc,
    /// Opaque TCP: no L7 routing, splitting, retries or faults.
    Tcp,
}

impl Protocol {
    /// True for protocols on which the meshes offer L7 features.
    pub fn is_l7(self) -> bool {
        !matches!(self, Protocol::Tcp)
    }

    /// The lower-case name, which is also Consul's `Protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Http2 => "http2",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
        }
    }
}

/// One running instance of a service outside Kubernetes' own discovery (a VM, a Consul node).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// IP address or DNS name of the instance.
    pub address: String,
    /// The port the instance listens on.
    pub port: Port,
    /// Labels (Istio WorkloadEntry labels, Consul `Meta`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Endpoint {
    /// An endpoint with no labels.
    ///
    /// The address is an IPv4 or IPv6 address (brackets are taken off: `[2001:db8::1]` is
    /// stored as `2001:db8::1`) or a DNS name. Something that looks like an IPv4 address must be
    /// one (`999.0.0.1` is refused), and a socket (`unix://...`) has no port to give.
    ///
    /// ```
    /// use mesh_core::{Endpoint, Port};
    /// let p = Port::new(9080).unwrap();
    /// assert_eq!(Endpoint::new("[2001:db8::1]", p).unwrap().address, "2001:db8::1");
    /// assert!(Endpoint::new("999.0.0.1", p).is_err());
    /// assert!(Endpoint::new("unix:///tmp/s", p).is_err());
    /// assert!(Endpoint::new("vm-1.prod.internal", p).is_ok());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty, malformed or socket address.
    pub fn new(address: impl Into<String>, port: Port) -> Result<Self, Error> {
        let address = address.into();
        let bad = |why: &str| Error::invalid("endpoint.address", format!("{address:?} {why}"));
        let unbracketed = address
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(&address);
        let looks_v4 =
            !unbracketed.is_empty() && unbracketed.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if address.is_empty() || address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("is not an address"));
        }
        if address.contains("://") {
            return Err(bad(
                "is a URL or socket; an endpoint is an IP address or DNS name with a port",
            ));
        }
        if looks_v4 && unbracketed.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(bad("is not a valid IPv4 address"));
        }
        if unbracketed.contains(':') && unbracketed.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad("is not a valid IPv6 address"));
        }
        let is_ip = unbracketed.parse::<std::net::IpAddr>().is_ok();
        let dns_ok = unbracketed.len() <= 253
            && unbracketed.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if !is_ip && !dns_ok {
            return Err(bad("is neither an IP address nor a DNS name"));
        }
        let address = unbracketed.to_owned();
        Ok(Self {
            address,
            port,
            labels: BTreeMap::new(),
        })
    }
}

/// How the mesh checks an instance's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, tag = "type", rename_all = "lowercase")]
pub enum HealthCheck {
    /// An HTTP GET on `path`; 2xx is healthy.
    Http {
        /// The path, starting with `/`.
        path: String,
        /// How often to check.
        #[serde(with = "crate::units::duration_str")]
        interval: Duration,
        /// How long one check may take.
        #[serde(with = "crate::units::duration_str")]
        timeout: Duration,
    },
    /// A TCP connect.
    Tcp {
        /// How often to check.
        #[serde(with = "crate::units::duration_str")]
        interval: Duration,
        /// How long one check may take.
        #[serde(with = "crate::units::duration_str")]
        timeout: Duration,
    },
    /// A gRPC health-checking protocol call.
    Grpc {
        /// How often to check.
        #[serde(with = "crate::units::duration_str")]
        interval: Duration,
        /// How long one check may take.
        #[serde(with = "crate::units::duration_str")]
        timeout: Duration,
    },
}

/// Everything needed to register a service with a mesh.
///
/// ```
/// use mesh_core::{ServiceDefinition, Protocol};
/// let def = ServiceDefinition::builder("reviews", "bookinfo", 9080)
///     .unwrap()
///     .protocol(Protocol::Http)
///     .version("v1")
///     .unwrap();
/// assert_eq!(def.id().to_string(), "bookinfo/reviews");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// The service name.
    pub name: ServiceName,
    /// Its namespace (`default` on Consul CE).
    #[serde(default)]
    pub namespace: Namespace,
    /// The service port.
    pub port: Port,
    /// The application protocol.
    #[serde(default)]
    pub protocol: Protocol,
    /// The version these instances run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    /// Free-form metadata (Consul `Meta`, Kubernetes annotations).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Instances outside Kubernetes discovery. Empty for a plain Kubernetes Service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
    /// An optional health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
}

impl ServiceDefinition {
    /// Starts a definition with the required fields; the rest take their defaults.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad name, namespace or port.
    pub fn builder(name: &str, namespace: &str, port: u16) -> Result<Self, Error> {
        Ok(Self {
            name: ServiceName::new(name)?,
            namespace: Namespace::new(namespace)?,
            port: Port::new(port)?,
            protocol: Protocol::default(),
            version: None,
            metadata: BTreeMap::new(),
            endpoints: Vec::new(),
            health_check: None,
        })
    }

    /// Sets the protocol.
    #[must_use]
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets the version.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `version` is not a label.
    pub fn version(mut self, version: &str) -> Result<Self, Error> {
        self.version = Some(Version::new(version)?);
        Ok(self)
    }

    /// Adds an endpoint.
    #[must_use]
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// The stateless id of this service.
    pub fn id(&self) -> ServiceId {
        ServiceId {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Checks the cross-field rules the types alone cannot: unique endpoints and a sane health
    /// check.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, e) in self.endpoints.iter().enumerate() {
            if !seen.insert((&e.address, e.port)) {
                return Err(Error::invalid(
                    format!("endpoints[{i}]"),
                    format!("{}:{} is listed twice", e.address, e.port),
                ));
            }
        }
        if let Some(HealthCheck::Http { path, .. }) = &self.health_check
            && !path.starts_with('/')
        {
            return Err(Error::invalid("health_check.path", "must start with '/'"));
        }
        Ok(())
    }
}

/// A stateless service id: the namespace and name are the whole id, so any process can act on it
/// after a restart. Written `namespace/name`.
///
/// ```
/// use mesh_core::ServiceId;
/// let id: ServiceId = "prod/api".parse().unwrap();
/// assert_eq!(id.name.as_str(), "api");
/// assert_eq!(id.to_string(), "prod/api");
/// let bare: ServiceId = "api".parse().unwrap();
/// assert_eq!(bare.namespace.as_str(), "default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServiceId {
    /// The namespace.
    pub namespace: Namespace,
    /// The service name.
    pub name: ServiceName,
}

impl ServiceId {
    /// Builds an id from validated parts.
    pub fn new(namespace: Namespace, name: ServiceName) -> Self {
        Self { namespace, name }
    }

    /// The in-cluster fully qualified host name, `name.namespace.svc.cluster.local`.
    pub fn fqdn(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.namespace)
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl FromStr for ServiceId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.split_once('/') {
            Some((ns, name)) => Ok(Self {
                namespace: Namespace::new(ns)?,
                name: ServiceName::new(name)?,
            }),
            None => Ok(Self {
                namespace: Namespace::default(),
                name: ServiceName::new(s)?,
            }),
        }
    }
}

impl TryFrom<String> for ServiceId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<ServiceId> for String {
    fn from(id: ServiceId) -> String {
        id.to_string()
    }
}

/// What `register_service` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The service's stateless id; `unregister_service` needs nothing else.
    pub service_id: ServiceId,
    /// The mesh it was registered with.
    pub mesh: MeshKind,
    /// True when the mesh already knew the service (a plain Kubernetes Service on Istio) and
    /// nothing had to be written.
    pub already_registered: bool,
}
