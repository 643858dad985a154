//! `create_virtual_service` on Linkerd: per-version Services, then the HTTPRoute with the library's rules.

use mesh_core::{Feature, Result, ServiceRoutes, Subset, Version};
use serde_json::Map;

use super::{Planner, subset_dep};
use crate::translate::http_route;

impl Planner<'_> {
    /// `create_virtual_service`: per-version Services, then the HTTPRoute with the library's rules.
    pub(super) fn create_virtual_service(&mut self, routes: &ServiceRoutes) -> Result<()> {
        let id = &routes.service;
        let apex = self.apex(id)?;
        let port = Self::port_of(id, &apex)?;
        self.guard_service_profile(id, Feature::TrafficSplit, self.config.smi)?;
        let mut versions: Vec<Version> = routes
            .rules
            .iter()
            .flat_map(|r| r.destinations.versions().cloned())
            .collect();
        versions.sort();
        versions.dedup();
        let subsets: Vec<Subset> = versions.iter().cloned().map(Subset::for_version).collect();
        let ours = routes
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| http_route::rule(id, r, port).map_err(|e| e.in_field(&format!("rules[{i}]"))))
            .collect::<Result<Vec<_>>>()?;
        if self.config.http_route_flavour == crate::HttpRouteFlavour::GatewayApi
            && self.version.gateway_http_route_version().is_some()
            && routes.rules.iter().any(|r| r.timeout.is_some())
        {
            self.warn(
                "rules[].timeouts needs Gateway API 1.2 or later CRDs: standard 1.1.1 CRDs prune the field",
            );
        }
        self.version_services(id, &apex, &subsets, false)?;
        let target = self.route_ref(id);
        let existing = self.get(&target)?;
        Self::refuse_during_fault(existing.as_ref())?;
        let update = http_route::update(&target, id, port, existing.as_ref(), ours, &Map::new())?;
        self.route_write(
            target,
            update,
            versions.iter().map(|v| subset_dep(id, v)).collect(),
        );
        Ok(())
    }
}
