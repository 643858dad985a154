//! mTLS and authorization.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::unique::no_repeats;
use crate::{Error, HttpMethod, Namespace, PolicyName, Port, ServiceName};

/// A workload identity: the service account (Kubernetes) or service name (Consul) in a namespace.
///
/// Each mesh writes it its own way; this type holds the parts. It parses `namespace/name`, Istio's
/// `cluster.local/ns/<ns>/sa/<sa>` and SPIFFE ids.
///
/// ```
/// use mesh_core::Principal;
/// let p: Principal = "cluster.local/ns/prod/sa/frontend".parse().unwrap();
/// assert_eq!((p.namespace.as_str(), p.name.as_str()), ("prod", "frontend"));
/// let q: Principal = "spiffe://cluster.local/ns/prod/sa/frontend".parse().unwrap();
/// assert_eq!(p, q);
/// assert_eq!("prod/frontend".parse::<Principal>().unwrap(), p);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Principal {
    /// The namespace of the identity.
    pub namespace: Namespace,
    /// The service account or service name.
    pub name: ServiceName,
}

impl FromStr for Principal {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::invalid(
                "principal",
                format!("{s:?} is not ns/name, <td>/ns/<ns>/sa/<sa> or a SPIFFE id"),
            )
        };
        let rest = s.strip_prefix("spiffe://").unwrap_or(s);
        let parts: Vec<&str> = rest.split('/').collect();
        let (ns, name) = match parts.as_slice() {
            [ns, name] => (*ns, *name),
            [_td, "ns", ns, "sa", sa] => (*ns, *sa),
            _ => return Err(bad()),
        };
        Ok(Self {
            namespace: Namespace::new(ns)?,
            name: ServiceName::new(name)?,
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl TryFrom<String> for Principal {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        s.parse()
    }
}

impl From<Principal> for String {
    fn from(p: Principal) -> String {
        p.to_string()
    }
}

/// Whether a matching request is allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AuthzAction {
    /// Allow matching requests.
    Allow,
    /// Deny matching requests.
    Deny,
}

/// Who the request comes from. Lists are ORed; an empty source matches any peer.
///
/// It reads the flat form (`{principals: [...]}`) and the spec's nested form
/// (`{source: {principals: [...]}}`); any other key is an error, so a misspelt or misplaced list
/// can never widen a rule to every peer.
///
/// ```
/// use mesh_core::AuthzSource;
/// let flat: AuthzSource = serde_json::from_str(r#"{"principals": ["prod/frontend"]}"#).unwrap();
/// let nested: AuthzSource =
///     serde_json::from_str(r#"{"source": {"principals": ["prod/frontend"]}}"#).unwrap();
/// assert_eq!(flat, nested);
/// assert!(serde_json::from_str::<AuthzSource>(r#"{"principal": ["prod/frontend"]}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::authz_input::SourceInput")]
pub struct AuthzSource {
    /// Peer identities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<Principal>,
    /// Peer namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<Namespace>,
}

/// What the request does. Lists are ORed; an empty target matches any request.
///
/// It reads the flat form (`{methods: [...]}`) and the spec's nested form
/// (`{operation: {methods: [...]}}`); any other key is an error.
///
/// ```
/// use mesh_core::AuthzTarget;
/// let nested: AuthzTarget =
///     serde_json::from_str(r#"{"operation": {"methods": ["GET", "POST"]}}"#).unwrap();
/// assert_eq!(nested.methods.len(), 2);
/// assert!(serde_json::from_str::<AuthzTarget>(r#"{"operation": {"verbs": ["GET"]}}"#).is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::authz_input::TargetInput")]
pub struct AuthzTarget {
    /// HTTP methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<HttpMethod>,
    /// Paths: exact, `prefix*`, `*suffix` or `*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// Destination ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
}

/// One rule: any `from` AND any `to`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzRule {
    /// Sources, ORed. Empty matches every source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<AuthzSource>,
    /// Targets, ORed. Empty matches every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<AuthzTarget>,
}

