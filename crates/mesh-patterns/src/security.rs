//! Authorization policy presets.

use mesh_core::{
    AuthorizationPolicy, AuthzAction, AuthzRule, AuthzSource, Error, Namespace, PolicyName, Principal,
    ServiceId,
};

/// Allows only the listed identities to call `service`; everything else is denied (an ALLOW
/// policy denies what it does not match). An empty list allows nobody.
///
/// Each allowed service is a workload identity: `namespace/name`, Istio's
/// `cluster.local/ns/<ns>/sa/<sa>` or a SPIFFE id. The policy is named `<service>-strict`
/// (shortened to fit a label).
///
/// ```
/// use mesh_core::AuthzAction;
/// use mesh_patterns::strict_authorization_policy;
/// let p = strict_authorization_policy(&"prod/api".parse()?, &["prod/frontend", "cluster.local/ns/ops/sa/probe"])?;
/// assert_eq!(p.action, AuthzAction::Allow);
/// assert_eq!(p.name.as_str(), "api-strict");
/// assert_eq!(p.rules[0].from[0].principals.len(), 2);
/// assert!(p.validate().is_ok());
/// assert!(strict_authorization_policy(&"prod/api".parse()?, &["not a principal"]).is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] naming `allowed_services[i]` when an entry is not an identity.
pub fn strict_authorization_policy(
    service: &ServiceId,
    allowed_services: &[&str],
) -> Result<AuthorizationPolicy, Error> {
    let principals = allowed_services
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse::<Principal>()
                .map_err(|e| e.in_field(&format!("allowed_services[{i}]")))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let rules = if principals.is_empty() {
        Vec::new()
    } else {
        vec![AuthzRule {
            from: vec![AuthzSource {
                principals,
                namespaces: Vec::new(),
            }],
            to: Vec::new(),
        }]
    };
    Ok(AuthorizationPolicy {
        name: suffixed_name(service.name.as_str(), "-strict")?,
        namespace: service.namespace.clone(),
        target: Some(service.name.clone()),
        action: AuthzAction::Allow,
        rules,
    })
}

/// Allows calls into `namespace` only from workloads of the same namespace, for every workload in
/// it. The policy is named `namespace-isolation`.
///
/// ```
/// use mesh_patterns::namespace_isolation_policy;
/// let p = namespace_isolation_policy("payments")?;
/// assert_eq!(p.target, None);
/// assert_eq!(p.rules[0].from[0].namespaces[0].as_str(), "payments");
/// assert!(namespace_isolation_policy("Bad_NS").is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when `namespace` is not a valid label.
pub fn namespace_isolation_policy(namespace: &str) -> Result<AuthorizationPolicy, Error> {
    let namespace = Namespace::new(namespace)?;
    Ok(AuthorizationPolicy {
        name: PolicyName::new("namespace-isolation")?,
        namespace: namespace.clone(),
        target: None,
        action: AuthzAction::Allow,
        rules: vec![AuthzRule {
            from: vec![AuthzSource {
                principals: Vec::new(),
                namespaces: vec![namespace],
            }],
            to: Vec::new(),
        }],
    })
}

/// `base + suffix`, with `base` cut so the result stays a 63-character label.
fn suffixed_name(base: &str, suffix: &str) -> Result<PolicyName, Error> {
    let keep = 63 - suffix.len();
    let cut = base
        .get(..keep.min(base.len()))
        .unwrap_or(base)
        .trim_end_matches('-');
    PolicyName::new(format!("{cut}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_service_names_still_give_a_valid_policy_name() {
        let long = format!("prod/{}", "a".repeat(60) + "-bc");
        let p = strict_authorization_policy(&long.parse().unwrap(), &[]).unwrap();
        assert!(p.name.as_str().len() <= 63 && p.name.as_str().ends_with("-strict"));
        assert!(p.rules.is_empty(), "an empty allow list allows nobody");
    }
}
