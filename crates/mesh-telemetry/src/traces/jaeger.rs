//! Jaeger: the api_v3 HTTP gateway (OTLP/JSON) first, the legacy internal `/api/traces` optionally.

use std::collections::BTreeMap;

use mesh_core::{Span, Trace};
use serde::Deserialize;
use serde_json::Value;

use super::{
    ids::{optional_span_id, span_id, trace_id},
    model::{SpanKind, finish_span, group_traces},
    otlp::{TracesData, as_u64},
};
use crate::{Error, Result, error::snippet};

/// `{"result": {"resourceSpans": [...]}}`, the grpc-gateway wrapper of api_v3 trace responses.
#[derive(Debug, Deserialize)]
struct V3Envelope {
    #[serde(default)]
    result: Option<TracesData>,
}

/// Parses an api_v3 `GET /api/v3/traces` or `/api/v3/traces/{id}` body into traces.
///
/// All matching traces arrive merged in one `resourceSpans` list; they are grouped by trace id.
///
/// ```
/// let body = br#"{"result":{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{},"spans":[
///   {"kind":2,"name":"foobar","spanId":"0000000000000002","status":{"code":2},
///    "traceId":"00000000000000000000000000000001"}]}]}]}}"#;
/// let traces = mesh_telemetry::traces::parse_jaeger_v3(body).unwrap();
/// assert_eq!(traces[0].spans[0].operation, "foobar");
/// assert!(traces[0].spans[0].error);
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape, [`Error::InvalidInput`] for an unreadable id.
pub fn parse_jaeger_v3(body: &[u8]) -> Result<Vec<Trace>> {
    let env: V3Envelope = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Jaeger api_v3 traces",
        source,
    })?;
    Ok(group_traces(env.result.unwrap_or_default().into_spans()?))
}

/// The api_v3 error body `{"error":{"httpCode":404,"message":"No traces found"}}`, as a message.
pub(crate) fn v3_error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message").and_then(Value::as_str).map(str::to_owned)
        })
        .unwrap_or_else(|| snippet(&String::from_utf8_lossy(body)))
}

/// One trace of Jaeger's `GET /api/v3/trace-summaries` (Jaeger 2.19+): a cheap listing without
/// spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSummary {
    /// 32 lower-case hex digits.
    pub trace_id: String,
    /// The root span's service.
    pub root_service: String,
    /// The root span's operation.
    pub root_operation: String,
    /// Earliest span start, Unix nanoseconds.
    pub start_unix_nanos: u64,
    /// Latest span end minus earliest start, nanoseconds.
    pub duration_nanos: u64,
    /// Number of spans.
    pub span_count: u64,
    /// Number of spans with an error status.
    pub error_span_count: u64,
}

/// Parses `{"summaries":[{traceId, rootServiceName, rootOperationName, minStartTimeUnixNano,
/// maxEndTimeUnixNano, spanCount, errorSpanCount, services}]}`.
///
/// ```
/// let body = br#"{"summaries":[{"traceId":"00000000000000000000000000000001","rootServiceName":"frontend",
///   "rootOperationName":"HTTP GET /","minStartTimeUnixNano":"1000","maxEndTimeUnixNano":"1500",
///   "spanCount":2,"errorSpanCount":1}]}"#;
/// let s = mesh_telemetry::traces::parse_jaeger_v3_summaries(body).unwrap();
/// assert_eq!((s[0].duration_nanos, s[0].error_span_count), (500, 1));
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape, [`Error::InvalidInput`] for an unreadable id.
pub fn parse_jaeger_v3_summaries(body: &[u8]) -> Result<Vec<TraceSummary>> {
    let v: Value = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Jaeger api_v3 trace summaries",
        source,
    })?;
    let list = v
        .get("summaries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    list.iter()
        .map(|s| {
            let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let num = |k: &str| s.get(k).and_then(as_u64).unwrap_or(0);
            let start = num("minStartTimeUnixNano");
            Ok(TraceSummary {
                trace_id: trace_id(&text("traceId"))?,
                root_service: text("rootServiceName"),
                root_operation: text("rootOperationName"),
                start_unix_nanos: start,
                duration_nanos: num("maxEndTimeUnixNano").saturating_sub(start),
                span_count: num("spanCount"),
                error_span_count: num("errorSpanCount"),
            })
        })
        .collect()
}

/// The legacy envelope `{"data": [...], "errors": [...]}` of `/api/traces`.
#[derive(Debug, Deserialize)]
struct V1Envelope {
    #[serde(default)]
    data: Option<Vec<V1Trace>>,
    #[serde(default)]
    errors: Option<Vec<V1Error>>,
}

