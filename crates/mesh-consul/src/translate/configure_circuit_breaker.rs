//! `configure_circuit_breaker`: Consul breakers are client-side. Each caller's service-defaults gets
//! an `UpstreamConfig.Overrides[{Name: <target>}]` with `Limits`, `ConnectTimeoutMs` and
//! `PassiveHealthCheck`; calls from services not configured keep no limit.

use mesh_core::{CircuitBreaker, Error, Feature, Result, ServiceId, ServiceName, units::format_duration};

use super::{
    EntryKey,
    planner::{Deps, Planner},
};
use crate::model::{
    ConfigEntry, EntryKind, PassiveHealthCheck, ServiceDefaults, UpstreamConfig, UpstreamLimits,
};

pub(super) fn plan(
    p: &mut Planner<'_>,
    service: &ServiceId,
    cb: &CircuitBreaker,
    callers: &[ServiceName],
) -> Result<()> {
    let ns = p.ns(service, Feature::CircuitBreakerConsecutiveErrors)?;
    let ns = ns.as_deref();
    let mut names: Vec<String> = if callers.is_empty() {
        let key = EntryKey::new(EntryKind::ServiceIntentions, ns, service.name.as_str());
        match p.current(&key) {
            Some(ConfigEntry::ServiceIntentions(i)) => i.allowed_sources(),
            _ => Vec::new(),
        }
    } else {
        callers.iter().map(ToString::to_string).collect()
    };
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(Error::invalid(
            "callers",
            format!(
                "Consul circuit breakers are set on the callers of {service}; none was given and the service-intentions of {service} allow no named source"
            ),
        ));
    }
    let max_ejection = match cb.max_ejection_percent {
        Some(p) if p.value().fract() != 0.0 => {
            return Err(Error::invalid(
                "max_ejection_percent",
                "Consul takes a whole percentage",
            ));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // whole, within 0..=100
        Some(p) => Some(p.value() as u32),
        None => None,
    };
    for caller in &names {
        let key = EntryKey::new(EntryKind::ServiceDefaults, ns, caller);
        let mut sd = match p.current(&key) {
            Some(ConfigEntry::ServiceDefaults(sd)) => sd,
            _ => ServiceDefaults {
                name: caller.clone(),
                ..ServiceDefaults::default()
            },
        };
        let overrides = sd
            .upstream_config
            .get_or_insert_with(Default::default)
            .overrides
            .get_or_insert_with(Vec::new);
        let target = service.name.as_str();
        let index = match overrides.iter().position(|o| {
            o.name.as_deref() == Some(target) && o.namespace.as_deref().is_none_or(|n| Some(n) == ns)
        }) {
            Some(i) => i,
            None => {
                overrides.push(UpstreamConfig {
                    name: Some(target.to_owned()),
                    namespace: ns.map(str::to_owned),
                    ..UpstreamConfig::default()
                });
                overrides.len() - 1
            }
        };
        let o = &mut overrides[index];
        if let Some(max) = cb.max_connections {
            o.limits
                .get_or_insert_with(UpstreamLimits::default)
                .max_connections = Some(max);
        }
        if let Some(t) = cb.timeout {
            o.connect_timeout_ms = Some(u64::try_from(t.as_millis()).unwrap_or(u64::MAX));
        }
        if cb.consecutive_errors.is_some()
            || cb.interval.is_some()
            || cb.base_ejection_time.is_some()
            || max_ejection.is_some()
        {
            let phc = o
                .passive_health_check
                .get_or_insert_with(PassiveHealthCheck::default);
            if let Some(n) = cb.consecutive_errors {
                phc.max_failures = Some(n);
            }
            if let Some(d) = cb.interval {
                phc.interval = Some(format_duration(d));
            }
            if let Some(d) = cb.base_ejection_time {
                phc.base_ejection_time = Some(format_duration(d));
            }
            if max_ejection.is_some() {
                phc.max_ejection_percent = max_ejection;
            }
        }
        p.put(&key, ConfigEntry::ServiceDefaults(sd), Deps::default());
    }
    p.warn(format!(
        "client-side: the breaker applies to calls from {} only; other callers of {service} are not limited",
        names.join(", ")
    ));
    Ok(())
}
