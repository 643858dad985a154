//! Failures of the Kubernetes API, and how they become [`mesh_core::Error`]s.
//!
//! Callers see `mesh_core::Error`: a missing CRD is `NotConfigured`, a missing object `NotFound`,
//! an existing one `AlreadyExists`, a field-manager or `resourceVersion` conflict `Conflict`, a
//! rejected object `InvalidInput`, and everything else `Backend` with a [`KubeError`] as its source.

use std::time::Duration;

use mesh_core::{Error, MeshKind, ObjectRef};
use serde_json::Value;

use crate::ResourceType;

/// A failure talking to the Kubernetes API server, the source of [`Error::Backend`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The server answered with an error status.
    #[error("the API server answered {code} {reason}: {message}")]
    Api {
        /// The HTTP status.
        code: u16,
        /// The `Status` reason (`TooManyRequests`, `InternalError`), or empty.
        reason: String,
        /// The `Status` message, or the start of the body.
        message: String,
    },
    /// No answer within the request timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request could not be sent or the connection dropped.
    #[error("the request failed on the way")]
    Transport(#[source] kube::Error),
    /// Retries ran out; the last failure is the source.
    #[error("gave up after {attempts} attempts in {elapsed:?}")]
    RetriesExhausted {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        #[source]
        last: Box<KubeError>,
    },
    /// The answer passed the body cap ([`crate::RetryPolicy::max_body`]); it was not kept.
    #[error("{0}")]
    TooLarge(mesh_core::body_cap::BodyTooLarge),
    /// The server answered with something that is not the expected JSON.
    #[error("unexpected answer from the API server: {0}")]
    Decode(String),
}

impl KubeError {
    /// Whether the request may have reached the server and been applied although no answer came
    /// back: a timeout, a dropped connection, or retries that ended on one of those or on a 5xx.
    pub fn answer_may_be_lost(&self) -> bool {
        match self {
            Self::Timeout(_) | Self::Transport(_) => true,
            Self::Api { code, .. } => *code >= 500,
            Self::RetriesExhausted { last, .. } => last.answer_may_be_lost(),
            Self::TooLarge(_) | Self::Decode(_) => false,
        }
    }
}

/// The fields of a Kubernetes `Status` body that matter here.
#[derive(Debug, Default, Clone)]
pub(crate) struct Status {
    pub(crate) reason: String,
    pub(crate) message: String,
    /// `details.name`: set when the object (not its type) was not found.
    pub(crate) name: Option<String>,
    /// `details.kind`: the resource (plural) the details name.
    pub(crate) kind: Option<String>,
    /// `(reason, message, field)` of each `details.causes[]`.
    pub(crate) causes: Vec<(String, String, String)>,
}

impl Status {
    pub(crate) fn parse(body: &[u8]) -> Self {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            let text = String::from_utf8_lossy(body);
            return Self {
                message: text.chars().take(200).collect::<String>().trim().to_owned(),
                ..Self::default()
            };
        };
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Self {
            reason: s(&v["reason"]),
            message: s(&v["message"]),
            name: v["details"]["name"].as_str().map(str::to_owned),
            kind: v["details"]["kind"].as_str().map(str::to_owned),
            causes: v["details"]["causes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (s(&c["reason"]), s(&c["message"]), s(&c["field"])))
                .collect(),
        }
    }

    /// The other field managers named in apply-conflict causes.
    fn managers(&self) -> Vec<String> {
        let mut managers: Vec<String> = self
            .causes
            .iter()
            .filter_map(|(_, message, _)| quoted_after(message, "conflict with "))
            .collect();
        managers.sort();
        managers.dedup();
        managers
    }
}

/// The text between the quotes that follow `prefix` (`conflict with "kubectl" using …`).
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_owned())
}

/// How the real API server (1.33) answers a server-side apply that sets a field the schema does
/// not declare, or a field of the wrong type: status 500, `failed to create typed patch object
/// (NS/NAME; GVK): .spec.x: field not declared in schema` (or `expected numeric ..., got
/// string`). It is the caller's input, so it is neither retried nor reported as a server failure.
pub(crate) const UNDECLARED_FIELD: &str = "failed to create typed patch object";

/// True for the real API server's 500 answer to an undeclared or mistyped field (see
/// [`UNDECLARED_FIELD`]).
pub(crate) fn is_undeclared_field(code: u16, body: &[u8]) -> bool {
    code == 500 && Status::parse(body).message.contains(UNDECLARED_FIELD)
}

