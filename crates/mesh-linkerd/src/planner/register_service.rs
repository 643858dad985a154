//! `register_service` on Linkerd.

use mesh_core::{Error, Result, ServiceDefinition, Write, WriteAction};

use super::{Planner, apply};
use crate::{objects, translate::register};

impl Planner<'_> {
    pub(super) fn register_service(&mut self, def: &ServiceDefinition) -> Result<()> {
        let id = def.id();
        let mut names = Vec::new();
        for i in 0..def.endpoints.len() {
            let (target, body) =
                register::external_workload(def, i, &self.config.trust_domain, &self.config.selector_labels)
                    .map_err(|e| e.in_field("definition"))?;
            names.push(target.name.clone());
            let identity = body["spec"]["meshTLS"]["identity"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let have = self.get(&target)?;
            if !have.as_ref().is_some_and(|h| objects::contains(h, &body)) {
                self.plan.push(apply(target.clone(), body));
            }
            let status = register::ready_status(&target);
            if !have.as_ref().is_some_and(|h| objects::contains(h, &status)) {
                self.plan
                    .push(Write::new(WriteAction::ApplyStatus, target.clone(), Some(status)));
            }
            if i == 0 {
                self.warn(format!(
                    "the instances must run the Linkerd proxy with identity {identity} (for example through \
                     SPIRE), or their traffic is not meshed"
                ));
            }
        }
        let target = objects::service(&id);
        let want = register::service(def, &names, &self.config.selector_labels);
        let existing = self.get(&target)?;
        let stale: Vec<String> = existing
            .as_ref()
            .filter(|h| objects::is_registered(h))
            .map(register::recorded_workloads)
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !names.contains(n))
            .collect();
        match existing {
            Some(have) if !objects::is_registered(&have) => {
                // Instances outside Kubernetes need a Service selecting them; the user's Service
                // selects something else and is never rewritten.
                if !names.is_empty() {
                    return Err(Error::AlreadyExists {
                        kind: "Service (not created by mesh)".into(),
                        name: id.to_string(),
                    });
                }
                self.warn(format!("Service {id} already exists and is left as it is"));
            }
            Some(have) if objects::contains(&have, &want) => {}
            _ => self.plan.push(apply(target, want)),
        }
        // Instances dropped from the definition go once the Service no longer lists them.
        for name in stale {
            self.plan.push(Write::new(
                WriteAction::Delete,
                objects::external_workload(id.namespace.as_str(), &name),
                None,
            ));
        }
        if names.is_empty() {
            self.warn(
                "pods join the mesh only with the linkerd.io/inject: enabled annotation (and a restart)",
            );
        }
        if def.health_check.is_some() {
            self.warn(
                "Linkerd has no health-check setting: pod readiness probes (or an ExternalWorkload's Ready \
                 condition) decide which endpoints get traffic; the health check is not written",
            );
        }
        Ok(())
    }
}
