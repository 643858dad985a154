//! Grafana Tempo: `GET /api/search` (trace summaries) and `GET /api/traces/{id}` (the trace).

use mesh_core::Trace;
use serde::Deserialize;
use serde_json::Value;

use super::{ids::trace_id, model::group_traces, otlp::TracesData};
use crate::{Error, Result};

#[derive(Debug, Deserialize)]
struct SearchResponse {
    #[serde(default)]
    traces: Vec<SearchTrace>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
}

/// The trace ids of a Tempo search response, normalized to 32 hex digits (Tempo trims leading
/// zeros).
///
/// ```
/// let body = br#"{"traces":[{"traceID":"d6e9329d67b6146a","rootServiceName":"frontend"}],"metrics":{}}"#;
/// let ids = mesh_telemetry::traces::parse_tempo_search(body).unwrap();
/// assert_eq!(ids, ["0000000000000000d6e9329d67b6146a"]);
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape, [`Error::InvalidInput`] for an unreadable id.
pub fn parse_tempo_search(body: &[u8]) -> Result<Vec<String>> {
    let r: SearchResponse = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Tempo search",
        source,
    })?;
    r.traces.iter().map(|t| trace_id(&t.trace_id)).collect()
}

/// Parses a Tempo trace-by-id body: `{"batches":[..]}` (`/api/traces/{id}`),
/// `{"resourceSpans":[..]}`, or `{"trace":{"resourceSpans":[..]}}` (`/api/v2/traces/{id}`).
/// Ids may be base64 (what Tempo emits) or hex.
///
/// ```
/// let body = br#"{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
///   "scopeSpans":[{"spans":[{"traceId":"MUkZX/sL7AU0e0jv6OzBsA==","spanId":"SyPeJdH7ZkE=","name":"GET",
///   "startTimeUnixNano":"1","endTimeUnixNano":"3"}]}]}]}"#;
/// let t = mesh_telemetry::traces::parse_tempo_trace(body).unwrap();
/// assert_eq!(t[0].trace_id, "3149195ffb0bec05347b48efe8ecc1b0");
/// assert_eq!(t[0].spans[0].span_id, "4b23de25d1fb6641");
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape, [`Error::InvalidInput`] for an unreadable id.
pub fn parse_tempo_trace(body: &[u8]) -> Result<Vec<Trace>> {
    let decode = |source| Error::Decode {
        what: "Tempo trace",
        source,
    };
    let mut value: Value = serde_json::from_slice(body).map_err(decode)?;
    if let Some(inner) = value.get_mut("trace").map(Value::take) {
        value = inner;
    }
    let data: TracesData = serde_json::from_value(value).map_err(decode)?;
    Ok(group_traces(data.into_spans()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_wrapper_and_empty() {
        let body = br#"{"trace":{"resourceSpans":[]},"status":"complete"}"#;
        assert!(parse_tempo_trace(body).unwrap().is_empty());
        assert!(parse_tempo_search(br#"{"traces":[]}"#).unwrap().is_empty());
        assert!(matches!(
            parse_tempo_search(br#"{"traces":"x"}"#),
            Err(Error::Decode { .. })
        ));
    }
}
