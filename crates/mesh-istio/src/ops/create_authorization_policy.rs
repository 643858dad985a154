//! `create_authorization_policy` on Istio: an AuthorizationPolicy of the same name, applied whole.

use mesh_core::{AuthorizationPolicy, Plan, Write, WriteAction};

use crate::{Config, objects, translate::authorization_policy};

/// Plans the AuthorizationPolicy for `p`.
pub(crate) fn plan(plan: &mut Plan, p: &AuthorizationPolicy, config: &Config) {
    let body = authorization_policy::authorization_policy(p, &config.trust_domain, &config.selector_labels);
    let target = objects::authorization_policy(&p.namespace, p.name.as_str());
    if p.rules
        .iter()
        .flat_map(|r| &r.from)
        .any(|s| !s.principals.is_empty() || !s.namespaces.is_empty())
    {
        plan.warnings.push(
            "principals and namespaces are only known for mTLS traffic: enable STRICT mTLS so that plaintext requests cannot bypass the rule".into(),
        );
    }
    plan.push(Write::new(WriteAction::Apply, target, Some(body)));
}
