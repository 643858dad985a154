//! Trace and span ids: every backend's spelling normalized to lower-case hex, left-padded.
//!
//! Jaeger and Zipkin send hex (16 or 32 digits, any case); Tempo's search trims leading zeros;
//! Tempo's trace-by-id JSON carries base64 (`gogo/jsonpb` bytes).

use base64::{Engine as _, engine::general_purpose::STANDARD};

use crate::{Error, Result};

/// Normalizes a trace id to 32 lower-case hex digits.
///
/// Hex input of 1 to 32 digits is left-padded; otherwise base64 of 16 (or 8) bytes is decoded.
///
/// ```
/// use mesh_telemetry::traces::trace_id;
/// assert_eq!(trace_id("5B8EFFF798038103D269B633813FC60C").unwrap(), "5b8efff798038103d269b633813fc60c");
/// assert_eq!(trace_id("d6e9329d67b6146a").unwrap(), "0000000000000000d6e9329d67b6146a");
/// assert_eq!(trace_id("MUkZX/sL7AU0e0jv6OzBsA==").unwrap(), "3149195ffb0bec05347b48efe8ecc1b0");
/// assert!(trace_id("").is_err());
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when the value is neither.
pub fn trace_id(raw: &str) -> Result<String> {
    normalize(raw, 32, "trace_id")
}

/// Normalizes a span id to 16 lower-case hex digits (hex or base64 of 8 bytes).
///
/// ```
/// use mesh_telemetry::traces::span_id;
/// assert_eq!(span_id("SyPeJdH7ZkE=").unwrap(), "4b23de25d1fb6641");
/// assert_eq!(span_id("EEE19B7EC3C1B174").unwrap(), "eee19b7ec3c1b174");
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when the value is neither.
pub fn span_id(raw: &str) -> Result<String> {
    normalize(raw, 16, "span_id")
}

fn normalize(raw: &str, digits: usize, field: &'static str) -> Result<String> {
    let raw = raw.trim();
    // Base64 ids of 8 or 16 bytes end with `=` padding, so they are never all hex digits.
    if !raw.is_empty() && raw.len() <= digits && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(format!("{:0>digits$}", raw.to_ascii_lowercase()));
    }
    let bytes = STANDARD
        .decode(raw)
        .map_err(|_| Error::invalid(field, format!("{raw:?} is neither hex nor base64")))?;
    if bytes.is_empty() || bytes.len() * 2 > digits {
        return Err(Error::invalid(
            field,
            format!(
                "{raw:?} decodes to {} bytes; at most {} expected",
                bytes.len(),
                digits / 2
            ),
        ));
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{hex:0>digits$}"))
}

/// A parent span id, or `None` when absent, empty, unreadable or all zeros (a root span).
pub(crate) fn optional_span_id(raw: Option<&str>) -> Option<String> {
    raw.filter(|s| !s.trim().is_empty())
        .and_then(|s| span_id(s).ok())
        .filter(|s| s.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_every_backend() {
        assert_eq!(
            trace_id("00000000000000000000000000000001").unwrap(),
            "00000000000000000000000000000001"
        );
        assert_eq!(trace_id("1").unwrap(), "00000000000000000000000000000001");
        assert_eq!(span_id("0000000000000002").unwrap(), "0000000000000002");
        assert_eq!(
            trace_id("ABCDEFabcdefabcdefabcdef").unwrap(),
            "00000000abcdefabcdefabcdefabcdef"
        );
        assert!(trace_id("0123456789abcdef0123456789abcdef0").is_err()); // 33 digits
        assert!(trace_id("zz").is_err());
        assert!(span_id("MUkZX/sL7AU0e0jv6OzBsA==").is_err()); // 16 bytes is not a span id
    }

    #[test]
    fn empty_and_zero_parents_are_none() {
        assert_eq!(optional_span_id(None), None);
        assert_eq!(optional_span_id(Some("")), None);
        assert_eq!(optional_span_id(Some("0000000000000000")), None);
        assert_eq!(optional_span_id(Some("AAAAAAAAAAA=")), None);
        assert_eq!(
            optional_span_id(Some("86154a4ba6e91385")).as_deref(),
            Some("86154a4ba6e91385")
        );
    }
}
