//! Client settings, read from Consul's own environment variables and overridable by a builder.

use std::{path::PathBuf, time::Duration};

use url::Url;

use super::{Error, Token};

/// How to reach Consul. [`ClientConfig::from_env`] follows the Consul CLI: `CONSUL_HTTP_ADDR`
/// (default `127.0.0.1:8500`, may start with `https://`), `CONSUL_HTTP_SSL`, `CONSUL_HTTP_TOKEN` /
/// `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_CACERT`, `CONSUL_CAPATH`, `CONSUL_CLIENT_CERT`,
/// `CONSUL_CLIENT_KEY`, `CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL_VERIFY` (verified unless
/// false), `CONSUL_NAMESPACE`, `CONSUL_PARTITION`. Every setter overrides the environment.
/// Boolean variables take what the Consul CLI takes (`1 t T TRUE true True 0 f F FALSE false
/// False`); any other value is an error, so a typo never turns TLS verification off.
///
/// ```
/// use mesh_consul::client::ClientConfig;
/// let env = |k: &str| match k {
///     "CONSUL_HTTP_ADDR" => Some("https://consul.example:8501".to_owned()),
///     "CONSUL_HTTP_TOKEN" => Some("secret".to_owned()),
///     _ => None,
/// };
/// let c = ClientConfig::from_lookup(env).unwrap().datacenter("dc2");
/// assert_eq!(c.address.as_str(), "https://consul.example:8501/");
/// assert!(c.tls_verify);
/// assert!(!format!("{c:?}").contains("secret"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The HTTP(S) address of the agent.
    pub address: Url,
    /// The ACL token.
    pub token: Option<Token>,
    /// A PEM CA bundle to verify the agent with (replaces the system roots).
    pub ca_cert: Option<PathBuf>,
    /// A directory of PEM CA certificates.
    pub ca_path: Option<PathBuf>,
    /// A PEM client certificate (mutual TLS with the agent).
    pub client_cert: Option<PathBuf>,
    /// Its PEM private key.
    pub client_key: Option<PathBuf>,
    /// The server name to verify instead of the address host.
    pub tls_server_name: Option<String>,
    /// Verify the agent's certificate (default true).
    pub tls_verify: bool,
    /// The Enterprise namespace for every request (ignored, never sent, on CE).
    pub namespace: Option<String>,
    /// The Enterprise admin partition (ignored, never sent, on CE).
    pub partition: Option<String>,
    /// The datacenter (`?dc=`) for every request.
    pub datacenter: Option<String>,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Retries after a 429, a 5xx or a timeout.
    pub max_retries: u32,
    /// First backoff; doubled after each retry.
    pub backoff: Duration,
    /// Re-reads after a check-and-set write answered `false`.
    pub cas_retries: u32,
    /// The largest answer body kept, in bytes ([`mesh_core::body_cap::DEFAULT_MAX_BODY`] by
    /// default); a larger answer fails with [`Error::TooLarge`] and is not retried.
    pub max_body: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            address: default_address(),
            token: None,
            ca_cert: None,
            ca_path: None,
            client_cert: None,
            client_key: None,
            tls_server_name: None,
            tls_verify: true,
            namespace: None,
            partition: None,
            datacenter: None,
            request_timeout: Duration::from_secs(15),
            max_retries: 3,
            backoff: Duration::from_millis(200),
            cas_retries: 3,
            max_body: mesh_core::body_cap::DEFAULT_MAX_BODY,
        }
    }
}

fn default_address() -> Url {
    Url::parse("http://127.0.0.1:8500").unwrap_or_else(|_| unreachable!("a constant URL parses"))
}

/// Parses `CONSUL_HTTP_ADDR`: `host:port`, `http://…` or `https://…`, as the Consul CLI does: an
/// address, not a URL with a path, a query or a fragment (a token there would be sent in every
/// URL and shown in every error; `CONSUL_HTTP_TOKEN` is the place for it).
///
/// ```
/// use mesh_consul::client::parse_address;
/// assert_eq!(parse_address("consul:8500", false)?.as_str(), "http://consul:8500/");
/// let refused = parse_address("http://consul:8500/?token=s3cret", false).unwrap_err();
/// assert!(!refused.to_string().contains("s3cret"));
/// # Ok::<(), mesh_consul::client::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] for a unix socket, an unparsable address, or one with a path, a query or a
/// fragment. The message shows the address without its userinfo, query and fragment
/// ([`mesh_core::redact::redact`]).
pub fn parse_address(addr: &str, ssl: bool) -> Result<Url, Error> {
    let addr = addr.trim();
    let with_scheme = if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_owned()
    } else {
        format!("{}://{addr}", if ssl { "https" } else { "http" })
    };
    // Shown with a scheme (as parsed, when it had none) and nothing secret left: no userinfo,
    // query or fragment.
    let shown = if addr.contains("://") { addr } else { &with_scheme };
    let bad = |reason: &str| Error::Config {
        what: "CONSUL_HTTP_ADDR".into(),
        reason: format!("{:?}: {reason}", mesh_core::redact::redact(shown)),
    };
    if addr.starts_with("unix://") {
        return Err(bad("unix sockets are not supported; use an http(s) address"));
    }
    let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad(
            "an address is a scheme, a host and a port, with no path, query or fragment \
             (put the token in CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE)",
        ));
    }
    Ok(url)
}