/// What `create_authorization_policy` takes.
///
/// ```
/// use mesh_core::{AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource};
/// let policy = AuthorizationPolicy {
///     name: "allow-frontend".parse().unwrap(),
///     namespace: "prod".parse().unwrap(),
///     target: Some("api".parse().unwrap()),
///     action: AuthzAction::Allow,
///     rules: vec![AuthzRule {
///         from: vec![AuthzSource { principals: vec!["prod/frontend".parse().unwrap()], ..Default::default() }],
///         to: vec![],
///     }],
/// };
/// assert!(policy.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationPolicy {
    /// The policy's name.
    pub name: PolicyName,
    /// Its namespace.
    pub namespace: Namespace,
    /// The service it protects; `None` means every workload in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ServiceName>,
    /// ALLOW or DENY.
    pub action: AuthzAction,
    /// Rules, ORed. No rule at all with ALLOW allows nothing; DENY needs one.
    #[serde(default)]
    pub rules: Vec<AuthzRule>,
}

impl AuthorizationPolicy {
    /// Checks that no `from`/`to` entry is empty or names a value twice, and path patterns: each starts with `/` or `*`,
    /// and holds at most one `*` at an end; and that a DENY policy has a rule.
    ///
    /// A DENY policy without rules denies nothing, and Istio refuses it (found by the admission
    /// agreement against a real istiod); a rule with no `from` and no `to` denies every request:
    ///
    /// ```
    /// use mesh_core::{AuthorizationPolicy, AuthzAction, AuthzRule};
    /// let mut policy = AuthorizationPolicy {
    ///     name: "deny-all".parse().unwrap(),
    ///     namespace: "prod".parse().unwrap(),
    ///     target: None,
    ///     action: AuthzAction::Deny,
    ///     rules: vec![],
    /// };
    /// let err = policy.validate().unwrap_err();
    /// assert!(matches!(&err, mesh_core::Error::InvalidInput { field, .. } if field == "rules"), "{err}");
    /// policy.rules.push(AuthzRule { from: vec![], to: vec![] });
    /// assert!(policy.validate().is_ok());
    /// // No rule with ALLOW allows nothing: meaningful.
    /// policy.rules.clear();
    /// policy.action = AuthzAction::Allow;
    /// assert!(policy.validate().is_ok());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `rules[i].to[j].paths[k]`, or `rules`.
    pub fn validate(&self) -> Result<(), Error> {
        if self.action == AuthzAction::Deny && self.rules.is_empty() {
            return Err(Error::invalid(
                "rules",
                "a DENY policy without rules denies nothing (Istio refuses it); one rule with no `from` and no `to` denies every request",
            ));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            // An empty entry would match every peer (or request) while looking like a condition.
            if let Some(j) = rule.from.iter().position(|f| *f == AuthzSource::default()) {
                return Err(Error::invalid(
                    format!("rules[{i}].from[{j}]"),
                    "an empty source matches every peer; leave `from` out to mean that",
                ));
            }
            if let Some(j) = rule.to.iter().position(|t| *t == AuthzTarget::default()) {
                return Err(Error::invalid(
                    format!("rules[{i}].to[{j}]"),
                    "an empty target matches every request; leave `to` out to mean that",
                ));
            }
            for (j, from) in rule.from.iter().enumerate() {
                let at = |f: &str| format!("rules[{i}].from[{j}].{f}");
                no_repeats(&at("principals"), &from.principals)?;
                no_repeats(&at("namespaces"), &from.namespaces)?;
            }
            for (j, to) in rule.to.iter().enumerate() {
                let at = |f: &str| format!("rules[{i}].to[{j}].{f}");
                no_repeats(&at("methods"), &to.methods)?;
                no_repeats(&at("paths"), &to.paths)?;
                no_repeats(&at("ports"), &to.ports)?;
                for (k, p) in to.paths.iter().enumerate() {
                    let stars = p.matches('*').count();
                    let ok = (p.starts_with('/') || p.starts_with('*'))
                        && (stars == 0 || (stars == 1 && (p.starts_with('*') || p.ends_with('*'))));
                    if !ok {
                        return Err(Error::invalid(
                            format!("rules[{i}].to[{j}].paths[{k}]"),
                            format!("{p:?} must be exact, 'prefix*', '*suffix' or '*'"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// An mTLS mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MtlsMode {
    /// Only mTLS traffic is accepted.
    Strict,
    /// mTLS and plaintext are both accepted.
    Permissive,
    /// No mTLS.
    Disable,
}

/// The mTLS state of a namespace, as the mesh reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MtlsStatus {
    /// The namespace inspected.
    pub namespace: Namespace,
    /// The enforced mode.
    pub mode: MtlsMode,
    /// True when the mesh encrypts meshed traffic on its own (Linkerd, Consul).
    pub automatic: bool,
    /// The trust domain, when the mesh reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<String>,
    /// Facts the caller must know (for example "pods must restart").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}
