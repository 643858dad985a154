//! `unregister_service` on Linkerd.

use mesh_core::{Dependency, Result, ServiceId, Version, Write, WriteAction};
use serde_json::Map;

use super::{Planner, subset_dep, versions_in};
use crate::{
    objects,
    translate::{http_route, register},
};

impl Planner<'_> {
    pub(super) fn unregister_service(&mut self, id: &ServiceId) -> Result<()> {
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
            let r = objects::external_workload(id.namespace.as_str(), &name);
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