/// Maps an error status for a request about `target` (of type `rt`) to the caller's error.
pub(crate) fn map_status(
    mesh: MeshKind,
    code: u16,
    body: &[u8],
    target: &ObjectRef,
    rt: &ResourceType,
) -> Error {
    let status = Status::parse(body);
    match code {
        404 if status.name.is_none() => crd_missing(mesh, rt),
        // Writing into a namespace that does not exist.
        404 if status.kind.as_deref() == Some("namespaces") && rt.plural != "namespaces" => Error::NotFound {
            kind: "Namespace".to_owned(),
            name: status.name.unwrap_or_default(),
        },
        404 => Error::NotFound {
            kind: target.kind.clone(),
            name: object_name(target),
        },
        409 if status.reason == "AlreadyExists" => Error::AlreadyExists {
            kind: target.kind.clone(),
            name: object_name(target),
        },
        409 => {
            let managers = status.managers();
            let fields: Vec<&str> = status
                .causes
                .iter()
                .map(|(_, _, f)| f.as_str())
                .filter(|f| !f.is_empty())
                .collect();
            Error::Conflict {
                object: target.to_string(),
                owner: if managers.is_empty() {
                    "unknown".to_owned()
                } else {
                    managers.join(", ")
                },
                field: if fields.is_empty() {
                    "metadata.resourceVersion".to_owned()
                } else {
                    fields.join(", ")
                },
            }
        }
        400 | 422 => {
            let field = status
                .causes
                .iter()
                .map(|(_, _, f)| f.as_str())
                .find(|f| !f.is_empty())
                .unwrap_or_default();
            Error::InvalidInput {
                field: if field.is_empty() {
                    target.to_string()
                } else {
                    format!("{target}: {field}")
                },
                reason: status.message,
            }
        }
        // A server-side apply of an undeclared or mistyped field: not a server fault.
        500 if status.message.contains(UNDECLARED_FIELD) => Error::InvalidInput {
            field: target.to_string(),
            reason: status.message,
        },
        401 | 403 => Error::NotConfigured {
            what: format!("permission for {}", rt.crd_name()),
            hint: format!("grant the client access ({}): {}", mesh, status.message),
        },
        _ => Error::backend(
            mesh,
            KubeError::Api {
                code,
                reason: status.reason,
                message: status.message,
            },
        ),
    }
}

/// The error for a resource type the cluster does not serve.
pub(crate) fn crd_missing(mesh: MeshKind, rt: &ResourceType) -> Error {
    let what = if rt.group.is_empty() {
        format!("resource type {}", rt.crd_name())
    } else {
        format!("CRD {}", rt.crd_name())
    };
    Error::NotConfigured {
        what,
        hint: format!(
            "the cluster does not serve {} {}; install {mesh}'s CRDs (or this version of them)",
            rt.api_version(),
            rt.kind
        ),
    }
}

fn object_name(target: &ObjectRef) -> String {
    match &target.namespace {
        Some(ns) => format!("{ns}/{}", target.name),
        None => target.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vs() -> (ObjectRef, ResourceType) {
        let target = ObjectRef::new(
            "networking.istio.io/v1",
            "VirtualService",
            Some("prod"),
            "reviews",
        );
        let rt = ResourceType::resolve(&target.api_version, &target.kind).unwrap();
        (target, rt)
    }

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn apply_conflicts_name_the_other_manager() {
        let (t, rt) = vs();
        let b = body(json!({
            "kind": "Status", "reason": "Conflict", "code": 409,
            "message": "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using networking.istio.io/v1: .spec.http",
            "details": { "causes": [{ "reason": "FieldManagerConflict",
                "message": "conflict with \"kubectl-client-side-apply\" using networking.istio.io/v1",
                "field": ".spec.http" }] }
        }));
        let Error::Conflict { owner, field, .. } = map_status(MeshKind::Istio, 409, &b, &t, &rt) else {
            panic!("not a conflict")
        };
        assert_eq!(owner, "kubectl-client-side-apply");
        assert_eq!(field, ".spec.http");
    }

    #[test]
    fn not_found_type_versus_object() {
        let (t, rt) = vs();
        let type_missing =
            body(json!({ "kind": "Status", "reason": "NotFound", "details": {}, "code": 404 }));
        let e = map_status(MeshKind::Istio, 404, &type_missing, &t, &rt);
        assert!(
            e.to_string().contains("CRD virtualservices.networking.istio.io")
                && e.to_string().contains("istio"),
            "{e}"
        );
        let plain = map_status(MeshKind::Istio, 404, b"404 page not found", &t, &rt);
        assert!(matches!(plain, Error::NotConfigured { .. }));
        let object_missing = body(json!({ "reason": "NotFound", "details": { "name": "reviews" } }));
        assert!(matches!(
            map_status(MeshKind::Istio, 404, &object_missing, &t, &rt),
            Error::NotFound { .. }
        ));
    }

    #[test]
    fn a_missing_namespace_is_named() {
        let (t, rt) = vs();
        let b = body(
            json!({ "reason": "NotFound", "message": "namespaces \"prod\" not found",
            "details": { "name": "prod", "kind": "namespaces" } }),
        );
        let Error::NotFound { kind, name } = map_status(MeshKind::Istio, 404, &b, &t, &rt) else {
            panic!()
        };
        assert_eq!((kind.as_str(), name.as_str()), ("Namespace", "prod"));
    }

    #[test]
    fn others() {
        let (t, rt) = vs();
        let exists = body(json!({ "reason": "AlreadyExists" }));
        assert!(matches!(
            map_status(MeshKind::Istio, 409, &exists, &t, &rt),
            Error::AlreadyExists { .. }
        ));
        let invalid = body(json!({ "reason": "Invalid", "message": "bad",
            "details": { "causes": [{ "field": "spec.http[0].timeout" }] } }));
        let Error::InvalidInput { field, reason } = map_status(MeshKind::Istio, 422, &invalid, &t, &rt)
        else {
            panic!()
        };
        assert_eq!(field, "VirtualService prod/reviews: spec.http[0].timeout");
        assert_eq!(reason, "bad");
        let e = map_status(MeshKind::Istio, 500, b"{}", &t, &rt);
        assert!(matches!(e, Error::Backend { .. }));
    }
}
