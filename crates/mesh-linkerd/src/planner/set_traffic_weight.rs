//! `set_traffic_weight` on Linkerd: per-version Services, then the HTTPRoute's catch-all rule (or an SMI TrafficSplit on opt-in).

use mesh_core::{Dependency, Feature, Result, ServiceId, Subset, TrafficSplit, Version};
use serde_json::Map;

use super::{Planner, apply, subset_dep, versions_in};
use crate::{
    objects,
    translate::{http_route, smi},
};

impl Planner<'_> {
    /// `set_traffic_weight`: per-version Services, then the HTTPRoute's catch-all rule (or an SMI TrafficSplit on opt-in).
    pub(super) fn set_traffic_weight(&mut self, id: &ServiceId, split: &TrafficSplit) -> Result<()> {
        if split.weights().len() > 16 {
            return Err(mesh_core::Error::invalid(
                "split",
                format!(
                    "{} versions; an HTTPRoute rule takes at most 16 backends",
                    split.weights().len()
                ),
            ));
        }
        let apex = self.apex(id)?;
        let port = Self::port_of(id, &apex)?;
        self.guard_service_profile(id, Feature::TrafficSplit, self.config.smi)?;
        let versions: Vec<Version> = split.versions().cloned().collect();
        let subsets: Vec<Subset> = versions.iter().cloned().map(Subset::for_version).collect();
        self.version_services(id, &apex, &subsets, false)?;
        let requires: Vec<Dependency> = versions.iter().map(|v| subset_dep(id, v)).collect();
        if self.config.smi {
            self.warn(smi::WARNING);
            let target = objects::traffic_split(id);
            let want = smi::traffic_split(id, split);
            let have = self.get(&target)?;
            if !have.is_some_and(|h| objects::contains(&h, &want)) {
                self.plan.push(apply(target, want).requiring(requires));
            }
            return Ok(());
        }
        let target = self.route_ref(id);
        let existing = self.get(&target)?;
        Self::refuse_during_fault(existing.as_ref())?;
        let before = existing.as_ref().map(http_route::owned_rules).unwrap_or_default();
        let ours = http_route::with_split(before, http_route::split_backends(id, split, port));
        let mut all_versions = versions_in(id, &ours);
        all_versions.retain(|v| !versions.contains(v));
        for v in &all_versions {
            // Versions other rules of ours still use must keep existing.
            if self.get(&objects::version_service(id, v))?.is_some() {
                self.plan.baseline.available.push(subset_dep(id, v));
            }
        }
        let update = http_route::update(&target, id, port, existing.as_ref(), ours, &Map::new())?;
        self.route_write(target, update, requires);
        Ok(())
    }
}
