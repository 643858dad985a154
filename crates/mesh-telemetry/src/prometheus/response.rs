//! The Prometheus HTTP API response envelope and its result types, parsed without copies of the
//! sample values.
//!
//! Shapes (`/api/v1/query`, `/api/v1/query_range`): `{"status":"success","data":{"resultType":..,
//! "result":..},"warnings":[..]}` or `{"status":"error","errorType":..,"error":..}`. Sample values are
//! JSON strings (`"1.5"`, `"NaN"`, `"+Inf"`) and are parsed with Rust's exact float parser.

use std::{collections::BTreeMap, fmt};

use serde::{
    Deserialize, Deserializer,
    de::{self, SeqAccess, Visitor},
};

use crate::{Error, Result, error::snippet};

/// The labels of one series, sorted by name.
pub type Labels = BTreeMap<String, String>;

/// One sample: a Unix timestamp in seconds and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Unix seconds, with millisecond precision.
    pub time: f64,
    /// The value; may be NaN or infinite.
    pub value: f64,
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VectorSample {
    /// Its labels.
    pub metric: Labels,
    /// Its sample.
    pub value: Sample,
}

/// One series of a range result (matrix).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RangeSeries {
    /// Its labels.
    pub metric: Labels,
    /// Its samples, oldest first.
    pub values: Vec<Sample>,
}

/// The `data` of a successful query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// An instant vector: one sample per series.
    Vector(Vec<VectorSample>),
    /// A range result: many samples per series.
    Matrix(Vec<RangeSeries>),
    /// A single number.
    Scalar(Sample),
    /// A string (rare; `time` and value as text).
    String(f64, String),
}

impl QueryResult {
    /// The instant vector, or an error naming what came instead.
    ///
    /// # Errors
    /// [`Error::Unexpected`] for any other result type.
    pub fn into_vector(self) -> Result<Vec<VectorSample>> {
        match self {
            Self::Vector(v) => Ok(v),
            other => Err(Error::Unexpected {
                what: "result type",
                reason: format!("expected a vector, got {}", other.kind()),
            }),
        }
    }

    /// The range series, or an error naming what came instead.
    ///
    /// # Errors
    /// [`Error::Unexpected`] for any other result type.
    pub fn into_matrix(self) -> Result<Vec<RangeSeries>> {
        match self {
            Self::Matrix(m) => Ok(m),
            other => Err(Error::Unexpected {
                what: "result type",
                reason: format!("expected a matrix, got {}", other.kind()),
            }),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Vector(_) => "vector",
            Self::Matrix(_) => "matrix",
            Self::Scalar(_) => "scalar",
            Self::String(..) => "string",
        }
    }
}

/// A successful response: the result and any warnings the server attached.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResponse {
    /// The result.
    pub result: QueryResult,
    /// Warnings (`warnings`), for example about partial data.
    pub warnings: Vec<String>,
}

