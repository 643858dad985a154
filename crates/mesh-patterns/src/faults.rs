//! Fault presets for chaos testing.

use std::time::Duration;

use mesh_core::{Error, Fault, HttpStatus, Percent};

/// Delays `percent` % of requests by `duration`. The spec's `createLatencyFault(10, 3000)` is
/// `latency_fault(10.0, Duration::from_millis(3000))`.
///
/// ```
/// use std::time::Duration;
/// use mesh_core::Fault;
/// let f = mesh_patterns::latency_fault(10.0, Duration::from_millis(3000))?;
/// assert!(matches!(f, Fault::Delay { duration, .. } if duration == Duration::from_secs(3)));
/// assert!(mesh_patterns::latency_fault(101.0, Duration::from_secs(1)).is_err());
/// assert!(mesh_patterns::latency_fault(10.0, Duration::ZERO).is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when `percent` is outside `0..=100` or the delay is under 1 ms.
pub fn latency_fault(percent: f64, duration: Duration) -> Result<Fault, Error> {
    let fault = Fault::Delay {
        percent: Percent::new(percent)?,
        duration,
    };
    fault.validate()?;
    Ok(fault)
}

/// Answers `percent` % of requests with `http_status` instead of forwarding them.
///
/// ```
/// use mesh_core::Fault;
/// let f = mesh_patterns::error_fault(5.0, 503)?;
/// assert!(matches!(f, Fault::Abort { http_status, .. } if http_status.code() == 503));
/// assert!(mesh_patterns::error_fault(5.0, 99).is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when `percent` is outside `0..=100` or the status outside `200..=599`.
pub fn error_fault(percent: f64, http_status: u16) -> Result<Fault, Error> {
    let fault = Fault::Abort {
        percent: Percent::new(percent)?,
        http_status: HttpStatus::new(http_status)?,
    };
    fault.validate()?;
    Ok(fault)
}
