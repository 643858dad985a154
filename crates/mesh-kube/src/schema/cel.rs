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
        let compiled = kube_cel::compile_schema(open_api_v3);
        let mut rule_count = 0;
        walk(&compiled, &mut |node| rule_count += node.validations.len());
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
        if self.rule_count == 0 {
            return Vec::new();
        }
        let root = RootContext {
            api_version: info.api_version.clone(),
            api_group: info.group.clone(),
            kind: info.kind.clone(),
        };
        let result =
            VALIDATOR.with(|v| v.validate_compiled_with_context(&self.compiled, obj, None, Some(&root)));
        let Err(errors) = result else {
            return Vec::new();
        };
        errors
            .into_vec()
            .into_iter()
            // Rules that cannot compile are reported by `unevaluated_rules`, not held against
            // every object.
            .filter(|e| !matches!(e.kind, ErrorKind::CompilationFailure | ErrorKind::InvalidRule))
            .map(|e| Violation::new(e.field_path.clone(), e.message.clone()).with_rule(e.rule))
            .collect()
    }
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
