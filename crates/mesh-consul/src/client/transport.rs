//! The reqwest client: TLS settings, the token header and retries with backoff.

use std::{net::ToSocketAddrs, time::Duration};

use mesh_core::body_cap::CappedBody;
use reqwest::{Certificate, Identity, Method, StatusCode};
use serde_json::Value;
use url::Url;

use super::{ClientConfig, Error};

/// Answers that are deterministic validation failures, not outages: never retried.
const VALIDATION_MARKERS: [&str; 6] = [
    "does not permit advanced routing",
    "does not have a subset named",
    "invalid config entry",
    "Bad request",
    "protocol",
    "discovery chain",
];

/// A request body.
#[derive(Debug, Clone, Copy)]
pub(super) enum Payload<'a> {
    /// JSON.
    Json(&'a Value),
    /// Raw bytes (KV values).
    Raw(&'a [u8]),
}

/// How one request is sent, besides its method, path and body.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Call {
    /// This request's timeout instead of the client's (a blocking query waits longer).
    pub(super) timeout: Option<Duration>,
    /// A 404 is an answer (with its `X-Consul-Index`), not an error.
    pub(super) not_found_is_an_answer: bool,
}

/// A 2xx answer, or a 404 when the call takes it as one.
#[derive(Debug)]
pub(super) struct Answer {
    /// The body.
    pub(super) body: Vec<u8>,
    /// `X-Consul-Index`, when the agent sent it.
    pub(super) index: Option<u64>,
    /// False for a 404.
    pub(super) found: bool,
}

#[derive(Debug)]
pub(super) struct Transport {
    http: reqwest::Client,
    base: Url,
}

impl Transport {
    pub(super) fn new(config: &ClientConfig) -> Result<Self, Error> {
        let cfg_err = |what: &str, reason: String| Error::Config {
            what: what.into(),
            reason,
        };
        let read = |what: &str, path: &std::path::Path| {
            std::fs::read(path).map_err(|e| cfg_err(what, format!("{}: {e}", path.display())))
        };
        if config.token.as_ref().is_some_and(|t| !t.is_empty())
            && let Some(warning) =
                mesh_core::cleartext::cleartext_warning(config.address.as_str(), "the Consul token")
        {
            tracing::warn!("{warning}");
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(super::USER_AGENT)
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(10)));
        let mut roots = Vec::new();
        if let Some(path) = &config.ca_cert {
            let pem = read("CONSUL_CACERT", path)?;
            roots.extend(
                Certificate::from_pem_bundle(&pem).map_err(|e| cfg_err("CONSUL_CACERT", e.to_string()))?,
            );
        }
        if let Some(dir) = &config.ca_path {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| cfg_err("CONSUL_CAPATH", format!("{}: {e}", dir.display())))?;
            let mut files: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for file in files {
                let pem = read("CONSUL_CAPATH", &file)?;
                roots.extend(
                    Certificate::from_pem_bundle(&pem)
                        .map_err(|e| cfg_err("CONSUL_CAPATH", e.to_string()))?,
                );
            }
        }
        if !roots.is_empty() {
            builder = builder.tls_certs_only(roots);
        }
        match (&config.client_cert, &config.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read("CONSUL_CLIENT_CERT", cert)?;
                pem.push(b'\n');
                pem.extend(read("CONSUL_CLIENT_KEY", key)?);
                let id =
                    Identity::from_pem(&pem).map_err(|e| cfg_err("CONSUL_CLIENT_CERT", e.to_string()))?;
                builder = builder.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(cfg_err(
                    "CONSUL_CLIENT_CERT",
                    "CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together".into(),
                ));
            }
        }
        if !config.tls_verify {
            tracing::warn!("CONSUL_HTTP_SSL_VERIFY=false: the Consul agent's certificate is not verified");
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let mut base = config.address.clone();
        if let Some(name) = &config.tls_server_name
            && base.host_str() != Some(name.as_str())
        {
            // Connect to the configured address, but verify (and send SNI for) the server name.
            let host = base.host_str().unwrap_or_default().to_owned();
            let port = base.port_or_known_default().unwrap_or(8501);
            let addrs: Vec<_> = (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| cfg_err("CONSUL_HTTP_ADDR", format!("{host}: {e}")))?
                .collect();
            builder = builder.resolve_to_addrs(name, &addrs);
            base.set_host(Some(name))
                .map_err(|e| cfg_err("CONSUL_TLS_SERVER_NAME", e.to_string()))?;
        }
        let http = builder
            .build()
            .map_err(|e| cfg_err("TLS", format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { http, base })
    }

    /// Sends a request as `call` asks, retrying 429, 5xx (except validation failures) and
    /// timeouts with exponential backoff. Returns a 2xx answer's body and `X-Consul-Index` (or a
    /// 404's, when `call` takes it as an answer).
    pub(super) async fn exchange(
        &self,
        config: &ClientConfig,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<Payload<'_>>,
        call: Call,
    ) -> Result<Answer, Error> {
        let mut url = self.base.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method.clone(), url.clone());
            if let Some(timeout) = call.timeout {
                req = req.timeout(timeout);
            }
            if let Some(token) = config.token.as_ref().filter(|t| !t.is_empty()) {
                req = req.header("X-Consul-Token", token.expose());
            }
            match body {
                Some(Payload::Json(v)) => req = req.json(v),
                Some(Payload::Raw(bytes)) => req = req.body(bytes.to_vec()),
                None => {}
            }
            let err = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let index = resp
                        .headers()
                        .get("X-Consul-Index")
                        .and_then(|v| v.to_str().ok()?.trim().parse().ok());
                    match read_capped(resp, config.max_body, &method, path).await {
                        Ok(body) if status.is_success() => {
                            return Ok(Answer {
                                body,
                                index,
                                found: true,
                            });
                        }
                        Ok(body) if status == StatusCode::NOT_FOUND && call.not_found_is_an_answer => {
                            return Ok(Answer {
                                body,
                                index,
                                found: false,
                            });
                        }
                        Ok(bytes) => status_error(
                            status,
                            &method,
                            path,
                            &bytes,
                            config.token.as_ref().map(|t| t.expose()),
                        ),
                        Err(e) => e,
                    }
                }
                Err(source) => Error::Transport {
                    method: method.to_string(),
                    path: path.to_owned(),
                    source,
                },
            };
            if attempt >= config.max_retries || !retryable(&err) {
                return Err(err);
            }
            let wait = config.backoff.saturating_mul(2u32.saturating_pow(attempt));
            tracing::debug!(%method, path, attempt, ?wait, error = %err, "retrying Consul request");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

