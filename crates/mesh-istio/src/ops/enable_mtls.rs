//! `enable_mtls` on Istio: a STRICT PeerAuthentication `default` in the namespace, applied whole.

use mesh_core::{Namespace, Plan, Write, WriteAction};

use crate::{Config, objects, translate::peer_authentication};

/// Plans STRICT mTLS for `namespace`.
pub(crate) fn plan(plan: &mut Plan, namespace: &Namespace, config: &Config) {
    if namespace.as_str() == config.root_namespace {
        plan.warnings.push(format!(
            "{namespace} is Istio's root namespace: STRICT mTLS applies to the whole mesh"
        ));
    }
    let body = peer_authentication::strict(namespace);
    plan.push(Write::new(
        WriteAction::Apply,
        objects::peer_authentication(namespace),
        Some(body),
    ));
}
