//! OTLP/JSON (`resourceSpans`), as Jaeger's api_v3 and Tempo return it, normalized into spans.
//!
//! Differences handled: Jaeger writes hex ids, Tempo base64; 64-bit integers arrive as strings
//! (`"startTimeUnixNano": "1706678909209712000"`, `intValue: "42"`) or, from some encoders, as
//! numbers; Tempo's legacy wrapper names the list `batches`.

use std::collections::BTreeMap;

use mesh_core::Span;
use serde::Deserialize;
use serde_json::Value;

use super::{
    ids::{optional_span_id, span_id, trace_id},
    model::{SpanKind, finish_span},
};
use crate::Result;

/// A `TracesData` document: `resourceSpans` (or Tempo's legacy `batches`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TracesData {
    #[serde(default, alias = "batches")]
    pub(crate) resource_spans: Vec<ResourceSpans>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceSpans {
    #[serde(default)]
    resource: Resource,
    #[serde(default, alias = "instrumentationLibrarySpans")]
    scope_spans: Vec<ScopeSpans>,
}

#[derive(Debug, Default, Deserialize)]
struct Resource {
    #[serde(default)]
    attributes: Vec<KeyValue>,
}

#[derive(Debug, Deserialize)]
struct ScopeSpans {
    #[serde(default)]
    spans: Vec<OtlpSpan>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OtlpSpan {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    parent_span_id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: Option<Value>,
    #[serde(default)]
    start_time_unix_nano: Option<Value>,
    #[serde(default)]
    end_time_unix_nano: Option<Value>,
    #[serde(default)]
    attributes: Vec<KeyValue>,
    #[serde(default)]
    status: Option<Status>,
}

#[derive(Debug, Deserialize)]
struct Status {
    #[serde(default)]
    code: Option<Value>,
}

/// An attribute: a key and an OTLP `AnyValue`, kept as raw JSON.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: Value,
}

impl TracesData {
    /// Every span of the document, normalized.
    pub(crate) fn into_spans(self) -> Result<Vec<Span>> {
        let mut out = Vec::new();
        for rs in self.resource_spans {
            let service = rs
                .resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .map(|kv| any_value_string(&kv.value))
                .unwrap_or_else(|| "unknown".to_owned());
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                out.push(span.normalize(&service)?);
            }
        }
        Ok(out)
    }
}

impl OtlpSpan {
    fn normalize(self, service: &str) -> Result<Span> {
        let start = self.start_time_unix_nano.as_ref().and_then(as_u64).unwrap_or(0);
        let end = self.end_time_unix_nano.as_ref().and_then(as_u64).unwrap_or(start);
        let attributes: BTreeMap<String, String> = self
            .attributes
            .iter()
            .map(|kv| (kv.key.clone(), any_value_string(&kv.value)))
            .collect();
        let kind = self
            .kind
            .as_ref()
            .map_or(SpanKind::Unspecified, SpanKind::from_otlp);
        let status_error = self
            .status
            .as_ref()
            .and_then(|s| s.code.as_ref())
            .is_some_and(|c| as_u64(c) == Some(2) || c.as_str() == Some("STATUS_CODE_ERROR"));
        let span = Span {
            trace_id: trace_id(&self.trace_id)?,
            span_id: span_id(&self.span_id)?,
            parent_span_id: optional_span_id(self.parent_span_id.as_deref()),
            service: service.to_owned(),
            operation: self.name,
            start_unix_nanos: start,
            duration_nanos: end.saturating_sub(start),
            error: status_error,
            http_status: None,
            attributes,
        };
        Ok(finish_span(span, kind))
    }
}

/// A JSON number or decimal string as `u64`.
pub(crate) fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// An OTLP `AnyValue` as a display string: strings as is, numbers and booleans in decimal, bytes as
/// their base64, arrays and maps as compact JSON of their plain values.
pub(crate) fn any_value_string(v: &Value) -> String {
    match plain(v) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn plain(v: &Value) -> Value {
    let Value::Object(map) = v else {
        return v.clone();
    };
    if let Some(s) = map.get("stringValue") {
        return s.clone();
    }
    if let Some(i) = map.get("intValue") {
        return match i {
            Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| i.clone()),
            other => other.clone(),
        };
    }
    if let Some(x) = map.get("doubleValue").or_else(|| map.get("boolValue")) {
        return x.clone();
    }
    if let Some(b) = map.get("bytesValue") {
        return b.clone();
    }
    if let Some(values) = map
        .get("arrayValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        return Value::Array(values.iter().map(plain).collect());
    }
    if let Some(values) = map
        .get("kvlistValue")
        .and_then(|a| a.get("values"))
        .and_then(Value::as_array)
    {
        let obj = values
            .iter()
            .filter_map(|kv| Some((kv.get("key")?.as_str()?.to_owned(), plain(kv.get("value")?))))
            .collect();
        return Value::Object(obj);
    }
    if map.is_empty() {
        return Value::String(String::new());
    }
    v.clone()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn any_values() {
        assert_eq!(any_value_string(&json!({"stringValue": "a"})), "a");
        assert_eq!(any_value_string(&json!({"intValue": "164005"})), "164005");
        assert_eq!(any_value_string(&json!({"intValue": 7})), "7");
        assert_eq!(any_value_string(&json!({"doubleValue": 1.5})), "1.5");
        assert_eq!(any_value_string(&json!({"boolValue": true})), "true");
        assert_eq!(
            any_value_string(&json!({"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "1"}]}})),
            r#"["x",1]"#
        );
        assert_eq!(
            any_value_string(
                &json!({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}})
            ),
            r#"{"k":false}"#
        );
        assert_eq!(any_value_string(&json!({})), "");
    }

    #[test]
    fn status_error_and_kind() {
        let doc: TracesData = serde_json::from_value(json!({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
            "scopeSpans": [{"spans": [{
                "traceId": "00000000000000000000000000000001", "spanId": "0000000000000002",
                "parentSpanId": "", "name": "GET /", "kind": 3,
                "startTimeUnixNano": "1000", "endTimeUnixNano": 1500,
                "attributes": [{"key": "http.response.status_code", "value": {"intValue": "503"}}],
                "status": {"code": 2}
            }]}]
        }]}))
        .unwrap();
        let spans = doc.into_spans().unwrap();
        assert_eq!(spans[0].service, "cart");
        assert_eq!(spans[0].duration_nanos, 500);
        assert!(spans[0].error);
        assert_eq!(spans[0].parent_span_id, None);
        assert_eq!(spans[0].http_status, Some(503));
        assert_eq!(spans[0].attributes["span.kind"], "client");
    }
}