fn status_error(status: StatusCode, method: &Method, path: &str, body: &[u8], token: Option<&str>) -> Error {
    let mut message = scrub(&String::from_utf8_lossy(body), token);
    if message.len() > 512 {
        let mut cut = 512;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    Error::Status {
        status: status.as_u16(),
        method: method.to_string(),
        path: path.to_owned(),
        message,
    }
}

/// An answer's text with our token, and any `Authorization`/`X-Consul-Token` value a proxy or
/// server echoed, replaced by `<redacted>`: error bodies end up on stderr and in logs.
fn scrub(text: &str, token: Option<&str>) -> String {
    let mut out = text.trim().to_owned();
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        out = out.replace(token, "<redacted>");
    }
    for header in ["authorization", "x-consul-token"] {
        let mut search = 0;
        while let Some(at) = out[search..]
            .to_ascii_lowercase()
            .find(header)
            .map(|i| i + search)
        {
            let value_start = at + header.len();
            let rest = &out[value_start..];
            let skip = rest
                .find(|c: char| c != ':' && c != '"' && c != ' ' && c != '=')
                .unwrap_or(rest.len());
            let value_len = rest[skip..]
                .find(['"', ',', '\n', '}'])
                .unwrap_or(rest.len() - skip);
            if value_len == 0 {
                search = value_start;
                continue;
            }
            let (from, to) = (value_start + skip, value_start + skip + value_len);
            out.replace_range(from..to, "<redacted>");
            search = from + "<redacted>".len();
        }
    }
    out
}

/// Reads a response body chunk by chunk, refusing it as soon as it passes `max_body`.
async fn read_capped(
    mut resp: reqwest::Response,
    max_body: usize,
    method: &reqwest::Method,
    path: &str,
) -> Result<Vec<u8>, Error> {
    let too_large = |source| Error::TooLarge {
        method: method.to_string(),
        path: path.to_owned(),
        source,
    };
    let transport = |source| Error::Transport {
        method: method.to_string(),
        path: path.to_owned(),
        source,
    };
    let mut body = CappedBody::new(max_body, resp.content_length()).map_err(too_large)?;
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        body.push(&chunk).map_err(too_large)?;
    }
    Ok(body.into_bytes())
}

/// 429, 5xx other than a validation failure, and timeouts or connection failures.
pub(super) fn retryable(err: &Error) -> bool {
    match err {
        Error::Status { status: 429, .. } => true,
        Error::Status {
            status: 500, message, ..
        } => !VALIDATION_MARKERS.iter().any(|m| message.contains(m)),
        Error::Status { status, .. } => (500..600).contains(status),
        // A refused connection sent nothing and may be retried. A timeout is not retried: a
        // silent agent stays silent (4 x 30 s once), and a write that timed out may have landed
        // (the backend reads back instead).
        Error::Transport { source, .. } => source.is_connect() && !source.is_timeout(),
        _ => false,
    }
}

#[cfg(test)]
mod scrub_tests {
    use super::scrub;

    #[test]
    fn echoed_tokens_and_auth_headers_are_redacted() {
        let token = "b1gs3cret-token";
        let echoed = format!(
            r#"{{"error": "ACL not found for {token}", "headers": {{"X-Consul-Token": "{token}", "Authorization": "Bearer xyz.abc"}}}}"#
        );
        let out = scrub(&echoed, Some(token));
        assert!(!out.contains(token), "{out}");
        assert!(!out.contains("xyz.abc"), "{out}");
        assert!(out.contains("ACL not found for <redacted>"), "{out}");
        assert_eq!(scrub("plain 500 error", Some(token)), "plain 500 error");
    }
}
