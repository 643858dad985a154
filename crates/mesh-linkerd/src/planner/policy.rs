//! `configure_circuit_breaker`, `set_retry_policy`, `enable_mtls` and
//! `create_authorization_policy`.

use mesh_core::{
    AuthorizationPolicy, CircuitBreaker, Dependency, Error, Feature, Namespace, ObjectRef, Result,
    RetryPolicy, ServiceId, ServiceName,
};
use serde_json::Value;

use super::{LINKERD, Planner, apply, object_dep, to_json};
use crate::{
    objects::{self, DEFAULT_INBOUND_POLICY},
    translate::{authorization, circuit_breaker, mtls, retry},
};

impl Planner<'_> {
    /// `configure_circuit_breaker`: failure-accrual annotations on the Service.
    pub(super) fn circuit_breaker(
        &mut self,
        id: &ServiceId,
        cb: &CircuitBreaker,
        callers: &[ServiceName],
    ) -> Result<()> {
        let apex = self.apex(id)?;
        let opted = self.config.smi || self.config.service_profile_retries;
        self.guard_service_profile(id, Feature::CircuitBreakerConsecutiveErrors, opted)?;
        if !callers.is_empty() {
            self.warn(
                "Linkerd failure accrual is set on the destination Service and applies to every \
                 meshed caller; the callers list is not used",
            );
        }
        if cb.timeout.is_some() {
            self.warn(
                "timeout is written as timeout.linkerd.io/request: a request timeout, not a connect timeout",
            );
        }
        let wanted = circuit_breaker::annotations(cb, self.version.has_retry_annotations());
        let marker = (objects::CIRCUIT_BREAKER_MARKER, to_json(cb));
        self.annotation_write(objects::service(id), &apex, marker, wanted);
        Ok(())
    }

    /// `set_retry_policy`: annotations on 2.16+, else an owned ServiceProfile (opt-in).
    pub(super) fn retry_policy(&mut self, id: &ServiceId, policy: &RetryPolicy) -> Result<()> {
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

    pub(super) fn authorization(&mut self, policy: &AuthorizationPolicy) -> Result<()> {
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
