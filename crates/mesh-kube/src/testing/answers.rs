//! The fake API server's HTTP answers: an [`Answer`] is a status code and a JSON body; the error
//! answers carry a Kubernetes `Status` body worded as the real API server words it (404 for an
//! unknown type or object, 400, 405, 409 for an existing object or a stale `resourceVersion`,
//! 415, 422, 500); [`response`] turns an answer into the HTTP response the client receives.

use http::{Response, StatusCode, header};
use kube::client::Body;
use serde_json::{Value, json};

use crate::ResourceType;

/// What the serving task does with a request.
pub(super) enum Reply {
    Respond(Response<Body>),
    Hang,
    Drop,
}

/// An HTTP status and JSON body.
pub(super) struct Answer(pub(super) u16, pub(super) Value);

/// A Kubernetes `Status` body.
pub(super) fn status_body(code: u16, reason: &str, message: &str, details: Value) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason,
        "details": details, "code": code
    })
}

/// The `details` of a `Status` about the object `name` of type `rt`.
pub(super) fn details(rt: &ResourceType, name: &str) -> Value {
    json!({ "name": name, "group": rt.group, "kind": rt.plural })
}

/// The answer to a delete: a successful `Status`.
pub(super) fn deleted(rt: &ResourceType, name: &str) -> Answer {
    Answer(
        200,
        json!({ "kind": "Status", "apiVersion": "v1", "status": "Success", "details": details(rt, name) }),
    )
}

/// The 404 for a URL that names no served type.
pub(super) fn type_not_found() -> Answer {
    Answer(
        404,
        status_body(
            404,
            "NotFound",
            "the server could not find the requested resource",
            json!({}),
        ),
    )
}

/// The 404 for an object that does not exist.
pub(super) fn object_not_found(rt: &ResourceType, name: &str) -> Answer {
    let msg = format!("{} \"{name}\" not found", rt.crd_name());
    Answer(404, status_body(404, "NotFound", &msg, details(rt, name)))
}

pub(super) fn bad_request(message: &str) -> Answer {
    Answer(400, status_body(400, "BadRequest", message, json!({})))
}

pub(super) fn method_not_allowed() -> Answer {
    Answer(
        405,
        status_body(405, "MethodNotAllowed", "method not allowed", json!({})),
    )
}

/// The 409 for a create of an object that exists.
pub(super) fn already_exists(rt: &ResourceType, name: &str) -> Answer {
    let msg = format!("{} \"{name}\" already exists", rt.crd_name());
    Answer(409, status_body(409, "AlreadyExists", &msg, details(rt, name)))
}

/// The 409 for a `resourceVersion` precondition that no longer holds.
pub(super) fn stale(rt: &ResourceType, name: &str, current: &Value, want: Option<&str>) -> Option<Answer> {
    let want = want?;
    if current["metadata"]["resourceVersion"].as_str() == Some(want) {
        return None;
    }
    let msg = format!(
        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
         please apply your changes to the latest version and try again",
        rt.crd_name()
    );
    Some(Answer(409, status_body(409, "Conflict", &msg, details(rt, name))))
}

/// The 415 for a `PATCH` that is not a server-side apply.
pub(super) fn unsupported_media_type() -> Answer {
    Answer(
        415,
        status_body(
            415,
            "UnsupportedMediaType",
            "only apply patches are served",
            json!({}),
        ),
    )
}

/// The 422 for an object that fails its schema, on `field`.
pub(super) fn invalid(rt: &ResourceType, name: &str, field: &str, message: &str) -> Answer {
    let msg = format!("{}.{} \"{name}\" is invalid: {message}", rt.kind, rt.group);
    let causes = json!([{ "reason": "FieldValueInvalid", "message": message, "field": field }]);
    let mut d = details(rt, name);
    d["causes"] = causes;
    Answer(422, status_body(422, "Invalid", &msg, d))
}

/// A 500 without a reason, as the real server answers a server-side apply it cannot type.
pub(super) fn internal_error(message: &str) -> Answer {
    Answer(500, status_body(500, "", message, json!({})))
}

/// The HTTP response carrying `body`, with `Retry-After` when given.
pub(super) fn response(code: u16, body: &Value, retry_after: Option<u64>) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(secs) = retry_after {
        b = b.header(header::RETRY_AFTER, secs.to_string());
    }
    b.body(Body::from(serde_json::to_vec(body).unwrap_or_default()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
