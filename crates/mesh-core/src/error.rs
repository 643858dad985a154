//! The one error type every operation returns.

use crate::{Feature, MeshKind, ObjectRef};

/// A boxed error from a lower layer (HTTP, Kubernetes, I/O).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`enum@Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a mesh operation.
///
/// Each message describes only its own level; the cause, when there is one, is reachable through
/// [`std::error::Error::source`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller passed a value that can never be valid. Nothing was written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field, as a dotted path (`split.weights[1]`).
        field: String,
        /// Why the value is refused.
        reason: String,
    },
    /// The object does not exist on the control plane.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// The kind of object (`VirtualService`, `service-resolver`, `fault`).
        kind: String,
        /// Its name or id.
        name: String,
    },
    /// A create-only write found the object already there.
    #[error("{kind} {name:?} already exists")]
    AlreadyExists {
        /// The kind of object.
        kind: String,
        /// Its name.
        name: String,
    },
    /// Another writer owns the field or changed the object under us.
    #[error("conflict on {object}: {owner} owns {field}")]
    Conflict {
        /// The object written.
        object: String,
        /// The other field manager, or `unknown`.
        owner: String,
        /// The field or list in dispute.
        field: String,
    },
    /// The mesh cannot do this natively, and no opted-in emulation applies.
    #[error("{mesh} does not support {feature}: {reason}")]
    Unsupported {
        /// The mesh that refuses.
        mesh: MeshKind,
        /// The exact feature or field.
        feature: Feature,
        /// Why, and what to do instead.
        reason: String,
    },
    /// A required endpoint, credential or CRD is missing.
    #[error("{what} is not configured: {hint}")]
    NotConfigured {
        /// What is missing (`CRD virtualservices.networking.istio.io`, `a control plane`).
        what: String,
        /// How to fix it (`install Istio's CRDs`).
        hint: String,
    },
    /// The control plane failed in a way callers cannot act on directly.
    #[error("{mesh} control plane request failed")]
    Backend {
        /// The mesh whose control plane failed.
        mesh: MeshKind,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// A metrics, tracing or graph source (Prometheus, Jaeger, Zipkin, Tempo, Kiali) failed: not
    /// the mesh's control plane. Shown as the source, which names the component and the endpoint
    /// (`Prometheus request to http://… failed`).
    #[error(transparent)]
    Observability {
        /// The underlying error.
        source: BoxError,
    },
    /// A multi-write plan stopped part-way. `applied` landed, in order; the rest did not.
    ///
    /// Plans are ordered so that every prefix is safe, so the mesh is consistent, but not at the
    /// requested state.
    #[error("plan stopped after {} of {total} writes; {failed} failed", applied.len())]
    PartiallyApplied {
        /// The writes that landed, in plan order.
        applied: Vec<ObjectRef>,
        /// The write that failed.
        failed: Box<ObjectRef>,
        /// How many writes the plan had.
        total: usize,
        /// Why it failed.
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unsupported`].
    pub fn unsupported(mesh: MeshKind, feature: Feature, reason: impl Into<String>) -> Self {
        Self::Unsupported {
            mesh,
            feature,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::NotConfigured`].
    pub fn not_configured(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::NotConfigured {
            what: what.into(),
            hint: hint.into(),
        }
    }

    /// Shorthand for [`Error::Backend`].
    pub fn backend(mesh: MeshKind, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            mesh,
            source: source.into(),
        }
    }

    /// This error's message followed by each of its causes', joined by `: `, for a report that
    /// has one line (a log, a controller's summary).
    ///
    /// ```
    /// use mesh_core::{Error, MeshKind};
    /// let e = Error::backend(MeshKind::Istio, std::io::Error::other("429 Too Many Requests"));
    /// assert_eq!(e.to_string(), "istio control plane request failed");
    /// assert_eq!(e.with_causes(), "istio control plane request failed: 429 Too Many Requests");
    /// ```
    #[must_use]
    pub fn with_causes(&self) -> String {
        let mut message = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        message
    }

    /// Prefixes the field of an [`Error::InvalidInput`] with `parent.`; other errors pass through.
    #[must_use]
    pub fn in_field(self, parent: &str) -> Self {
        match self {
            Self::InvalidInput { field, reason } => Self::InvalidInput {
                field: format!("{parent}.{field}"),
                reason,
            },
            other => other,
        }
    }

    /// True when retrying the same call later could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Backend { .. } | Self::Observability { .. } | Self::Conflict { .. }
        )
    }
}
