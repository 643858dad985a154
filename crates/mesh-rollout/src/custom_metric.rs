//! Custom analysis metrics: a PromQL template and the range its value must stay in, checked on
//! every analysis beside the built-in ones (what Flagger's MetricTemplate offers).
//!
//! Placeholders, with or without spaces inside the braces: `{{ namespace }}`, `{{ service }}`,
//! `{{ canary }}`, `{{ stable }}` (the versions' label values) and `{{ interval }}` (`60s`).
//! Values are escaped for a PromQL string, so a placeholder belongs inside quotes.

use serde::{Deserialize, Serialize};

use mesh::{Error, observe::Verdict};

use crate::RolloutSpec;

/// Custom metrics a spec may carry.
pub const MAX_METRICS: usize = 16;

/// The longest query template.
pub const MAX_QUERY_LEN: usize = 4096;

const PLACEHOLDERS: [&str; 5] = ["namespace", "service", "canary", "stable", "interval"];

/// One custom metric.
///
/// ```
/// use mesh_rollout::{CustomMetric, RolloutSpec, Strategy};
/// let spec = RolloutSpec::new("shop/cart", "v1", "v2", Strategy::steps(&[10, 50]).unwrap()).unwrap();
/// let m = CustomMetric {
///     name: "queue-depth".into(),
///     query: r#"max(queue_depth{namespace="{{ namespace }}", version="{{canary}}"})"#.into(),
///     min: None,
///     max: Some(100.0),
/// };
/// assert!(m.validate().is_ok());
/// assert_eq!(m.render(&spec), r#"max(queue_depth{namespace="shop", version="v2"})"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMetric {
    /// A short name for reports (`queue-depth`).
    pub name: String,
    /// The PromQL template; it must yield one series.
    pub query: String,
    /// The lowest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The highest passing value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A custom metric's value in one analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricCheck {
    /// The metric's name.
    pub name: String,
    /// The value read, `None` when the query yielded nothing (or failed).
    pub value: Option<f64>,
    /// What the value means for the rollout.
    pub verdict: Verdict,
}

impl CustomMetric {
    /// Checks the name, the template (known placeholders only) and the range.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        mesh::names::check_rfc1123_label(&self.name)
            .map_err(|r| Error::invalid("name", format!("{:?} {r}", self.name)))?;
        if self.query.trim().is_empty() || self.query.len() > MAX_QUERY_LEN {
            return Err(Error::invalid(
                "query",
                format!("must be 1 to {MAX_QUERY_LEN} characters"),
            ));
        }
        let mut rest = self.query.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| Error::invalid("query", "a `{{` is never closed"))?;
            let name = after[..end].trim();
            if !PLACEHOLDERS.contains(&name) {
                return Err(Error::invalid(
                    "query",
                    format!(
                        "unknown placeholder {{{{ {name} }}}}; known: {}",
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
            rest = &after[end + 2..];
        }
        let finite = |v: Option<f64>| v.is_none_or(f64::is_finite);
        match (self.min, self.max) {
            (None, None) => Err(Error::invalid(
                "max",
                "give min, max or both: the range the value must stay in",
            )),
            _ if !finite(self.min) || !finite(self.max) => {
                Err(Error::invalid("max", "must be finite numbers"))
            }
            (Some(lo), Some(hi)) if lo > hi => Err(Error::invalid("min", "must not exceed max")),
            _ => Ok(()),
        }
    }

    /// The query for `spec`'s rollout, every placeholder replaced.
    pub fn render(&self, spec: &RolloutSpec) -> String {
        let value = |name: &str| match name {
            "namespace" => spec.service.namespace.to_string(),
            "service" => spec.service.name.to_string(),
            "canary" => spec.canary.label_value().to_owned(),
            "stable" => spec.stable.label_value().to_owned(),
            _ => format!("{}s", spec.interval.as_secs().max(1)),
        };
        let mut out = String::with_capacity(self.query.len());
        let mut rest = self.query.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                out.push_str(&rest[start..]);
                return out;
            };
            out.push_str(&escape(&value(after[..end].trim())));
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The verdict of `value`: inside the range passes, outside fails, nothing is inconclusive.
    pub fn judge(&self, value: Option<f64>) -> MetricCheck {
        let verdict = match value {
            None => Verdict::Inconclusive,
            Some(v) if v.is_nan() => Verdict::Inconclusive,
            Some(v) if self.min.is_some_and(|lo| v < lo) || self.max.is_some_and(|hi| v > hi) => {
                Verdict::Fail
            }
            Some(_) => Verdict::Pass,
        };
        MetricCheck {
            name: self.name.clone(),
            value,
            verdict,
        }
    }
}

/// Escaped for a double-quoted PromQL string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(query: &str, min: Option<f64>, max: Option<f64>) -> CustomMetric {
        CustomMetric {
            name: "m".into(),
            query: query.into(),
            min,
            max,
        }
    }

    #[test]
    fn templates_name_only_known_placeholders_and_a_range() {
        assert!(metric("up{{{ job }}}", None, Some(1.0)).validate().is_err());
        assert!(
            metric("up{ns=\"{{ namespace\"}", None, Some(1.0))
                .validate()
                .is_err()
        );
        assert!(metric("up", None, None).validate().is_err());
        assert!(metric("up", Some(2.0), Some(1.0)).validate().is_err());
        assert!(metric("up", Some(f64::NAN), None).validate().is_err());
        assert!(
            metric("sum(rate(x[{{interval}}]))", Some(0.0), None)
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn values_are_judged_against_the_range() {
        let m = metric("up", Some(1.0), Some(5.0));
        assert_eq!(m.judge(Some(3.0)).verdict, Verdict::Pass);
        assert_eq!(m.judge(Some(0.5)).verdict, Verdict::Fail);
        assert_eq!(m.judge(Some(6.0)).verdict, Verdict::Fail);
        assert_eq!(m.judge(None).verdict, Verdict::Inconclusive);
        assert_eq!(m.judge(Some(f64::NAN)).verdict, Verdict::Inconclusive);
    }
}
