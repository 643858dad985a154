//! The `x-kubernetes-validations` (CEL) rules of one schema, compiled once with [`kube_cel`].

use kube_cel::{CompilationError, CompiledSchema, ErrorKind, RootContext, Validator};
use serde_json::Value;

use super::{CrdVersion, Violation};

thread_local! {
    /// The CEL function registry is not `Sync`, so each thread keeps its own.
    static VALIDATOR: Validator = Validator::new();
}

/// The compiled rules of one versioned schema.
pub(crate) struct CelRules {
    compiled: CompiledSchema,
    rule_count: usize,
}

impl CelRules {
    pub(crate) fn compile(open_api_v3: &Value) -> Self {
        let mut compiled = kube_cel::compile_schema(open_api_v3);
        let mut rule_count = 0;
        walk(&compiled, &mut |node| rule_count += node.validations.len());
        prune(&mut compiled);
        Self { compiled, rule_count }
    }

    pub(crate) fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// `(rule, reason)` for every rule that did not compile.
    pub(crate) fn unevaluated(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        walk(&self.compiled, &mut |node| {
            for err in node.compilation_errors() {
                let rule = match err {
                    CompilationError::Parse { rule, .. }
                    | CompilationError::MessageExpressionParse { rule, .. } => rule.clone(),
                    _ => String::from("(unreadable rule)"),
                };
                out.push((rule, err.to_string()));
            }
        });
        out
    }

    /// Evaluates the rules against a new object (no `oldSelf`).
    pub(crate) fn validate(&self, obj: &Value, info: &CrdVersion) -> Vec<Violation> {
        let mut out = Vec::new();
        if self.rule_count == 0 {
            return out;
        }
        let root = RootContext {
            api_version: info.api_version.clone(),
            api_group: info.group.clone(),
            kind: info.kind.clone(),
        };
        VALIDATOR.with(|v| visit(v, &self.compiled, obj, "", Some(&root), &mut out));
        out
    }
}

/// Walks the schema and the object together down to the nodes that carry rules, and evaluates
/// each such node on its own subtree.
///
/// Evaluating from the root would give the same result, but the evaluator converts the value of
/// every node it passes (the whole object at the root) into CEL values; starting at the rule
/// nodes converts only what the rules see. Paths are rebuilt as the evaluator builds them, and a
/// missing field with a schema default is evaluated on the default, as the API server does.
fn visit(
    v: &Validator,
    node: &CompiledSchema,
    value: &Value,
    path: &str,
    root: Option<&RootContext>,
    out: &mut Vec<Violation>,
) {
    if !node.validations.is_empty() {
        let Err(errors) = v.validate_compiled_with_context(node, value, None, root) else {
            return;
        };
        out.extend(
            errors
                .into_vec()
                .into_iter()
                // Rules that cannot compile are reported by `unevaluated_rules`, not held against
                // every object.
                .filter(|e| !matches!(e.kind, ErrorKind::CompilationFailure | ErrorKind::InvalidRule))
                .map(|e| Violation::new(join(path, &e.field_path), e.message.clone()).with_rule(e.rule)),
        );
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in &node.properties {
                let child_path = join(path, key);
                match (map.get(key), &child.default) {
                    (Some(child_value), _) => visit(v, child, child_value, &child_path, None, out),
                    (None, Some(default)) => visit(v, child, default, &child_path, None, out),
                    (None, None) => {}
                }
            }
            if let (false, Some(additional)) = (node.preserve_unknown_fields, &node.additional_properties) {
                for (key, child_value) in map.iter().filter(|(k, _)| !node.properties.contains_key(*k)) {
                    visit(v, additional, child_value, &join(path, key), None, out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_node) = &node.items {
                for (i, item) in items.iter().enumerate() {
                    visit(v, item_node, item, &format!("{path}[{i}]"), None, out);
                }
            }
        }
        _ => {}
    }
    for branch in node.all_of.iter().chain(&node.one_of).chain(&node.any_of) {
        visit(v, branch, value, path, root, out);
    }
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

/// Removes the subtrees no rule sees, and returns whether `node`'s subtree holds a rule.
///
/// The evaluator converts the object to CEL values at every schema node it visits, rules or not,
/// including every `oneOf` branch; Istio's schemas have thousands of such nodes and a handful of
/// rules. A rule sees its node's whole subtree, so a node with rules keeps everything below it
/// (formats and defaults included); a subtree without rules and without a rule above it is never
/// seen, so dropping it changes no result.
fn prune(node: &mut CompiledSchema) -> bool {
    if !node.validations.is_empty() {
        return true;
    }
    let mut has_rules = false;
    node.properties.retain(|_, child| {
        let keep = prune(child);
        has_rules |= keep;
        keep
    });
    for slot in [&mut node.items, &mut node.additional_properties] {
        if let Some(child) = slot {
            if prune(child) {
                has_rules = true;
            } else {
                *slot = None;
            }
        }
    }
    for branches in [&mut node.all_of, &mut node.one_of, &mut node.any_of] {
        branches.retain_mut(|branch| {
            let keep = prune(branch);
            has_rules |= keep;
            keep
        });
    }
    has_rules
}

fn walk(node: &CompiledSchema, f: &mut impl FnMut(&CompiledSchema)) {
    f(node);
    node.properties.values().for_each(|c| walk(c, f));
    node.items.iter().for_each(|c| walk(c, f));
    node.additional_properties.iter().for_each(|c| walk(c, f));
    for c in node.all_of.iter().chain(&node.one_of).chain(&node.any_of) {
        walk(c, f);
    }
}
