//! `set_retry_policy` on Linkerd: annotations on 2.16+, else an owned ServiceProfile (opt-in).

use mesh_core::{Error, Feature, Result, RetryPolicy, ServiceId};

use super::{Planner, apply, to_json};
use crate::{
    objects::{self},
    translate::retry,
};

impl Planner<'_> {
    /// `set_retry_policy`: annotations on 2.16+, else an owned ServiceProfile (opt-in).
    pub(super) fn set_retry_policy(&mut self, id: &ServiceId, policy: &RetryPolicy) -> Result<()> {
        let apex = self.apex(id)?;
        if self.version.has_retry_annotations() {
            let opted = self.config.smi || self.config.service_profile_retries;
            self.guard_service_profile(id, Feature::RetryAttempts, opted)?;
            let r = retry::annotations(policy)?;
            for w in r.warnings {
                self.warn(w);
            }
            let marker = (objects::RETRY_POLICY_MARKER, to_json(policy));
            self.annotation_write(objects::service(id), &apex, marker, r.annotations);
            return Ok(());
        }
        let target = objects::service_profile(id);
        let want = retry::service_profile(id, policy)?;
        self.warn(
            "Linkerd before 2.16 retries through a ServiceProfile: requests are retried within a \
             budget (20% extra load), not a per-request attempt count, and the ServiceProfile \
             disables HTTPRoute splits, timeouts and failure accrual on this Service",
        );
        match self.get(&target)? {
            // A ServiceProfile the user wrote is theirs: it is never overwritten.
            Some(have) if !objects::is_owned(&have) => {
                return Err(Error::AlreadyExists {
                    kind: "ServiceProfile (not written by mesh)".into(),
                    name: format!("{}/{}", id.namespace, target.name),
                });
            }
            Some(have) if objects::contains(&have, &want) => {}
            _ => self.plan.push(apply(target, want)),
        }
        Ok(())
    }
}