#[derive(Debug, Deserialize)]
struct V1Error {
    #[serde(default)]
    code: Option<u16>,
    #[serde(default)]
    msg: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Trace {
    #[serde(default)]
    spans: Vec<V1Span>,
    #[serde(default)]
    processes: BTreeMap<String, V1Process>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Process {
    #[serde(default)]
    service_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Span {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    #[serde(default, rename = "parentSpanID")]
    parent_span_id: Option<String>,
    #[serde(default)]
    operation_name: String,
    #[serde(default)]
    references: Vec<V1Ref>,
    #[serde(default)]
    start_time: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    tags: Vec<V1Tag>,
    #[serde(default, rename = "processID")]
    process_id: String,
    #[serde(default)]
    process: Option<V1Process>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct V1Ref {
    #[serde(default)]
    ref_type: String,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Deserialize)]
struct V1Tag {
    key: String,
    #[serde(default)]
    value: Value,
}

/// Parses a legacy `/api/traces` (search) or `/api/traces/{id}` envelope, or one bare trace
/// object (`{"traceID":..,"spans":[..],"processes":{..}}`).
///
/// Times are microseconds; the parent is the `CHILD_OF` reference within the same trace (else
/// the first reference, else the deprecated `parentSpanID`); the service comes from
/// `processes[processID]`.
///
/// ```
/// let body = br#"{"data":[{"traceID":"1","spans":[{"traceID":"1","spanID":"2",
///   "operationName":"GET","references":[],"startTime":10,"duration":5,
///   "tags":[{"key":"http.status_code","type":"int64","value":404}],"processID":"p1"}],
///   "processes":{"p1":{"serviceName":"web"}}}],"errors":null}"#;
/// let t = mesh_telemetry::traces::parse_jaeger_v1(body).unwrap();
/// assert_eq!(t[0].spans[0].service, "web");
/// assert_eq!(t[0].spans[0].start_unix_nanos, 10_000);
/// assert_eq!(t[0].spans[0].http_status, Some(404));
/// ```
///
/// # Errors
/// [`Error::Http`] when the envelope carries `errors` (with the first error's code and message),
/// [`Error::Decode`] for another shape.
pub fn parse_jaeger_v1(body: &[u8]) -> Result<Vec<Trace>> {
    let value: Value = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Jaeger traces",
        source,
    })?;
    let decode = |source| Error::Decode {
        what: "Jaeger traces",
        source,
    };
    let traces: Vec<V1Trace> = if value.get("spans").is_some() {
        vec![serde_json::from_value(value).map_err(decode)?]
    } else {
        let env: V1Envelope = serde_json::from_value(value).map_err(decode)?;
        if let Some(e) = env.errors.as_ref().and_then(|e| e.first()) {
            return Err(Error::Http {
                service: "Jaeger",
                http_status: e.code.unwrap_or(500),
                message: e.msg.clone(),
            });
        }
        env.data.unwrap_or_default()
    };
    let mut spans = Vec::new();
    for t in traces {
        for s in t.spans {
            let service = s
                .process
                .as_ref()
                .or_else(|| t.processes.get(&s.process_id))
                .map_or_else(|| "unknown".to_owned(), |p| p.service_name.clone());
            spans.push(v1_span(s, service)?);
        }
    }
    Ok(group_traces(spans))
}

fn v1_span(s: V1Span, service: String) -> Result<Span> {
    let tid = trace_id(&s.trace_id)?;
    let parent = s
        .references
        .iter()
        .find(|r| r.ref_type == "CHILD_OF" && trace_id(&r.trace_id).ok().as_ref() == Some(&tid))
        .or_else(|| s.references.first())
        .map(|r| r.span_id.as_str())
        .or(s.parent_span_id.as_deref());
    let attributes: BTreeMap<String, String> = s
        .tags
        .iter()
        .map(|t| {
            let v = match &t.value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (t.key.clone(), v)
        })
        .collect();
    let kind = attributes
        .get("span.kind")
        .map_or(SpanKind::Unspecified, |k| SpanKind::from_name(k));
    let span = Span {
        trace_id: tid,
        span_id: span_id(&s.span_id)?,
        parent_span_id: optional_span_id(parent),
        service,
        operation: s.operation_name,
        start_unix_nanos: s.start_time.saturating_mul(1000),
        duration_nanos: s.duration.saturating_mul(1000),
        error: false,
        http_status: None,
        attributes,
    };
    Ok(finish_span(span, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_errors_envelope() {
        let body = br#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}"#;
        let e = parse_jaeger_v1(body).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Jaeger answered HTTP 400: parameter 'service' is required"
        );
    }

    #[test]
    fn v3_error_message_is_extracted() {
        let body = br#"{"error":{"httpCode":404,"message":"No traces found"}}"#;
        assert_eq!(v3_error_message(body), "No traces found");
        assert_eq!(v3_error_message(b"plain"), "plain");
    }
}
