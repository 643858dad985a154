//! Credentials in clear text: a token or password sent over `http://` to anything but this
//! machine can be read on the way. The clients warn once per client when they are set up that
//! way (plain HTTP to loopback, as in a port-forward or a local agent, is fine).

/// The warning for sending `what` (a token, a password) to `url` in clear text, if it is one:
/// `http://` to a host that is not loopback.
///
/// ```
/// use mesh_core::cleartext::cleartext_warning;
/// assert!(cleartext_warning("http://consul.internal:8500", "the Consul token").is_some());
/// assert!(cleartext_warning("http://10.0.0.7:9090", "a password").is_some());
/// assert!(cleartext_warning("https://consul.internal:8501", "the Consul token").is_none());
/// assert!(cleartext_warning("http://127.0.0.1:8500", "the Consul token").is_none());
/// assert!(cleartext_warning("http://[::1]:8500", "the Consul token").is_none());
/// assert!(cleartext_warning("http://localhost:9090", "a password").is_none());
/// ```
pub fn cleartext_warning(url: &str, what: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        let shown = host_port;
        format!("{what} is sent in clear text to http://{shown}, which is not this machine: use https://")
    })
}
