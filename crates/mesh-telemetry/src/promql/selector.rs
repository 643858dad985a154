//! Series selectors with escaped label values, so no value can change the shape of a query.

use std::{fmt, time::Duration};

/// A label matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
}

/// A series selector: a metric name and exact label matchers.
///
/// Label names are `&'static str` constants of the dialects; label values can be any string and
/// are always written as escaped PromQL string literals. Regex matchers are deliberately absent:
/// every filter here is an exact match, so no value is ever interpreted as a pattern.
///
/// ```
/// use mesh_telemetry::promql::Selector;
/// let s = Selector::new("istio_requests_total")
///     .eq("reporter", "destination")
///     .eq("destination_service_name", r#"a"} or vector(1) #"#);
/// assert_eq!(
///     s.to_string(),
///     r#"istio_requests_total{reporter="destination",destination_service_name="a\"} or vector(1) #"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    metric: &'static str,
    matchers: Vec<(&'static str, MatchOp, String)>,
}

impl Selector {
    /// A selector for `metric`, with no matchers yet.
    #[must_use]
    pub fn new(metric: &'static str) -> Self {
        Self {
            metric,
            matchers: Vec::new(),
        }
    }

    /// Adds `name="value"`.
    #[must_use]
    pub fn eq(self, name: &'static str, value: impl Into<String>) -> Self {
        self.with(name, MatchOp::Eq, value)
    }

    /// Adds `name!="value"`.
    #[must_use]
    pub fn ne(self, name: &'static str, value: impl Into<String>) -> Self {
        self.with(name, MatchOp::Ne, value)
    }

    /// Adds a matcher.
    #[must_use]
    pub fn with(mut self, name: &'static str, op: MatchOp, value: impl Into<String>) -> Self {
        self.matchers.push((name, op, value.into()));
        self
    }

    /// The metric name.
    pub fn metric(&self) -> &'static str {
        self.metric
    }

    /// The label names used, for checks.
    pub fn label_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.matchers.iter().map(|(n, ..)| *n)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric)?;
        f.write_str("{")?;
        for (i, (name, op, value)) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match op {
                MatchOp::Eq => "=",
                MatchOp::Ne => "!=",
            };
            write!(f, "{name}{op}{}", quote(value))?;
        }
        f.write_str("}")
    }
}

/// Writes `value` as a double-quoted PromQL string literal.
///
/// Backslash, double quote and control characters are escaped; everything else is literal, so the
/// literal always ends at the closing quote this function writes.
///
/// ```
/// use mesh_telemetry::promql::quote;
/// assert_eq!(quote("reviews"), r#""reviews""#);
/// assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
/// assert_eq!(quote("line\nbreak\u{1}"), r#""line\nbreak\x01""#);
/// ```
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Checks a label name against Prometheus' `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// ```
/// assert!(mesh_telemetry::promql::is_label_name("destination_version"));
/// assert!(!mesh_telemetry::promql::is_label_name("le}"));
/// assert!(!mesh_telemetry::promql::is_label_name("0abc"));
/// ```
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A PromQL range duration (`[300s]`, `[1500ms]`), never shorter than one millisecond.
///
/// ```
/// use std::time::Duration;
/// use mesh_telemetry::promql::range;
/// assert_eq!(range(Duration::from_secs(300)), "300s");
/// assert_eq!(range(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(range(Duration::ZERO), "1ms");
/// ```
pub fn range(window: Duration) -> String {
    let ms = window.as_millis().max(1);
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back a literal written by `quote` the way PromQL's lexer does, and checks the
    /// closing quote is the last character: no value can end the literal early.
    fn unquote(lit: &str) -> (String, usize) {
        let bytes: Vec<char> = lit.chars().collect();
        assert_eq!(bytes[0], '"');
        let mut out = String::new();
        let mut i = 1;
        loop {
            match bytes[i] {
                '"' => return (out, i),
                '\\' => {
                    i += 1;
                    match bytes[i] {
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        'x' => {
                            let hex: String = bytes[i + 1..i + 3].iter().collect();
                            out.push(char::from(u8::from_str_radix(&hex, 16).unwrap()));
                            i += 2;
                        }
                        c => out.push(c),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
    }

    #[test]
    fn hostile_values_round_trip_and_stay_inside_the_literal() {
        for v in [
            r#"a"} or vector(1) #"#,
            "\\\"",
            "x\\",
            "}\n{",
            "\u{0}\u{7f}é😀",
            r#"",reporter!=""#,
        ] {
            let q = quote(v);
            let (back, end) = unquote(&q);
            assert_eq!(back, v);
            assert_eq!(end, q.chars().count() - 1, "literal ended early for {v:?}: {q}");
        }
    }

    #[test]
    fn selector_with_ne() {
        let s = Selector::new("m").eq("a", "1").ne("b", "");
        assert_eq!(s.to_string(), r#"m{a="1",b!=""}"#);
        assert_eq!(s.label_names().collect::<Vec<_>>(), ["a", "b"]);
    }
}
