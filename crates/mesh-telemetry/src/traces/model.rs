//! Shared normalization: span kind, HTTP status and error flags from tags, and grouping spans into
//! traces.

use std::collections::BTreeMap;

use mesh_core::{Span, Trace};
use serde_json::Value;

/// A span's kind, written into the attributes as `span.kind` (`server`, `client`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// OTLP's integer (1..=5) or enum name (`SPAN_KIND_SERVER`).
    pub(crate) fn from_otlp(v: &Value) -> Self {
        match v {
            Value::Number(n) => match n.as_u64() {
                Some(1) => Self::Internal,
                Some(2) => Self::Server,
                Some(3) => Self::Client,
                Some(4) => Self::Producer,
                Some(5) => Self::Consumer,
                _ => Self::Unspecified,
            },
            Value::String(s) => Self::from_name(s.trim_start_matches("SPAN_KIND_")),
            _ => Self::Unspecified,
        }
    }

    /// Zipkin's `CLIENT`/`SERVER`/..., Jaeger's `span.kind` tag, case-insensitive.
    pub(crate) fn from_name(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "internal" => Self::Internal,
            "server" => Self::Server,
            "client" => Self::Client,
            "producer" => Self::Producer,
            "consumer" => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    fn as_str(self) -> Option<&'static str> {
        match self {
            Self::Unspecified => None,
            Self::Internal => Some("internal"),
            Self::Server => Some("server"),
            Self::Client => Some("client"),
            Self::Producer => Some("producer"),
            Self::Consumer => Some("consumer"),
        }
    }
}

/// Fills what every backend derives the same way: `span.kind`, the HTTP status
/// (`http.status_code` or `http.response.status_code`) and the error flag (tag `error` true,
/// `otel.status_code=ERROR`, or a 5xx status).
pub(crate) fn finish_span(mut span: Span, kind: SpanKind) -> Span {
    if let Some(k) = kind.as_str() {
        span.attributes
            .entry("span.kind".to_owned())
            .or_insert_with(|| k.to_owned());
    }
    span.http_status = ["http.status_code", "http.response.status_code"]
        .iter()
        .find_map(|k| span.attributes.get(*k))
        .and_then(|v| v.trim().parse::<u16>().ok());
    let tag_error = span
        .attributes
        .get("error")
        .is_some_and(|v| !v.eq_ignore_ascii_case("false"));
    let otel_error = span
        .attributes
        .get("otel.status_code")
        .is_some_and(|v| v.eq_ignore_ascii_case("error"));
    let server_error = span.http_status.is_some_and(|s| s >= 500);
    span.error = span.error || tag_error || otel_error || server_error;
    span
}

/// Groups spans by trace id (first-seen order of traces), sorts each trace's spans by start time
/// (ties by span id), and drops exact duplicates (Jaeger's fixtures repeat a span).
pub(crate) fn group_traces(spans: Vec<Span>) -> Vec<Trace> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in spans {
        let list = by_id.entry(span.trace_id.clone()).or_insert_with(|| {
            order.push(span.trace_id.clone());
            Vec::new()
        });
        if !list.contains(&span) {
            list.push(span);
        }
    }
    order
        .into_iter()
        .filter_map(|id| {
            let mut spans = by_id.remove(&id)?;
            spans.sort_by(|a, b| {
                (a.start_unix_nanos, &a.span_id, &a.service).cmp(&(
                    b.start_unix_nanos,
                    &b.span_id,
                    &b.service,
                ))
            });
            Some(Trace { trace_id: id, spans })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str, start: u64) -> Span {
        Span {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: None,
            service: "s".into(),
            operation: "op".into(),
            start_unix_nanos: start,
            duration_nanos: 1,
            error: false,
            http_status: None,
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn grouping_orders_and_dedups() {
        let t = group_traces(vec![
            span("b", "2", 5),
            span("a", "1", 1),
            span("b", "1", 3),
            span("b", "2", 5),
        ]);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].trace_id, "b");
        assert_eq!(
            t[0].spans.iter().map(|s| s.span_id.as_str()).collect::<Vec<_>>(),
            ["1", "2"]
        );
    }

    #[test]
    fn error_sources() {
        let mut s = span("a", "1", 0);
        s.attributes.insert("error".into(), "false".into());
        assert!(!finish_span(s.clone(), SpanKind::Server).error);
        s.attributes.insert("http.status_code".into(), "503".into());
        let f = finish_span(s.clone(), SpanKind::Server);
        assert!(f.error);
        assert_eq!(f.http_status, Some(503));
        assert_eq!(f.attributes["span.kind"], "server");
        let mut s = span("a", "1", 0);
        s.attributes.insert("error".into(), String::new()); // Zipkin: tag present, empty value
        assert!(finish_span(s, SpanKind::Unspecified).error);
    }
}
