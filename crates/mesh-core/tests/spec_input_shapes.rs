//! Input as the spec writes it: every user-facing type rejects unknown fields, and the spec's own
//! shapes (nested authorization rules, camelCase names, milliseconds) mean what they say.

use std::time::Duration;

use mesh_core::{AuthorizationPolicy, CircuitBreaker, Fault, RetryPolicy, ServiceDefinition};

/// The spec's "mTLS and Authorization" example, verbatim apart from JSON quoting.
const SPEC_AUTHZ: &str = r#"{
  "name": "api-auth",
  "namespace": "production",
  "action": "ALLOW",
  "rules": [{
    "from": [{ "source": { "principals": ["cluster.local/ns/production/sa/frontend"] } }],
    "to": [{ "operation": { "methods": ["GET", "POST"] } }]
  }]
}"#;

#[test]
fn the_specs_nested_authz_example_keeps_its_principal_and_methods() {
    let p: AuthorizationPolicy = serde_json::from_str(SPEC_AUTHZ).unwrap();
    p.validate().unwrap();
    let rule = &p.rules[0];
    assert_eq!(rule.from.len(), 1);
    assert_eq!(rule.from[0].principals[0].to_string(), "production/frontend");
    let methods: Vec<String> = rule.to[0].methods.iter().map(|m| m.as_str().to_owned()).collect();
    assert_eq!(methods, ["GET", "POST"]);
}

#[test]
fn a_misspelt_authz_key_is_an_error_not_an_allow_all_rule() {
    for bad in [
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"from":[{"sources":{"principals":["p/f"]}}]}]}"#,
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"from":[{"principal":["p/f"]}]}]}"#,
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"to":[{"operation":{"verbs":["GET"]}}]}]}"#,
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"when":[{"key":"x"}]}]}"#,
        r#"{"name":"a","namespace":"p","action":"ALLOW","rule":[]}"#,
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"from":[{"source":{"principals":["p/f"]},"namespaces":["q"]}]}]}"#,
    ] {
        assert!(
            serde_json::from_str::<AuthorizationPolicy>(bad).is_err(),
            "accepted: {bad}"
        );
    }
}

#[test]
fn an_empty_source_or_target_entry_is_refused_by_validate() {
    let p: AuthorizationPolicy = serde_json::from_str(
        r#"{"name":"a","namespace":"p","action":"ALLOW","rules":[{"from":[{"source":{}}]}]}"#,
    )
    .unwrap();
    let err = p.validate().unwrap_err().to_string();
    assert!(err.contains("rules[0].from[0]"), "{err}");
}

#[test]
fn the_specs_circuit_breaker_reads_milliseconds_and_refuses_ambiguous_numbers() {
    let spec = r#"{"maxConnections":100,"timeout":5000,"maxRetries":3,"consecutiveErrors":5,
        "interval":30,"baseEjectionTime":30,"maxEjectionPercent":50}"#;
    let err = serde_json::from_str::<CircuitBreaker>(spec)
        .unwrap_err()
        .to_string();
    assert!(err.contains("ambiguous") && err.contains("\"30s\""), "{err}");
    let written = spec
        .replace("\"interval\":30", "\"interval\":\"30s\"")
        .replace("\"baseEjectionTime\":30", "\"baseEjectionTime\":\"30s\"");
    let cb: CircuitBreaker = serde_json::from_str(&written).unwrap();
    assert_eq!(cb.max_connections, Some(100));
    assert_eq!(cb.timeout, Some(Duration::from_millis(5000)));
    assert_eq!(cb.interval, Some(Duration::from_secs(30)));
    assert_eq!(cb.max_ejection_percent.map(|p| p.value()), Some(50.0));
}

#[test]
fn unknown_fields_are_errors_in_every_input_type() {
    assert!(serde_json::from_str::<CircuitBreaker>(r#"{"maxConnection":1}"#).is_err());
    assert!(
        serde_json::from_str::<RetryPolicy>(r#"{"attempts":3,"retryOn":["5xx"],"perTry":"1s"}"#).is_err()
    );
    assert!(serde_json::from_str::<Fault>(r#"{"type":"delay","percent":10,"duration":"3s","x":1}"#).is_err());
    assert!(
        serde_json::from_str::<ServiceDefinition>(
            r#"{"name":"a","namespace":"b","port":80,"protocol":"http","metadta":{}}"#
        )
        .is_err()
    );
}

#[test]
fn a_fault_delay_in_milliseconds_means_milliseconds() {
    let f: Fault = serde_json::from_str(r#"{"type":"delay","percent":10,"duration":3000}"#).unwrap();
    assert_eq!(
        f,
        Fault::Delay {
            percent: 10.0.try_into().unwrap(),
            duration: Duration::from_secs(3)
        }
    );
    for bad in ["-5", "1.5"] {
        let body = format!(r#"{{"type":"delay","percent":10,"duration":{bad}}}"#);
        assert!(serde_json::from_str::<Fault>(&body).is_err(), "{bad}");
    }
}
