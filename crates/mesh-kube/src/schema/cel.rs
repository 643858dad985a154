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
//! - a node whose rules read `self` only through field selections (`self.a`, `has(self.b)`) is
//!   evaluated on a copy of its value holding just those fields ([`selected_fields`]): converting
//!   a whole `spec` for `has(self.selector)` costs more than the rule.
//!
//! - a rule node's verdict on a *small* value (a port map, a label map, a retry block) is
//!   remembered per thread ([`Memo`]): a policy set repeats such values thousands of times, and
//!   a rule's result depends on nothing but the node and `self` (root rules, which also see the
//!   kind, are never remembered).
//!
//! The result equals whole-object evaluation; a test compares both on failing objects.

use std::{
    cell::RefCell,
    collections::{BTreeMap, BTreeSet, HashMap},
    fmt::Write as _,
    sync::atomic::{AtomicU64, Ordering},
};

use kube_cel::{CompilationError, CompiledSchema, ErrorKind, RootContext, Validator};
use serde_json::{Map, Value};

use super::{CrdVersion, Violation};

thread_local! {
    /// The CEL function registry is not `Sync`, so each thread keeps its own.
    static VALIDATOR: Validator = Validator::new();
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// A rule node's failures on one value: `(path relative to the node, message, rule)`.
type Failures = Vec<(String, String, String)>;

/// Verdicts of rule nodes on small values, keyed by node id and the value's JSON text. Bounded:
/// emptied when full, so memory stays flat over any number of objects.
#[derive(Default)]
struct Memo {
    seen: HashMap<(u64, String), Failures>,
}

impl Memo {
    const CAPACITY: usize = 16_384;
    /// Values with at most this many scalars (and this much string text) are remembered.
    const MAX_SCALARS: usize = 16;
    const MAX_TEXT: usize = 512;

    /// The memo key of `value`, when it is small enough to remember.
    fn key(value: &Value) -> Option<String> {
        fn size(v: &Value, scalars: &mut usize, text: &mut usize) -> bool {
            match v {
                Value::Object(m) => m.iter().all(|(k, x)| {
                    *text += k.len();
                    size(x, scalars, text)
                }),
                Value::Array(a) => a.iter().all(|x| size(x, scalars, text)),
                scalar => {
                    *scalars += 1;
                    if let Value::String(s) = scalar {
                        *text += s.len();
                    }
                    *scalars <= Memo::MAX_SCALARS && *text <= Memo::MAX_TEXT
                }
            }
        }
        let (mut scalars, mut text) = (0, 0);
        size(value, &mut scalars, &mut text).then(|| value.to_string())
    }
}

/// Ids that tell nodes apart in the memo, unique for the life of the process (addresses are not:
/// a dropped schema set's node addresses can be reused by another's).
static NEXT_NODE_ID: AtomicU64 = AtomicU64::new(0);

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
    /// This node's key in the [`Memo`].
    id: u64,
    /// The only fields of `self` the rules read, when they read it only through field selections.
    fields: Option<BTreeSet<String>>,
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
        let mut path = String::new();
        VALIDATOR.with(|v| root.visit(v, obj, &mut path, Some(&ctx), &mut out));
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
        let rule_list = map
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
            .filter(|r| !r.is_empty());
        let fields = rule_list.and_then(|rules| {
            let mut fields = BTreeSet::new();
            for rule in rules {
                for key in ["rule", "messageExpression"] {
                    if let Some(text) = rule.get(key).and_then(Value::as_str) {
                        fields.extend(selected_fields(text)?);
                    }
                }
            }
            Some(fields)
        });
        let rules = rule_list.map(|_| {
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
            id: NEXT_NODE_ID.fetch_add(1, Ordering::Relaxed),
            fields,
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
        path: &mut String,
        root: Option<&RootContext>,
        out: &mut Vec<Violation>,
    ) {
        let selected;
        let rule_input = match (&self.fields, value) {
            (Some(fields), Value::Object(map)) => {
                selected = Value::Object(
                    fields
                        .iter()
                        .filter_map(|f| Some((f.clone(), map.get(f)?.clone())))
                        .collect(),
                );
                &selected
            }
            _ => value,
        };
        if let Some(rules) = &self.rules {
            let evaluate = || -> Failures {
                let Err(errors) = v.validate_compiled_with_context(rules, rule_input, None, root) else {
                    return Vec::new();
                };
                errors
                    .into_vec()
                    .into_iter()
                    // Rules that cannot compile are reported by `unevaluated_rules`, not held
                    // against every object.
                    .filter(|e| !matches!(e.kind, ErrorKind::CompilationFailure | ErrorKind::InvalidRule))
                    .map(|e| (e.field_path, e.message, e.rule))
                    .collect()
            };
            let key = root.is_none().then(|| Memo::key(rule_input)).flatten();
            let failures = match key {
                Some(key) => MEMO.with_borrow_mut(|memo| {
                    if memo.seen.len() >= Memo::CAPACITY {
                        memo.seen.clear();
                    }
                    memo.seen.entry((self.id, key)).or_insert_with(evaluate).clone()
                }),
                None => evaluate(),
            };
            out.extend(
                failures
                    .into_iter()
                    .map(|(rel, message, rule)| Violation::new(join(path, &rel), message).with_rule(rule)),
            );
        }
        match value {
            Value::Object(map) => {
                for (key, child) in &self.properties {
                    let Some(child_value) = map.get(key).or(child.default.as_ref()) else {
                        continue;
                    };
                    let at = push_field(path, key);
                    child.visit(v, child_value, path, None, out);
                    path.truncate(at);
                }
                if let (false, Some(additional)) = (self.preserve_unknown_fields, &self.additional) {
                    for (key, child_value) in map.iter().filter(|(k, _)| !self.properties.contains_key(*k)) {
                        let at = push_field(path, key);
                        additional.visit(v, child_value, path, None, out);
                        path.truncate(at);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_node) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        let at = path.len();
                        let _ = write!(path, "[{i}]");
                        item_node.visit(v, item, path, None, out);
                        path.truncate(at);
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

/// The fields of `self` a CEL expression reads, when it reads `self` only as `self.<field>` (a
/// selection, not a method call such as `self.all(…)`); `None` when it may read more (`self`
/// passed whole, indexed, compared, or a field name that needs CEL's `__…__` escaping).
/// Conservative by construction: any occurrence of the word `self` it cannot classify, even
/// inside a string literal, gives `None`.
///
/// ```text
/// has(self.address) || has(self.network)   → {address, network}
/// self.all(key, key.size() < 63)           → None
/// ```
fn selected_fields(expr: &str) -> Option<BTreeSet<String>> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut fields = BTreeSet::new();
    for (at, _) in expr.match_indices("self") {
        let before = expr[..at].chars().next_back();
        let rest = &expr[at + 4..];
        if before.is_some_and(is_ident) || rest.starts_with(is_ident) {
            continue; // part of a longer identifier, such as `oldSelf` or `selfLink`
        }
        let rest = rest.trim_start().strip_prefix('.')?.trim_start();
        let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        let field = &rest[..len];
        if field.is_empty() || field.contains("__") || field.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        if rest[len..].trim_start().starts_with('(') {
            return None; // a method call on `self`
        }
        fields.insert(field.to_owned());
    }
    Some(fields)
}

/// Appends `.key` (or `key` at the root) to `path`; returns the length to truncate back to.
/// The walk keeps one path buffer instead of allocating a path per visited node.
fn push_field(path: &mut String, key: &str) -> usize {
    let at = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
    at
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
    fn field_selections_are_recognised_and_everything_else_is_not() {
        let set = |names: &[&str]| Some(names.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>());
        assert_eq!(
            selected_fields("has(self.address) || has(self.network)"),
            set(&["address", "network"])
        );
        assert_eq!(
            selected_fields("(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) <= 1"),
            set(&["selector", "targetRef"])
        );
        assert_eq!(
            selected_fields("self . resolution == 'NONE' ? !has(self.endpoints) : true"),
            set(&["endpoints", "resolution"])
        );
        assert_eq!(selected_fields("oldSelf == 1 && selfLink"), set(&[]));
        for whole in [
            "self.all(key, key.size() != 0)",
            "self.size() > 0",
            "self == 'x'",
            "0 < self && self <= 65535",
            "self[0] == 1",
            "self.?a.orValue(1) == 1",
            "has(self.__dash__x)",
            "self.exists_one(l2, l1.number == l2.number)",
            "'self' == x",
            "self.a.b == 1 && size(self)",
        ] {
            assert_eq!(selected_fields(whole), None, "{whole}");
        }
        // A method call on a selected field reads only that field.
        assert_eq!(selected_fields("self.ports.all(p, p > 0)"), set(&["ports"]));
    }

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
