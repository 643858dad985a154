//! `enable_mtls` on Linkerd: the namespace's default inbound policy.

use mesh_core::{Namespace, Result};

use super::{Planner, apply};
use crate::{
    objects::{self, DEFAULT_INBOUND_POLICY},
    translate::mtls,
};

impl Planner<'_> {
    /// `enable_mtls`: the namespace's default inbound policy.
    pub(super) fn enable_mtls(&mut self, namespace: &Namespace) -> Result<()> {
        let target = objects::namespace(namespace.as_str());
        let have = self.get(&target)?;
        let current = have
            .as_ref()
            .and_then(|n| n["metadata"]["annotations"][DEFAULT_INBOUND_POLICY].as_str());
        if current != Some(mtls::ALL_AUTHENTICATED) {
            self.plan.push(apply(target, mtls::namespace_patch(namespace)));
        }
        if have.is_none() {
            self.warn(format!(
                "namespace {namespace} does not exist: the apply creates it, with the policy set"
            ));
        }
        self.warn(
            "Linkerd encrypts meshed traffic automatically; the all-authenticated default inbound \
             policy is read at pod start, so restart the namespace's pods for it to apply",
        );
        Ok(())
    }
}
