//! `CONSUL_HTTP_SSL_VERIFY` and `CONSUL_HTTP_SSL` are read as the Consul CLI reads them: an
//! unknown value is an error, never "verification off".

use mesh_consul::client::ClientConfig;

fn with(name: &'static str, value: &'static str) -> Result<ClientConfig, String> {
    ClientConfig::from_lookup(move |k| (k == name).then(|| value.to_owned())).map_err(|e| e.to_string())
}

#[test]
fn unknown_verify_values_are_errors_not_off() {
    for v in ["on", "y", "ture", "no", "off", "yes", "2"] {
        let err = with("CONSUL_HTTP_SSL_VERIFY", v).expect_err(v);
        assert!(err.contains("CONSUL_HTTP_SSL_VERIFY"), "{err}");
    }
}

#[test]
fn the_consul_clis_booleans_are_accepted() {
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        assert!(with("CONSUL_HTTP_SSL_VERIFY", v).unwrap().tls_verify, "{v}");
    }
    for v in ["0", "f", "F", "FALSE", "false", "False"] {
        assert!(!with("CONSUL_HTTP_SSL_VERIFY", v).unwrap().tls_verify, "{v}");
    }
    assert!(with("CONSUL_HTTP_SSL", "maybe").is_err());
    assert!(
        with("CONSUL_HTTP_SSL_VERIFY", "").unwrap().tls_verify,
        "unset verifies"
    );
}