/// Parses a Prometheus API body, success or error envelope.
///
/// `http_status` is only used to label errors; a body saying `"status":"error"` is an error whatever
/// the status.
///
/// ```
/// use mesh_telemetry::prometheus::{parse_response, QueryResult};
/// let ok = br#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"le":"+Inf"},"value":[1704067500,"+Inf"]}]}}"#;
/// let r = parse_response(ok, 200).unwrap();
/// let QueryResult::Vector(v) = r.result else { panic!() };
/// assert_eq!(v[0].metric["le"], "+Inf");
/// assert_eq!(v[0].value.value, f64::INFINITY);
///
/// let err = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
/// let e = parse_response(err, 400).unwrap_err();
/// assert_eq!(e.to_string(), "Prometheus rejected the query (bad_data, HTTP 400): parse error");
/// ```
///
/// # Errors
/// [`Error::Prometheus`] for the error envelope, [`Error::Http`] for a non-JSON error body (a proxy
/// page), [`Error::Decode`] for a malformed success body.
pub fn parse_response(body: &[u8], http_status: u16) -> Result<QueryResponse> {
    let envelope: Envelope = match serde_json::from_slice(body) {
        Ok(e) => e,
        Err(source) => {
            if (200..300).contains(&http_status) {
                return Err(Error::Decode {
                    what: "Prometheus query",
                    source,
                });
            }
            return Err(Error::Http {
                service: "Prometheus",
                http_status,
                message: snippet(&String::from_utf8_lossy(body)),
            });
        }
    };
    match (envelope.status.as_str(), envelope.data) {
        ("success", Some(data)) => Ok(QueryResponse {
            result: data.into_result(),
            warnings: envelope.warnings,
        }),
        ("success", None) => Err(Error::Unexpected {
            what: "Prometheus response",
            reason: "status success without data".into(),
        }),
        _ => Err(Error::Prometheus {
            http_status,
            error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            message: envelope.error.unwrap_or_default(),
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorSample>),
    Matrix(Vec<RangeSeries>),
    Scalar(Sample),
    String(StringSample),
}

#[derive(Deserialize)]
struct StringSample(f64, String);

impl Data {
    fn into_result(self) -> QueryResult {
        match self {
            Self::Vector(v) => QueryResult::Vector(v),
            Self::Matrix(m) => QueryResult::Matrix(m),
            Self::Scalar(s) => QueryResult::Scalar(s),
            Self::String(StringSample(t, s)) => QueryResult::String(t, s),
        }
    }
}

/// Parses a Prometheus sample value: decimal, exponent, `NaN`, `+Inf`, `-Inf`.
///
/// ```
/// use mesh_telemetry::prometheus::parse_value;
/// assert_eq!(parse_value("3.8000000000000003"), Some(3.8000000000000003));
/// assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
/// assert_eq!(parse_value("-Inf"), Some(f64::NEG_INFINITY));
/// assert!(parse_value("NaN").unwrap().is_nan());
/// assert_eq!(parse_value("1e-07"), Some(1e-7));
/// assert_eq!(parse_value("fast"), None);
/// ```
pub fn parse_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(SampleVisitor)
    }
}

struct SampleVisitor;

impl<'de> Visitor<'de> for SampleVisitor {
    type Value = Sample;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a [unix_seconds, \"value\"] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample, A::Error> {
        let time: f64 = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element::<ValueStr>()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?
            .0;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(Sample { time, value })
    }
}

/// A sample value string, parsed while borrowed (no allocation per sample).
struct ValueStr(f64);

impl<'de> Deserialize<'de> for ValueStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ValueStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sample value as a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ValueStr, E> {
                parse_value(s)
                    .map(ValueStr)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_matrix_and_warnings() {
        let body = br#"{"status":"success","warnings":["partial"],"data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"up","job":"a"},"values":[[1704069000,"1"],[1704069000.123,"NaN"]]}]}}"#;
        let r = parse_response(body, 200).unwrap();
        assert_eq!(r.warnings, ["partial"]);
        let m = r.result.into_matrix().unwrap();
        assert_eq!(m[0].metric["job"], "a");
        assert_eq!(m[0].values[1].time, 1_704_069_000.123);
        assert!(m[0].values[1].value.is_nan());
    }

    #[test]
    fn parses_scalar_and_empty_vector() {
        let r = parse_response(
            br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#,
            200,
        );
        assert_eq!(
            r.unwrap().result,
            QueryResult::Scalar(Sample {
                time: 1.0,
                value: 2.0
            })
        );
        let r = parse_response(
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            200,
        );
        assert!(r.unwrap().result.into_vector().unwrap().is_empty());
    }

    #[test]
    fn wrong_result_type_is_named() {
        let r = parse_response(
            br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#,
            200,
        );
        let e = r.unwrap().result.into_vector().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected result type: expected a vector, got scalar"
        );
    }

    #[test]
    fn execution_error_envelope_keeps_type_and_status() {
        let body =
            br#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#;
        match parse_response(body, 422).unwrap_err() {
            Error::Prometheus {
                http_status,
                error_type,
                message,
            } => {
                assert_eq!((http_status, error_type.as_str()), (422, "execution"));
                assert!(message.contains("many-to-many"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_json_error_body_is_an_http_error() {
        let e = parse_response(b"<html>502 Bad Gateway</html>", 502).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Prometheus answered HTTP 502: <html>502 Bad Gateway</html>"
        );
        assert!(e.is_transient());
        let e = parse_response(b"{not json", 200).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }));
    }

    #[test]
    fn bad_sample_value_is_a_decode_error() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"fast"]}]}}"#;
        assert!(matches!(
            parse_response(body, 200).unwrap_err(),
            Error::Decode { .. }
        ));
    }
}
