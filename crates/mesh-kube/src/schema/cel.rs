//! The `x-kubernetes-validations` (CEL) rules of one schema, compiled once with [`kube_cel`].
//!
//! Evaluating a whole object from its root gives the right answer but is slow on big schemas: the
//! evaluator converts the value at *every* schema node it passes (the whole object at the root,
//! again at each field, again in each `oneOf` branch) into CEL values, whether the node has rules
//! or not. Istio's schemas have thousands of nodes and a handful of rules. So:
//! - a navigation tree ([`Node`]) keeps only the paths that lead to rules;
//! - each node with rules is compiled on its own, with a *shallow* copy of its subtree: the rules
//!   of its descendants removed (they are evaluated at their own node) and every descendant that
//!   cannot change how a value converts dropped. What changes conversion is a `format` that turns
//!   strings into timestamps, durations or bytes, a map (`additionalProperties`, whose keys are
//!   not escaped), an embedded resource, and a `default` (defaults are applied before rules run).
//!
//! The result equals whole-object evaluation; a test compares both on failing objects.

use std::collections::BTreeMap;

use kube_cel::{CompilationError, CompiledSchema, ErrorKind, RootContext, Validator};
use serde_json::{Map, Value};

use super::{CrdVersion, Violation};

thread_local! {
    /// The CEL function registry is not `Sync`, so each thread keeps its own.
    static VALIDATOR: Validator = Validator::new();
}

/// The compiled rules of one versioned schema.
pub(crate) struct CelRules {
    root: Option<Node>,
    rule_count: usize,
    unevaluated: Vec<(String, String)>,
}

/// A schema node on the way to rules.
struct Node {
    /// This node's rules, compiled with the shallow copy of its subtree.
    rules: Option<CompiledSchema>,
    default: Option<Value>,
    preserve_unknown_fields: bool,
    properties: BTreeMap<String, Node>,
    items: Option<Box<Node>>,
    additional: Option<Box<Node>>,
    branches: Vec<Node>,
}

impl CelRules {
    pub(crate) fn compile(open_api_v3: &Value) -> Self {
        let mut rule_count = 0;
        let mut unevaluated = Vec::new();
        let root = Node::build(open_api_v3, &mut rule_count, &mut unevaluated);
        Self {
            root,
            rule_count,
            unevaluated,
        }
    }

    pub(crate) fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// `(rule, reason)` for every rule that did not compile.
    pub(crate) fn unevaluated(&self) -> Vec<(String, String)> {
        self.unevaluated.clone()
    }

    /// Evaluates the rules against a new object (no `oldSelf`).
    pub(crate) fn validate(&self, obj: &Value, info: &CrdVersion) -> Vec<Violation> {
        let mut out = Vec::new();
        let Some(root) = &self.root else {
            return out;
        };
        let ctx = RootContext {
            api_version: info.api_version.clone(),
            api_group: info.group.clone(),
            kind: info.kind.clone(),
        };
        VALIDATOR.with(|v| root.visit(v, obj, "", Some(&ctx), &mut out));
        out
    }
}

impl Node {
    /// The navigation node for `schema`; `None` when no rule is at or below it.
    fn build(schema: &Value, count: &mut usize, unevaluated: &mut Vec<(String, String)>) -> Option<Self> {
        let map = schema.as_object()?;
        let child = |s: &Value, count: &mut usize, unevaluated: &mut Vec<(String, String)>| {
            Self::build(s, count, unevaluated).map(Box::new)
        };
        let properties: BTreeMap<String, Node> = map
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, s)| Some((k.clone(), Self::build(s, count, unevaluated)?)))
            .collect();
        let items = map.get("items").and_then(|s| child(s, count, unevaluated));
        let additional = map
            .get("additionalProperties")
            .and_then(|s| child(s, count, unevaluated));
        let branches: Vec<Node> = ["allOf", "oneOf", "anyOf"]
            .iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(|b| Self::build(b, count, unevaluated))
            .collect();
        let rules = map
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty())
            .map(|_| {
                let compiled = kube_cel::compile_schema(&Value::Object(shallow(map)));
                *count += compiled.validations.len();
                for err in compiled.compilation_errors() {
                    let rule = match err {
                        CompilationError::Parse { rule, .. }
                        | CompilationError::MessageExpressionParse { rule, .. } => rule.clone(),
                        _ => String::from("(unreadable rule)"),
                    };
                    unevaluated.push((rule, err.to_string()));
                }
                compiled
            });
        let needed = rules.is_some()
            || !properties.is_empty()
            || items.is_some()
            || additional.is_some()
            || !branches.is_empty();
        needed.then(|| Self {
            rules,
            default: map.get("default").cloned(),
            preserve_unknown_fields: map.get("x-kubernetes-preserve-unknown-fields")
                == Some(&Value::Bool(true)),
            properties,
            items,
            additional,
            branches,
        })
    }

    /// Walks the object along the tree, evaluating each rule node on its own subtree.
    fn visit(
        &self,
        v: &Validator,
        value: &Value,
        path: &str,
        root: Option<&RootContext>,
        out: &mut Vec<Violation>,
    ) {
        if let Some(rules) = &self.rules
            && let Err(errors) = v.validate_compiled_with_context(rules, value, None, root)
        {
            out.extend(
                errors
                    .into_vec()
                    .into_iter()
                    // Rules that cannot compile are reported by `unevaluated_rules`, not held
                    // against every object.
                    .filter(|e| !matches!(e.kind, ErrorKind::CompilationFailure | ErrorKind::InvalidRule))
                    .map(|e| Violation::new(join(path, &e.field_path), e.message.clone()).with_rule(e.rule)),
            );
        }
        match value {
            Value::Object(map) => {
                for (key, child) in &self.properties {
                    let child_path = join(path, key);
                    match (map.get(key), &child.default) {
                        (Some(child_value), _) => child.visit(v, child_value, &child_path, None, out),
                        (None, Some(default)) => child.visit(v, default, &child_path, None, out),
                        (None, None) => {}
                    }
                }
                if let (false, Some(additional)) = (self.preserve_unknown_fields, &self.additional) {
                    for (key, child_value) in map.iter().filter(|(k, _)| !self.properties.contains_key(*k)) {
                        additional.visit(v, child_value, &join(path, key), None, out);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_node) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        item_node.visit(v, item, &format!("{path}[{i}]"), None, out);
                    }
                }
            }
            _ => {}
        }
        for branch in &self.branches {
            branch.visit(v, value, path, root, out);
        }
    }
}

