//! Errors of the Consul HTTP client, and how they map onto [`mesh_core::Error`].

use mesh_core::{Feature, MeshKind};

/// What can go wrong talking to Consul. Messages never contain the ACL token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client configuration is unusable (bad address, unreadable certificate file).
    #[error("invalid Consul client configuration: {what}: {reason}")]
    Config {
        /// The setting (`CONSUL_HTTP_ADDR`).
        what: String,
        /// Why.
        reason: String,
    },
    /// Consul answered with an error status.
    #[error("Consul answered {status} to {method} {path}: {message}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The method.
        method: String,
        /// The path, without query.
        path: String,
        /// Consul's message (the response body, truncated).
        message: String,
    },
    /// The request did not complete (connection, TLS, timeout).
    #[error("request {method} {path} to Consul failed")]
    Transport {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer passed the body cap ([`crate::client::ClientConfig::max_body`]); it was not kept.
    #[error("the answer to {method} {path} from Consul is too large: {source}")]
    TooLarge {
        /// The method.
        method: String,
        /// The path.
        path: String,
        /// The cap that was passed.
        #[source]
        source: mesh_core::body_cap::BodyTooLarge,
    },
    /// Consul's answer was not the JSON expected.
    #[error("unexpected answer from Consul to {path}")]
    Decode {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A namespace or partition other than `default` was asked of Consul CE.
    #[error("{what} {value:?} needs Consul Enterprise; this agent is CE")]
    EnterpriseOnly {
        /// `namespace` or `partition`.
        what: &'static str,
        /// The value asked for.
        value: String,
    },
    /// Check-and-set kept failing because another writer kept changing the entry.
    #[error("{key} kept changing under check-and-set ({attempts} attempts)")]
    CasExhausted {
        /// The entry or key.
        key: String,
        /// How many writes were tried.
        attempts: u32,
    },
}

impl Error {
    /// The HTTP status, for [`Error::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<Error> for mesh_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Config { what, reason } => mesh_core::Error::not_configured(what, reason),
            Error::Status { status: 403, .. } => mesh_core::Error::NotConfigured {
                what: "a Consul ACL token with the needed permission".into(),
                hint: format!(
                    "set CONSUL_HTTP_TOKEN or CONSUL_HTTP_TOKEN_FILE to a token with service:write, intentions:write or operator:write as the entry needs ({e})"
                ),
            },
            Error::Status {
                status: 404, path, ..
            } => mesh_core::Error::NotFound {
                kind: "consul object".into(),
                name: path,
            },
            Error::EnterpriseOnly { what, value } => mesh_core::Error::unsupported(
                MeshKind::Consul,
                Feature::RegisterService,
                format!(
                    "{what} {value:?}: namespaces and partitions are a Consul Enterprise feature; CE answers 400"
                ),
            ),
            Error::CasExhausted { key, .. } => mesh_core::Error::Conflict {
                object: key,
                owner: "unknown".into(),
                field: "ModifyIndex".into(),
            },
            other => mesh_core::Error::backend(MeshKind::Consul, other),
        }
    }
}
