//! Small validated units: percentages, HTTP status codes, ports and durations written as strings.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

use crate::Error;

/// A percentage in `0.0..=100.0`, finite.
///
/// ```
/// use mesh_core::Percent;
/// assert_eq!(Percent::new(10.0).unwrap().value(), 10.0);
/// assert!(Percent::new(100.5).is_err());
/// assert!(Percent::new(f64::NAN).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Percent(f64);

impl Percent {
    /// Validates `value`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `value` is not finite, not within `0..=100`, or positive but
    /// below [`Percent::RESOLUTION`] (`1e-300` would render 300 digits for no effect).
    pub fn new(value: f64) -> Result<Self, Error> {
        if !value.is_finite() || !(0.0..=100.0).contains(&value) {
            return Err(Error::invalid(
                "percent",
                format!("{value:?} is not within 0..=100"),
            ));
        }
        if value > 0.0 && value < Self::RESOLUTION {
            return Err(Error::invalid(
                "percent",
                format!(
                    "{value:?} is below the meshes' resolution of {} % (one in a million)",
                    Self::RESOLUTION
                ),
            ));
        }
        Ok(Self(value))
    }

    /// The smallest positive share the meshes express: Envoy's fractional percent is per
    /// million, 0.0001 %.
    pub const RESOLUTION: f64 = 0.0001;

    /// The value in `0..=100`.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The value as a fraction in `0..=1`.
    pub fn fraction(self) -> f64 {
        self.0 / 100.0
    }
}

impl TryFrom<f64> for Percent {
    type Error = Error;
    fn try_from(v: f64) -> Result<Self, Error> {
        Self::new(v)
    }
}

impl From<Percent> for f64 {
    fn from(p: Percent) -> f64 {
        p.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// An HTTP status code a fault may return: `200..=599`.
///
/// ```
/// use mesh_core::HttpStatus;
/// assert_eq!(HttpStatus::new(503).unwrap().code(), 503);
/// assert!(HttpStatus::new(99).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HttpStatus(u16);

impl HttpStatus {
    /// Validates `code`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] outside `200..=599`.
    pub fn new(code: u16) -> Result<Self, Error> {
        if !(200..=599).contains(&code) {
            return Err(Error::invalid(
                "http_status",
                format!("{code} is not within 200..=599"),
            ));
        }
        Ok(Self(code))
    }

    /// The numeric code.
    pub fn code(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for HttpStatus {
    type Error = Error;
    fn try_from(v: u16) -> Result<Self, Error> {
        Self::new(v)
    }
}

impl From<HttpStatus> for u16 {
    fn from(s: HttpStatus) -> u16 {
        s.0
    }
}

/// A TCP port, `1..=65535`.
///
/// ```
/// use mesh_core::Port;
/// assert_eq!(Port::new(8080).unwrap().get(), 8080);
/// assert!(Port::new(0).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Port(u16);

impl Port {
    /// Validates `port`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for port 0.
    pub fn new(port: u16) -> Result<Self, Error> {
        if port == 0 {
            return Err(Error::invalid("port", "0 is not a usable port"));
        }
        Ok(Self(port))
    }

    /// The port number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Port {
    type Error = Error;
    fn try_from(v: u16) -> Result<Self, Error> {
        Self::new(v)
    }
}

impl From<Port> for u16 {
    fn from(p: Port) -> u16 {
        p.0
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Formats a duration the way Go, Istio's protobuf JSON and Consul write it: `"1.5s"`, `"300ms"`,
/// `"2m0s"` is avoided in favour of the shortest exact form (`"120s"`).
///
/// ```
/// use std::time::Duration;
/// use mesh_core::units::format_duration;
/// assert_eq!(format_duration(Duration::from_millis(300)), "300ms");
/// assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
/// assert_eq!(format_duration(Duration::from_secs(30)), "30s");
/// assert_eq!(format_duration(Duration::from_micros(1500)), "1500us");
/// ```
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!("{}us", nanos / 1_000)
    } else {
        format!("{nanos}ns")
    }
}

/// Parses a Go-style duration: one or more `<number><unit>` parts, units `ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h` (`"1h30m"`, `"1.5s"`, `"300ms"`).
///
/// ```
/// use std::time::Duration;
/// use mesh_core::units::parse_duration;
/// assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
/// assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
/// assert!(parse_duration("10").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] on an empty string, a missing unit or an unknown unit.
pub fn parse_duration(s: &str) -> Result<Duration, Error> {
    let bad = |why: &str| Error::invalid("duration", format!("{s:?}: {why}"));
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad("bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(bad("missing unit (ns, us, ms, s, m, h)")),
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if total > MAX_DURATION_SECS {
        // Beyond protobuf's Duration (about 10,000 years), which every mesh's API uses.
        return Err(bad("longer than protobuf's Duration allows (315576000000s)"));
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad("out of range"))
}

/// The longest duration protobuf's `Duration` holds, in seconds.
const MAX_DURATION_SECS: f64 = 315_576_000_000.0;

/// Serde support for [`Duration`] as a Go-style string (`"300ms"`). Use with `#[serde(with = ...)]`.
pub mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration as a string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    /// Reads a Go-style duration string.
    ///
    /// # Errors
    /// When the string is not a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde support for `Option<Duration>` as an optional Go-style string.
pub mod opt_duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the duration as a string, or nothing.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&super::format_duration(*d)),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional Go-style duration string.
    ///
    /// # Errors
    /// When the string is not a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}
