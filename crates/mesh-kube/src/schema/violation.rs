//! One reason an object does not match its schema.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One reason an object does not match its schema.
///
/// ```
/// use mesh_kube::schema::Violation;
/// let v = Violation::new("spec.http[0].timeout", "must be at least 1ms")
///     .with_rule("duration(self) >= duration('1ms')");
/// assert_eq!(
///     v.to_string(),
///     "spec.http[0].timeout: must be at least 1ms (rule: duration(self) >= duration('1ms'))"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The field, as a dotted path with list indexes (`spec.http[0].route[1].weight`); empty for
    /// the object itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The CEL rule that failed, for `x-kubernetes-validations` violations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Violation {
    /// A structural violation at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            rule: None,
        }
    }

    /// Attaches the CEL rule that failed.
    #[must_use]
    pub fn with_rule(mut self, rule: impl Into<String>) -> Self {
        self.rule = Some(rule.into());
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)?;
        } else {
            write!(f, "{}: {}", self.path, self.message)?;
        }
        if let Some(rule) = &self.rule {
            write!(f, " (rule: {rule})")?;
        }
        Ok(())
    }
}

/// Turns a JSON pointer (`/spec/http/0/timeout`) into a dotted path (`spec.http[0].timeout`).
pub(crate) fn pointer_to_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_paths() {
        assert_eq!(pointer_to_path(""), "");
        assert_eq!(
            pointer_to_path("/spec/http/0/route/1/weight"),
            "spec.http[0].route[1].weight"
        );
        assert_eq!(pointer_to_path("/metadata/labels/a~1b"), "metadata.labels.a/b");
    }

    #[test]
    fn display_without_path() {
        assert_eq!(Violation::new("", "unknown kind").to_string(), "unknown kind");
    }
}
