//! `register_service` and `unregister_service`.

use mesh_core::{Dependency, Error, Result, ServiceDefinition, ServiceId, Version, Write, WriteAction};
use serde_json::Map;

use super::{Planner, apply, subset_dep, versions_in};
use crate::{
    objects,
    translate::{http_route, register},
};

impl Planner<'_> {
    pub(super) fn register(&mut self, def: &ServiceDefinition) -> Result<()> {
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
                register::workload_ref(id.namespace.as_str(), &name),
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

    pub(super) fn unregister(&mut self, id: &ServiceId) -> Result<()> {
        let apex = self.apex(id)?;
        let route_ref = self.route_ref(id);
        let mut versions = Vec::new();
        let mut kept = Vec::new();
        if let Some(route) = self.get(&route_ref)? {
            let ours = http_route::owned_rules(&route);
            versions = versions_in(id, &ours);
            // Per-version Services the user's own rules send traffic to stay.
            kept = versions_in(id, &http_route::user_rules(&route));
            let requires: Vec<Dependency> = versions.iter().map(|v| subset_dep(id, v)).collect();
            self.plan.baseline.in_use.push((route_ref.clone(), requires));
            if objects::is_owned(&route) && http_route::user_rules(&route).is_empty() {
                self.plan.push(Write::new(WriteAction::Delete, route_ref, None));
            } else if !ours.is_empty() {
                let port = Self::port_of(id, &apex)?;
                let update = http_route::update(&route_ref, id, port, Some(&route), Vec::new(), &Map::new())?;
                self.route_write(route_ref, update, Vec::new());
            }
        }
        let ts = objects::traffic_split(id);
        if let Some(split) = self.get(&ts)?
            && objects::is_owned(&split)
        {
            let used: Vec<Version> = split["spec"]["backends"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|b| {
                    Version::new(b["service"].as_str()?.strip_prefix(&format!("{}-", id.name))?).ok()
                })
                .collect();
            versions.extend(used);
            self.plan.push(Write::new(WriteAction::Delete, ts, None));
        }
        versions.sort();
        versions.dedup();
        if !kept.is_empty() {
            self.warn(format!(
                "per-version Services {} stay: rules you wrote in HTTPRoute {} use them",
                kept.iter()
                    .map(|v| objects::version_service_name(id, v))
                    .collect::<Vec<_>>()
                    .join(", "),
                id.name
            ));
        }
        versions.retain(|v| !kept.contains(v));
        for v in &versions {
            let r = objects::version_service(id, v);
            if let Some(have) = self.get(&r)? {
                self.plan.baseline.available.push(subset_dep(id, v));
                if objects::is_owned(&have) {
                    self.plan
                        .push(Write::new(WriteAction::Delete, r, None).withdrawing([subset_dep(id, v)]));
                }
            }
        }
        let sp = objects::service_profile(id);
        if self.get(&sp)?.is_some_and(|s| objects::is_owned(&s)) {
            self.plan.push(Write::new(WriteAction::Delete, sp, None));
        }
        for name in register::recorded_workloads(&apex) {
            let r = register::workload_ref(id.namespace.as_str(), &name);
            if self.get(&r)?.is_some() {
                self.plan.push(Write::new(WriteAction::Delete, r, None));
            }
        }
        if objects::is_registered(&apex) {
            self.plan
                .push(Write::new(WriteAction::Delete, objects::service(id), None));
        } else {
            self.warn(format!(
                "Service {id} was not created by mesh and is left in place"
            ));
        }
        Ok(())
    }
}
