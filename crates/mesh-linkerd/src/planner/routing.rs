//! `create_destination_rule`, `create_virtual_service` and `set_traffic_weight`.

use mesh_core::{
    CircuitBreaker, Dependency, DestinationPolicy, Feature, Result, ServiceId, ServiceRoutes, Subset,
    TrafficSplit, Version,
};
use serde_json::Map;

use super::{Planner, apply, subset_dep, to_json, versions_in};
use crate::{
    objects,
    translate::{circuit_breaker, http_route, smi},
};

impl Planner<'_> {
    /// `create_destination_rule`: per-version Services, and failure accrual from the outlier settings.
    pub(super) fn destination_rule(&mut self, policy: &DestinationPolicy) -> Result<()> {
        let id = &policy.service;
        let apex = self.apex(id)?;
        self.version_services(id, &apex, &policy.subsets, true)?;
        let pool = policy.connection_pool.clone().unwrap_or_default();
        let od = policy.outlier_detection.clone().unwrap_or_default();
        let cb = CircuitBreaker {
            timeout: pool.connect_timeout,
            consecutive_errors: od.consecutive_errors,
            base_ejection_time: od.base_ejection_time,
            ..Default::default()
        };
        let wanted = circuit_breaker::annotations(&cb, self.version.has_retry_annotations());
        if !wanted.is_empty() {
            let opted = self.config.smi || self.config.service_profile_retries;
            self.guard_service_profile(id, Feature::CircuitBreakerConsecutiveErrors, opted)?;
            let marker = (objects::CIRCUIT_BREAKER_MARKER, to_json(&cb));
            self.annotation_write(objects::service(id), &apex, marker, wanted);
        }
        Ok(())
    }

    /// `create_virtual_service`: per-version Services, then the HTTPRoute with the library's rules.
    pub(super) fn virtual_service(&mut self, routes: &ServiceRoutes) -> Result<()> {
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

    /// `set_traffic_weight`: per-version Services, then the HTTPRoute's catch-all rule (or an SMI TrafficSplit on opt-in).
    pub(super) fn traffic_weight(&mut self, id: &ServiceId, split: &TrafficSplit) -> Result<()> {
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