/// A rule node's schema for evaluating its own rules: descendants keep only what changes how
/// values convert, without their rules; the node's `allOf`/`oneOf`/`anyOf` go (their rules have
/// their own navigation nodes, and branches play no part in conversion).
fn shallow(node: &Map<String, Value>) -> Map<String, Value> {
    let mut out = node.clone();
    for k in ["allOf", "oneOf", "anyOf", "not"] {
        out.remove(k);
    }
    reduce_children(&mut out);
    out
}

/// A descendant's schema reduced to what changes conversion; `None` when nothing does.
fn conversion_only(schema: &Value) -> Option<Value> {
    let mut m = schema.as_object()?.clone();
    m.remove("x-kubernetes-validations");
    for k in ["allOf", "oneOf", "anyOf", "not"] {
        m.remove(k);
    }
    let converts = matches!(
        m.get("format").and_then(Value::as_str),
        Some("date-time" | "duration" | "byte")
    ) || m.contains_key("default")
        || m.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true))
        || m.get("additionalProperties")
            .is_some_and(|a| a.is_object() || a == &Value::Bool(true));
    let kept_children = reduce_children(&mut m);
    (converts || kept_children).then_some(Value::Object(m))
}

/// Reduces `properties`, `items` and `additionalProperties` of `m` with [`conversion_only`];
/// returns whether any child was kept.
fn reduce_children(m: &mut Map<String, Value>) -> bool {
    let mut kept = false;
    if let Some(Value::Object(props)) = m.get_mut("properties") {
        let reduced: Map<String, Value> = props
            .iter()
            .filter_map(|(k, s)| Some((k.clone(), conversion_only(s)?)))
            .collect();
        kept |= !reduced.is_empty();
        *props = reduced;
    }
    match m.get("items").map(conversion_only) {
        Some(Some(items)) => {
            kept = true;
            m.insert("items".into(), items);
        }
        Some(None) => {
            m.remove("items");
        }
        None => {}
    }
    if let Some(additional) = m.get("additionalProperties").filter(|a| a.is_object()) {
        // A map stays a map (its keys are not escaped); only its value schema is reduced.
        let reduced = conversion_only(additional).unwrap_or(Value::Bool(true));
        kept |= reduced.is_object();
        m.insert("additionalProperties".into(), reduced);
    }
    kept
}

/// `base` joined with a path the evaluator reported relative to it.
fn join(base: &str, rel: &str) -> String {
    match (base.is_empty(), rel.chars().next()) {
        (_, None) => base.to_owned(),
        (true, Some('.')) => rel[1..].to_owned(),
        (true, _) => rel.to_owned(),
        (false, Some('.' | '[')) => format!("{base}{rel}"),
        (false, _) => format!("{base}.{rel}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shallow_copies_keep_only_what_converts() {
        let node = json!({
            "type": "object",
            "x-kubernetes-validations": [{ "rule": "has(self.a)" }],
            "oneOf": [{ "required": ["a"] }],
            "properties": {
                "a": { "type": "string", "x-kubernetes-validations": [{ "rule": "self.size() > 0" }] },
                "when": { "type": "string", "format": "date-time" },
                "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                "deep": { "type": "object", "properties": { "mode": { "type": "string", "default": "A" } } }
            }
        });
        let s = Value::Object(shallow(node.as_object().unwrap()));
        assert_eq!(s["x-kubernetes-validations"], node["x-kubernetes-validations"]);
        assert!(s.get("oneOf").is_none());
        let props = s["properties"].as_object().unwrap();
        assert_eq!(props.keys().collect::<Vec<_>>(), ["deep", "labels", "when"]);
        assert_eq!(s["properties"]["labels"]["additionalProperties"], json!(true));
        assert_eq!(s["properties"]["deep"]["properties"]["mode"]["default"], "A");
    }
}
