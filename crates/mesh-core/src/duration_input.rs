//! Serde helpers for durations as users write them.
//!
//! A duration is a Go-style string (`"300ms"`, `"1m30s"`). Where the spec writes a bare number of
//! milliseconds (`timeout: 5000`, a fault's `3000`), [`opt_millis_or_str`] also takes an integer and
//! reads it as milliseconds. Where the spec's bare numbers are not milliseconds (a circuit breaker's
//! `interval: 30`), [`opt_str_no_bare_number`] refuses a number with a message that says why and
//! what to write instead, rather than guessing a unit.
//!
//! ```
//! use std::time::Duration;
//! use mesh_core::CircuitBreaker;
//! let cb: CircuitBreaker = serde_json::from_str(r#"{"timeout": 5000, "interval": "30s"}"#).unwrap();
//! assert_eq!(cb.timeout, Some(Duration::from_millis(5000)));
//! let err = serde_json::from_str::<CircuitBreaker>(r#"{"interval": 30}"#).unwrap_err();
//! assert!(err.to_string().contains("\"30s\""), "{err}");
//! ```

use std::{fmt, time::Duration};

use serde::{
    Deserializer, Serializer,
    de::{self, Visitor},
};

/// Writes an optional duration as a Go-style string (shared by both readers below).
fn write<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&crate::units::format_duration(*d)),
        None => s.serialize_none(),
    }
}

struct DurationVisitor {
    bare_number_is_millis: bool,
}

impl DurationVisitor {
    fn number<E: de::Error>(&self, n: u128, shown: &dyn fmt::Display) -> Result<Duration, E> {
        if !self.bare_number_is_millis {
            return Err(E::custom(format!(
                "a bare number ({shown}) is ambiguous here: write a unit, e.g. \"{shown}s\" or \"{shown}ms\""
            )));
        }
        let ms = u64::try_from(n).map_err(|_| E::custom(format!("{shown} ms is out of range")))?;
        Ok(Duration::from_millis(ms))
    }
}

impl<'de> Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bare_number_is_millis {
            f.write_str("a duration such as \"300ms\" or \"5s\", or whole milliseconds")
        } else {
            f.write_str("a duration such as \"300ms\" or \"30s\"")
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        crate::units::parse_duration(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
        self.number(u128::from(v), &v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(format!("a duration cannot be negative ({v})"))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "{v} is not a whole number; write a duration string such as \"1.5s\""
        )))
    }
}

struct OptionVisitor(DurationVisitor);

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<Duration>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

/// `Option<Duration>`: a Go-style string, or an integer read as milliseconds (the spec's unit).
pub mod opt_millis_or_str {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Writes the duration as a Go-style string, or nothing.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        super::write(d, s)
    }

    /// Reads a Go-style string or whole milliseconds.
    ///
    /// # Errors
    /// A malformed string, a negative or fractional number, or an out-of-range value.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_option(super::OptionVisitor(super::DurationVisitor {
            bare_number_is_millis: true,
        }))
    }
}

/// `Option<Duration>`: a Go-style string only; a bare number is refused as ambiguous.
pub mod opt_str_no_bare_number {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Writes the duration as a Go-style string, or nothing.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        super::write(d, s)
    }

    /// Reads a Go-style string; a number is an error that names the units to choose from.
    ///
    /// # Errors
    /// A malformed string or any bare number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_option(super::OptionVisitor(super::DurationVisitor {
            bare_number_is_millis: false,
        }))
    }
}

/// `Duration`: a Go-style string, or an integer read as milliseconds (the spec's unit).
pub mod millis_or_str {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    /// Writes the duration as a Go-style string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::units::format_duration(*d))
    }

    /// Reads a Go-style string or whole milliseconds.
    ///
    /// # Errors
    /// A malformed string, a negative or fractional number, or an out-of-range value.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(super::DurationVisitor {
            bare_number_is_millis: true,
        })
    }
}