impl ClientConfig {
    /// Reads the Consul environment variables of this process.
    ///
    /// # Errors
    /// [`Error::Config`] for a bad address or an unreadable token file.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    ///
    /// # Errors
    /// [`Error::Config`] for a bad address, an unreadable token file or a boolean variable that is
    /// not a boolean.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |k: &str| lookup(k).filter(|v| !v.trim().is_empty());
        let flag = |k: &str| get(k).map(|v| parse_bool(k, &v)).transpose();
        let ssl = flag("CONSUL_HTTP_SSL")?.unwrap_or(false);
        let mut c = Self::default();
        if let Some(addr) = get("CONSUL_HTTP_ADDR") {
            c.address = parse_address(&addr, ssl)?;
        } else if ssl {
            c.address = parse_address("127.0.0.1:8501", true)?;
        }
        c.token = match (get("CONSUL_HTTP_TOKEN"), get("CONSUL_HTTP_TOKEN_FILE")) {
            (Some(t), _) => Some(Token::new(t)),
            (None, Some(path)) => Some(Token::new(std::fs::read_to_string(&path).map_err(|e| {
                Error::Config {
                    what: "CONSUL_HTTP_TOKEN_FILE".into(),
                    reason: format!("{path}: {e}"),
                }
            })?)),
            (None, None) => None,
        };
        c.ca_cert = get("CONSUL_CACERT").map(PathBuf::from);
        c.ca_path = get("CONSUL_CAPATH").map(PathBuf::from);
        c.client_cert = get("CONSUL_CLIENT_CERT").map(PathBuf::from);
        c.client_key = get("CONSUL_CLIENT_KEY").map(PathBuf::from);
        c.tls_server_name = get("CONSUL_TLS_SERVER_NAME");
        c.tls_verify = flag("CONSUL_HTTP_SSL_VERIFY")?.unwrap_or(true);
        c.namespace = get("CONSUL_NAMESPACE");
        c.partition = get("CONSUL_PARTITION");
        Ok(c)
    }

    /// Sets the address.
    #[must_use]
    pub fn address(mut self, address: Url) -> Self {
        self.address = address;
        self
    }

    /// Sets the ACL token.
    #[must_use]
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Sets the CA bundle file.
    #[must_use]
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_cert = Some(path.into());
        self
    }

    /// Sets the CA directory.
    #[must_use]
    pub fn ca_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_path = Some(path.into());
        self
    }

    /// Sets the client certificate and key files.
    #[must_use]
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    /// Sets the TLS server name.
    #[must_use]
    pub fn tls_server_name(mut self, name: impl Into<String>) -> Self {
        self.tls_server_name = Some(name.into());
        self
    }

    /// Turns certificate verification on or off.
    #[must_use]
    pub fn tls_verify(mut self, verify: bool) -> Self {
        self.tls_verify = verify;
        self
    }

    /// Sets the Enterprise namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Sets the Enterprise partition.
    #[must_use]
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = Some(partition.into());
        self
    }

    /// Sets the datacenter sent as `?dc=` on every call.
    #[must_use]
    pub fn datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = Some(dc.into());
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the retry budget for 429, 5xx and timeouts, and the first backoff.
    #[must_use]
    pub fn retries(mut self, max_retries: u32, backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.backoff = backoff;
        self
    }

    /// Sets how many times a `false` check-and-set answer is re-read and retried.
    #[must_use]
    pub fn cas_retries(mut self, n: u32) -> Self {
        self.cas_retries = n;
        self
    }
}

/// A boolean environment value, read as the Consul CLI reads it (Go's `strconv.ParseBool`).
fn parse_bool(name: &str, value: &str) -> Result<bool, Error> {
    match value.trim() {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        other => Err(Error::Config {
            what: name.to_owned(),
            reason: format!("{other:?} is not a boolean (use true or false)"),
        }),
    }
}
