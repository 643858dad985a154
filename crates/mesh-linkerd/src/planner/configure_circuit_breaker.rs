//! `configure_circuit_breaker` on Linkerd: failure-accrual annotations on the Service.

use mesh_core::{CircuitBreaker, Feature, Result, ServiceId, ServiceName};

use super::{Planner, to_json};
use crate::{
    objects::{self},
    translate::circuit_breaker,
};

impl Planner<'_> {
    /// `configure_circuit_breaker`: failure-accrual annotations on the Service.
    pub(super) fn configure_circuit_breaker(
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
}
