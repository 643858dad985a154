//! `create_destination_rule` on Linkerd: per-version Services, and failure accrual from the outlier settings.

use mesh_core::{CircuitBreaker, DestinationPolicy, Feature, Result};

use super::{Planner, to_json};
use crate::{objects, translate::circuit_breaker};

impl Planner<'_> {
    /// `create_destination_rule`: per-version Services, and failure accrual from the outlier settings.
    pub(super) fn create_destination_rule(&mut self, policy: &DestinationPolicy) -> Result<()> {
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
}
