//! The one error of this crate: a setting that cannot work.
//!
//! The math itself never fails: missing or bad data gives a typed "no data" result instead.

/// A setting outside its valid range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {field}: {reason}")]
pub struct InvalidSetting {
    /// The setting's field name.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl InvalidSetting {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Checks that `value` is a number within `lo..=hi` (or `lo < value` when `open_low`).
pub(crate) fn check_range(
    field: &'static str,
    value: f64,
    lo: f64,
    hi: f64,
    open_low: bool,
) -> Result<(), InvalidSetting> {
    let low_ok = if open_low { value > lo } else { value >= lo };
    if value.is_nan() || !low_ok || value > hi {
        let open = if open_low { "(" } else { "[" };
        return Err(InvalidSetting::new(
            field,
            format!("{value} is not within {open}{lo}, {hi}]"),
        ));
    }
    Ok(())
}
