//! How the fake API server refuses a written object: 400 when the body does not belong at its
//! URL, 422 with its schema violations, and the 500 the real API server gives a server-side apply
//! that sets an undeclared field or a field of the wrong type. Schemas are checked only when
//! validation is on and the type has a bundled schema.

use serde_json::Value;

use super::answers::{Answer, bad_request, internal_error, invalid};
use crate::{
    ResourceType,
    schema::{SchemaSet, Violation},
};

/// The answer refusing `obj`, if it does not belong at this URL or fails its schema.
pub(super) fn check(rt: &ResourceType, ns: Option<&str>, obj: &Value, validate: bool) -> Option<Answer> {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if obj["apiVersion"].as_str() != Some(&rt.api_version()) || obj["kind"].as_str() != Some(&rt.kind) {
        return Some(bad_request(&format!(
            "the body is {} {}, the URL is for {} {}",
            obj["apiVersion"],
            obj["kind"],
            rt.api_version(),
            rt.kind
        )));
    }
    let body_ns = obj["metadata"]["namespace"].as_str();
    if rt.namespaced && body_ns.is_some() && body_ns != ns {
        return Some(bad_request(
            "the namespace of the provided object does not match the URL",
        ));
    }
    let violations = violations(rt, obj, validate)?;
    let first = &violations[0];
    Some(invalid(rt, name, &first.path, &violations_message(&violations)))
}

/// The real API server (1.33) answers a server-side apply that sets an undeclared field, or a
/// field of the wrong type, with a 500, not a 422: `failed to create typed patch object
/// (NS/NAME; GVK): .spec.x: field not declared in schema`.
pub(super) fn undeclared_in_apply(
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    obj: &Value,
    validate: bool,
) -> Option<Answer> {
    let violations = violations(rt, obj, validate)?;
    let (path, what) = violations.iter().find_map(|v| {
        if v.message.starts_with("Additional properties are not allowed") {
            let field = v.message.split('\'').nth(1).unwrap_or_default();
            let path = if v.path.is_empty() {
                format!(".{field}")
            } else {
                format!(".{}.{field}", v.path)
            };
            Some((path, "field not declared in schema".to_owned()))
        } else if v.message.contains(" is not of type ") {
            Some((format!(".{}", v.path), format!("wrong type: {}", v.message)))
        } else {
            None
        }
    })?;
    let msg = format!(
        "failed to create typed patch object ({}/{name}; {}, Kind={}): {path}: {what}",
        ns.unwrap_or_default(),
        rt.api_version(),
        rt.kind
    );
    Some(internal_error(&msg))
}

/// The schema violations of `obj`, when validation is on and `rt` has a bundled schema.
fn violations(rt: &ResourceType, obj: &Value, validate: bool) -> Option<Vec<Violation>> {
    let schemas = SchemaSet::bundled();
    if !validate || schemas.lookup(&rt.api_version(), &rt.kind, None).is_none() {
        return None;
    }
    schemas.validate(obj).err()
}

fn violations_message(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
