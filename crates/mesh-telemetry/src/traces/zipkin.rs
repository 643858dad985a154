//! Zipkin API v2: `GET /api/v2/traces` (`[[span]]`) and `GET /api/v2/trace/{id}` (`[span]`).

use std::collections::BTreeMap;

use mesh_core::{Span, Trace};
use serde::Deserialize;

use super::{
    ids::{optional_span_id, span_id, trace_id},
    model::{SpanKind, finish_span, group_traces},
};
use crate::{Error, Result};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    timestamp: Option<u64>,
    #[serde(default)]
    duration: Option<u64>,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
    #[serde(default)]
    remote_endpoint: Option<Endpoint>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    shared: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Body {
    Traces(Vec<Vec<ZipkinSpan>>),
    Trace(Vec<ZipkinSpan>),
    Span(Box<ZipkinSpan>),
}

/// Parses a Zipkin v2 body: a list of traces, one trace (a list of spans) or a single span.
///
/// Times are microseconds. A span without `localEndpoint.serviceName` (Envoy's) gets the service
/// `unknown`. The two halves of an RPC that share one `id` (the server half has `shared: true`)
/// are both kept, each with its own service; the shared half is marked `zipkin.shared=true`.
///
/// ```
/// let body = br#"[[{"traceId":"1e223ff1f80f1c69","id":"bf396325699c84bf","kind":"SERVER",
///   "name":"get","timestamp":1470150004071068,"duration":99411,
///   "localEndpoint":{"serviceName":"servicea"}}]]"#;
/// let t = mesh_telemetry::traces::parse_zipkin(body).unwrap();
/// assert_eq!(t[0].trace_id, "00000000000000001e223ff1f80f1c69");
/// assert_eq!(t[0].spans[0].duration_nanos, 99_411_000);
/// assert_eq!(t[0].spans[0].attributes["span.kind"], "server");
/// ```
///
/// # Errors
/// [`Error::Decode`] for another shape, [`Error::InvalidInput`] for an unreadable id.
pub fn parse_zipkin(body: &[u8]) -> Result<Vec<Trace>> {
    let parsed: Body = serde_json::from_slice(body).map_err(|source| Error::Decode {
        what: "Zipkin v2 traces",
        source,
    })?;
    let spans: Vec<ZipkinSpan> = match parsed {
        Body::Traces(t) => t.into_iter().flatten().collect(),
        Body::Trace(t) => t,
        Body::Span(s) => vec![*s],
    };
    let spans = spans.into_iter().map(normalize).collect::<Result<Vec<_>>>()?;
    Ok(group_traces(spans))
}

fn normalize(z: ZipkinSpan) -> Result<Span> {
    let mut attributes = z.tags;
    if z.shared {
        attributes.insert("zipkin.shared".to_owned(), "true".to_owned());
    }
    if let Some(remote) = z.remote_endpoint.and_then(|e| e.service_name) {
        attributes.entry("peer.service".to_owned()).or_insert(remote);
    }
    let kind = z
        .kind
        .as_deref()
        .map_or(SpanKind::Unspecified, SpanKind::from_name);
    let span = Span {
        trace_id: trace_id(&z.trace_id)?,
        span_id: span_id(&z.id)?,
        parent_span_id: optional_span_id(z.parent_id.as_deref()),
        service: z
            .local_endpoint
            .and_then(|e| e.service_name)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()),
        operation: z.name.unwrap_or_default(),
        start_unix_nanos: z.timestamp.unwrap_or(0).saturating_mul(1000),
        duration_nanos: z.duration.unwrap_or(0).saturating_mul(1000),
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
    fn error_tag_with_message_is_an_error() {
        let body = br#"[{"traceId":"a","id":"b","tags":{"error":"connection reset"}}]"#;
        let t = parse_zipkin(body).unwrap();
        assert!(t[0].spans[0].error);
        assert_eq!(t[0].spans[0].service, "unknown");
    }

    #[test]
    fn empty_list_is_no_traces() {
        assert!(parse_zipkin(b"[]").unwrap().is_empty());
    }
}
