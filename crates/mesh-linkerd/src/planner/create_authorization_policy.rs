//! `create_authorization_policy` on Linkerd.

use mesh_core::{AuthorizationPolicy, Dependency, Error, Feature, ObjectRef, Result, ServiceId};
use serde_json::Value;

use super::{LINKERD, Planner, apply, object_dep};
use crate::{
    objects::{self},
    translate::authorization,
};

impl Planner<'_> {
    pub(super) fn create_authorization_policy(&mut self, policy: &AuthorizationPolicy) -> Result<()> {
        let target_svc = match &policy.target {
            Some(t) => Some(self.apex(&ServiceId::new(policy.namespace.clone(), t.clone()))?),
            None => None,
        };
        let servers = authorization::servers(policy, target_svc.as_ref());
        let targets = policy.rules.iter().flat_map(|r| &r.to);
        if servers.is_empty() {
            for (feature, used) in [
                (
                    Feature::AuthzMethods,
                    targets.clone().any(|t| !t.methods.is_empty()),
                ),
                (Feature::AuthzPaths, targets.clone().any(|t| !t.paths.is_empty())),
            ] {
                if used {
                    return Err(Error::unsupported(
                        LINKERD,
                        feature,
                        "method and path rules attach an HTTPRoute to a Server, which needs a target \
                         Service or explicit ports",
                    ));
                }
            }
        }
        let objs = authorization::objects(policy, &servers, self.version, &self.config.trust_domain);
        for w in &objs.warnings {
            self.warn(w.clone());
        }
        for (r, body) in objs.authentications.into_iter().chain(objs.routes) {
            self.write_owned(r, body, Vec::new())?;
        }
        for (r, body, needs) in objs.policies {
            let needs: Vec<Dependency> = needs.iter().map(object_dep).collect();
            self.write_owned(r, body, needs)?;
        }
        for (r, body) in objs.servers {
            self.write_owned(r, body, Vec::new())?;
        }
        Ok(())
    }

    /// Plans an apply of a library-owned object, skipping it when it already holds `body`, and
    /// leaving alone an object of the same name that the user wrote.
    fn write_owned(&mut self, target: ObjectRef, body: Value, requires: Vec<Dependency>) -> Result<()> {
        let dep = object_dep(&target);
        match self.get(&target)? {
            Some(have) => {
                self.plan.baseline.available.push(dep.clone());
                if !objects::is_owned(&have) {
                    self.warn(format!(
                        "{target} exists and was not written by mesh; it is used as it is"
                    ));
                } else if !objects::contains(&have, &body) {
                    self.plan
                        .push(apply(target, body).providing([dep]).requiring(requires));
                }
            }
            None => self
                .plan
                .push(apply(target, body).providing([dep]).requiring(requires)),
        }
        Ok(())
    }
}
