//! Turning a Kubernetes structural schema (OpenAPI v3 with `x-kubernetes-*` extensions) into a
//! JSON Schema (draft 4) that checks what the API server checks.
//!
//! Plain JSON Schema misreads Kubernetes schemas in four ways, fixed here:
//! 1. `nullable: true` becomes `type: [T, "null"]`.
//! 2. Objects with `properties` get `additionalProperties: false` (the API server prunes or, with
//!    field validation, rejects unknown fields), unless they carry
//!    `x-kubernetes-preserve-unknown-fields`. The root, and any `x-kubernetes-embedded-resource`,
//!    first gains `apiVersion`, `kind` and `metadata`, which CRDs often leave out.
//! 3. `x-kubernetes-int-or-string` without an `anyOf` becomes `anyOf: [integer, string]`.
//! 4. `x-kubernetes-list-type: set` becomes `uniqueItems: true`; every other `x-kubernetes-*` key is
//!    dropped (CEL rules are evaluated separately, see [`super::cel`]).
//!
//! Value validations inside `allOf`/`anyOf`/`oneOf`/`not` only constrain; they never close an
//! object, so step 2 is skipped there.

use serde_json::{Map, Value, json};

/// Where a node sits, which decides whether it may be closed to unknown fields.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The object's root schema.
    Root,
    /// A property, item or map value schema.
    Field,
    /// Inside `allOf`/`anyOf`/`oneOf`/`not`: value validations only.
    Junctor,
}

/// Returns the JSON Schema equivalent of a CRD version's `openAPIV3Schema`.
pub(crate) fn to_json_schema(open_api_v3: &Value) -> Value {
    let mut schema = open_api_v3.clone();
    translate(&mut schema, Position::Root);
    schema
}

fn translate(node: &mut Value, position: Position) {
    let Value::Object(map) = node else {
        return;
    };
    let preserve = flag(map, "x-kubernetes-preserve-unknown-fields");
    let embedded = flag(map, "x-kubernetes-embedded-resource");
    let int_or_string = flag(map, "x-kubernetes-int-or-string");
    let set_list = map.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set");

    if flag(map, "nullable") {
        map.remove("nullable");
        if let Some(Value::String(t)) = map.get("type") {
            let t = t.clone();
            map.insert("type".into(), json!([t, "null"]));
        }
    }
    if int_or_string && !map.contains_key("anyOf") {
        map.remove("type");
        map.insert(
            "anyOf".into(),
            json!([{ "type": "integer" }, { "type": "string" }]),
        );
    }
    if set_list {
        map.insert("uniqueItems".into(), Value::Bool(true));
    }
    if (position == Position::Root || embedded) && position != Position::Junctor {
        let props = map
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(props) = props {
            props.insert("apiVersion".into(), json!({ "type": "string" }));
            props.insert("kind".into(), json!({ "type": "string" }));
            props.insert("metadata".into(), json!({ "type": "object" }));
        }
    }
    if position != Position::Junctor
        && !preserve
        && map.contains_key("properties")
        && !map.contains_key("additionalProperties")
    {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    map.retain(|k, _| !k.starts_with("x-kubernetes-"));

    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" => {
                if let Value::Object(props) = child {
                    props.values_mut().for_each(|p| translate(p, Position::Field));
                }
            }
            "items" | "additionalProperties" => translate(child, Position::Field),
            "allOf" | "anyOf" | "oneOf" => {
                if let Value::Array(branches) = child {
                    branches.iter_mut().for_each(|b| translate(b, Position::Junctor));
                }
            }
            "not" => translate(child, Position::Junctor),
            _ => {}
        }
    }
}

fn flag(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).and_then(Value::as_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_objects_and_adds_root_fields() {
        let s = to_json_schema(&json!({
            "type": "object",
            "properties": { "spec": { "type": "object", "properties": { "a": { "type": "string" } } } }
        }));
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(s["properties"]["spec"]["additionalProperties"], json!(false));
        assert_eq!(s["properties"]["kind"], json!({ "type": "string" }));
        assert_eq!(s["properties"]["metadata"], json!({ "type": "object" }));
    }

    #[test]
    fn keeps_preserved_objects_open_and_maps_untouched() {
        let s = to_json_schema(&json!({
            "type": "object",
            "properties": {
                "open": { "type": "object", "x-kubernetes-preserve-unknown-fields": true,
                          "properties": { "a": { "type": "string" } } },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } }
            }
        }));
        assert!(s["properties"]["open"].get("additionalProperties").is_none());
        assert!(
            s["properties"]["open"]
                .get("x-kubernetes-preserve-unknown-fields")
                .is_none()
        );
        assert_eq!(
            s["properties"]["labels"]["additionalProperties"],
            json!({ "type": "string" })
        );
    }

    #[test]
    fn nullable_int_or_string_and_sets() {
        let s = to_json_schema(&json!({
            "type": "object",
            "properties": {
                "n": { "type": "integer", "nullable": true },
                "p": { "x-kubernetes-int-or-string": true },
                "s": { "type": "array", "items": { "type": "string" }, "x-kubernetes-list-type": "set" }
            }
        }));
        assert_eq!(s["properties"]["n"]["type"], json!(["integer", "null"]));
        assert_eq!(
            s["properties"]["p"]["anyOf"],
            json!([{ "type": "integer" }, { "type": "string" }])
        );
        assert_eq!(s["properties"]["s"]["uniqueItems"], json!(true));
    }

    #[test]
    fn junctor_branches_are_not_closed() {
        let s = to_json_schema(&json!({
            "type": "object",
            "properties": { "a": { "type": "string" }, "b": { "type": "string" } },
            "oneOf": [ { "properties": { "a": {} }, "required": ["a"] } ]
        }));
        assert!(s["oneOf"][0].get("additionalProperties").is_none());
    }
}
