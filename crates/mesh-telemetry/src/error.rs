//! The crate's error type and its mapping onto [`mesh_core::Error`].

use mesh_core::MeshKind;

/// `Result` with this crate's [`enum@Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while reading metrics, traces or the graph.
///
/// Each message describes only its own level; the cause is reachable through
/// [`std::error::Error::source`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No endpoint was configured for a source this call needs.
    #[error("{what} is not configured: {hint}")]
    NotConfigured {
        /// What is missing (`Prometheus URL`).
        what: &'static str,
        /// How to fix it.
        hint: &'static str,
    },
    /// A value the caller passed cannot be used (a label name, a URL, a trace id).
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The HTTP request failed before a response arrived (connect, TLS, timeout).
    #[error("{service} request to {endpoint} failed")]
    Transport {
        /// The component: `Prometheus`, `Jaeger`, `Zipkin`, `Tempo` or `Kiali`.
        service: &'static str,
        /// The endpoint, without credentials or query.
        endpoint: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer passed the body cap ([`mesh_core::body_cap::DEFAULT_MAX_BODY`]); it was not kept.
    #[error("the answer from {service} at {endpoint} is too large: {source}")]
    TooLarge {
        /// The component, as in [`Error::Transport`].
        service: &'static str,
        /// The endpoint, without credentials or query.
        endpoint: String,
        /// The cap that was passed.
        #[source]
        source: mesh_core::body_cap::BodyTooLarge,
    },
    /// Prometheus answered with its error envelope (`status: error`).
    #[error("Prometheus rejected the query ({error_type}, HTTP {http_status}): {message}")]
    Prometheus {
        /// The HTTP status code.
        http_status: u16,
        /// `errorType`: `bad_data`, `execution`, `timeout`, `canceled`, `internal`, ...
        error_type: String,
        /// `error`: the server's message.
        message: String,
    },
    /// A tracing or graph backend answered with an error status.
    #[error("{service} answered HTTP {http_status}: {message}")]
    Http {
        /// Which backend (`Jaeger`, `Zipkin`, `Tempo`, `Kiali`, `Prometheus`).
        service: &'static str,
        /// The HTTP status code.
        http_status: u16,
        /// The message extracted from the body, shortened.
        message: String,
    },
    /// A response body did not have the documented shape.
    #[error("could not decode the {what} response")]
    Decode {
        /// Which response (`Prometheus query`, `Jaeger api_v3 traces`).
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The response parsed but holds something this call cannot use.
    #[error("unexpected {what}: {reason}")]
    Unexpected {
        /// Which value.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Maps onto the core error: configuration and input problems keep their variant, everything
    /// else becomes [`mesh_core::Error::Backend`] for `mesh`, with this error as its source.
    ///
    /// ```
    /// use mesh_core::MeshKind;
    /// let e = mesh_telemetry::Error::NotConfigured { what: "Prometheus URL", hint: "set PROMETHEUS_URL" };
    /// let core = e.into_core(MeshKind::Istio);
    /// assert!(matches!(core, mesh_core::Error::NotConfigured { .. }));
    /// assert_eq!(core.to_string(), "Prometheus URL is not configured: set PROMETHEUS_URL");
    /// ```
    pub fn into_core(self, mesh: MeshKind) -> mesh_core::Error {
        match self {
            Self::NotConfigured { what, hint } => mesh_core::Error::not_configured(what, hint),
            Self::InvalidInput { field, reason } => mesh_core::Error::invalid(field, reason),
            // Prometheus, a tracing backend or Kiali failed, not the mesh's control plane.
            other => {
                let _ = mesh;
                mesh_core::Error::Observability {
                    source: Box::new(other),
                }
            }
        }
    }

    /// True when retrying later could succeed (transport failures, 5xx, Prometheus timeouts).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Prometheus {
                http_status,
                error_type,
                ..
            } => *http_status >= 500 || error_type == "timeout" || error_type == "unavailable",
            Self::Http { http_status, .. } => *http_status >= 500 || *http_status == 429,
            _ => false,
        }
    }
}

/// Shortens a response body for an error message: at most 300 characters, on a char boundary.
pub(crate) fn snippet(body: &str) -> String {
    const MAX: usize = 300;
    let trimmed = body.trim();
    match trimmed.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_cuts_long_bodies_on_char_boundaries() {
        let long = "é".repeat(400);
        let s = snippet(&long);
        assert!(s.ends_with("..."));
        assert_eq!(s.chars().count(), 303);
        assert_eq!(snippet("  short \n"), "short");
    }

    #[test]
    fn transient_classification() {
        let timeout = Error::Prometheus {
            http_status: 503,
            error_type: "timeout".into(),
            message: "x".into(),
        };
        assert!(timeout.is_transient());
        let bad = Error::Prometheus {
            http_status: 400,
            error_type: "bad_data".into(),
            message: "x".into(),
        };
        assert!(!bad.is_transient());
        assert!(matches!(
            bad.into_core(MeshKind::Linkerd),
            mesh_core::Error::Observability { .. }
        ));
    }
}
