//! Route rules: match a request, then send it to weighted versions, with optional timeout, retries
//! and fault.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, Fault, PolicyName, RetryPolicy, ServiceId, TrafficSplit};

/// How a request path is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathMatch {
    /// The path equals the value.
    Exact(String),
    /// The path starts with the value.
    Prefix(String),
    /// The path matches an RE2 regular expression.
    Regex(String),
}

/// How a header or query value is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StringMatch {
    /// Equal to the value.
    Exact(String),
    /// Starts with the value.
    Prefix(String),
    /// Matches an RE2 regular expression.
    Regex(String),
}

impl StringMatch {
    /// Checks the value: not empty, no control characters (CR/LF would split a header), and a
    /// regex that compiles (Envoy rejects a broken one at run time, after the write).
    ///
    /// ```
    /// use mesh_core::StringMatch;
    /// assert!(StringMatch::Exact("beta".into()).validate("v").is_ok());
    /// assert!(StringMatch::Exact("".into()).validate("v").is_err());
    /// assert!(StringMatch::Exact("a\r\nx-admin: 1".into()).validate("v").is_err());
    /// assert!(StringMatch::Regex("(unclosed".into()).validate("v").is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `field`.
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        let (Self::Exact(v) | Self::Prefix(v) | Self::Regex(v)) = self;
        if v.is_empty() {
            return Err(Error::invalid(
                field,
                "an empty value matches nothing useful; give a value",
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(Error::invalid(
                field,
                "control characters (CR, LF, ...) are not allowed",
            ));
        }
        if let Self::Regex(r) = self {
            check_regex(field, r)?;
        }
        Ok(())
    }
}

/// Compiles `r` (RE2 and Rust's `regex` share the syntax that matters: no look-around, no
/// back-references), bounded in size.
fn check_regex(field: &str, r: &str) -> Result<(), Error> {
    regex::RegexBuilder::new(r)
        .size_limit(1 << 20)
        .build()
        .map(|_| ())
        .map_err(|e| Error::invalid(field, format!("not a valid regular expression: {e}")))
}

/// A header condition. Header names are lower-case, as HTTP/2 and Istio require.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    /// The lower-case header name.
    pub name: String,
    /// The condition on its value.
    pub value: StringMatch,
}

/// A query-parameter condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryMatch {
    /// The parameter name.
    pub name: String,
    /// The condition on its value.
    pub value: StringMatch,
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)] // The variants are the HTTP method names.
pub enum HttpMethod {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Connect,
    Options,
    Trace,
    Patch,
}

impl HttpMethod {
    /// The upper-case method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Connect => "CONNECT",
            Self::Options => "OPTIONS",
            Self::Trace => "TRACE",
            Self::Patch => "PATCH",
        }
    }
}

impl std::str::FromStr for HttpMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let all = [
            Self::Get,
            Self::Head,
            Self::Post,
            Self::Put,
            Self::Delete,
            Self::Connect,
            Self::Options,
            Self::Trace,
            Self::Patch,
        ];
        all.into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid("method", format!("{s:?} is not an HTTP method")))
    }
}

/// The conditions of one match block; all present conditions must hold (AND).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMatch {
    /// The path condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathMatch>,
    /// Header conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    /// The method condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HttpMethod>,
    /// Query-parameter conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryMatch>,
}

impl RequestMatch {
    /// Checks paths start with `/`, header names are lower-case tokens and no value is empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the offending field.
    pub fn validate(&self) -> Result<(), Error> {
        match &self.path {
            Some(PathMatch::Exact(p) | PathMatch::Prefix(p)) if !p.starts_with('/') => {
                return Err(Error::invalid("path", format!("{p:?} must start with '/'")));
            }
            Some(PathMatch::Regex(r)) if r.is_empty() => return Err(Error::invalid("path", "empty regex")),
            Some(PathMatch::Regex(r)) => check_regex("path", r)?,
            _ => {}
        }
        if let Some(PathMatch::Exact(p) | PathMatch::Prefix(p) | PathMatch::Regex(p)) = &self.path
            && p.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "path",
                "control characters (CR, LF, ...) are not allowed",
            ));
        }
        for (i, h) in self.headers.iter().enumerate() {
            let ok = !h.name.is_empty()
                && h.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                return Err(Error::invalid(
                    format!("headers[{i}].name"),
                    format!("{:?} must be a lower-case header name", h.name),
                ));
            }
            if self.headers[..i].iter().any(|o| o.name == h.name) {
                // Linkerd would render a duplicate list key, Istio would keep only the last.
                return Err(Error::invalid(
                    format!("headers[{i}].name"),
                    format!(
                        "{:?} is given twice in one match; use one condition per header",
                        h.name
                    ),
                ));
            }
            h.value.validate(&format!("headers[{i}].value"))?;
        }
        for (i, q) in self.query.iter().enumerate() {
            if q.name.is_empty() {
                return Err(Error::invalid(format!("query[{i}].name"), "must not be empty"));
            }
            q.value.validate(&format!("query[{i}].value"))?;
        }
        Ok(())
    }

    /// True when the block has no condition (matches everything).
    pub fn is_catch_all(&self) -> bool {
        self.path.is_none() && self.headers.is_empty() && self.method.is_none() && self.query.is_empty()
    }
}

/// One routing rule. Rules are evaluated in order; the first whose matches hold wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteRule {
    /// An optional name; the library names its own rules `mesh-…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PolicyName>,
    /// Match blocks, ORed. Empty means every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<RequestMatch>,
    /// Where matching requests go.
    pub destinations: TrafficSplit,
    /// The overall request timeout.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::duration_input::opt_millis_or_str"
    )]
    pub timeout: Option<Duration>,
    /// Retries for this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<RetryPolicy>,
    /// A fault to inject on this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
}

impl RouteRule {
    /// A rule sending every request to `destinations`.
    pub fn to(destinations: TrafficSplit) -> Self {
        Self {
            name: None,
            matches: Vec::new(),
            destinations,
            timeout: None,
            retries: None,
            fault: None,
        }
    }
}

/// The routing table of one service: what `create_virtual_service` takes.
///
/// ```
/// use mesh_core::{RouteRule, ServiceRoutes, TrafficSplit};
/// let routes = ServiceRoutes {
///     service: "prod/reviews".parse().unwrap(),
///     rules: vec![RouteRule::to(TrafficSplit::try_from_pairs([("v1", 100)]).unwrap())],
/// };
/// assert!(routes.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceRoutes {
    /// The service whose traffic is routed.
    pub service: ServiceId,
    /// Rules, first match wins.
    pub rules: Vec<RouteRule>,
}

impl ServiceRoutes {
    /// Checks every rule: at least one rule, valid matches, sane timeouts.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `rules[i]…`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.rules.is_empty() {
            return Err(Error::invalid("rules", "needs at least one rule"));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            for (j, m) in rule.matches.iter().enumerate() {
                m.validate()
                    .map_err(|e| e.in_field(&format!("{at}.matches[{j}]")))?;
            }
            if rule.timeout.is_some_and(|t| t < Duration::from_millis(1)) {
                return Err(Error::invalid(
                    format!("{at}.timeout"),
                    "must be at least 1ms (the meshes count timeouts in milliseconds)",
                ));
            }
            if let Some(r) = &rule.retries {
                r.validate().map_err(|e| e.in_field(&format!("{at}.retries")))?;
            }
        }
        Ok(())
    }
}
