//! Building a Kubernetes client whose URL carries no credentials.
//!
//! A kubeconfig's `server: https://user:password@host` puts the password in the cluster URL, and
//! kube-client logs that URL on every request at debug level. The credentials are moved to the
//! client's basic-auth settings first, so no log line, error or `Debug` output holds them.

use kube::config::Config;

/// A client for `config`, with any userinfo of the cluster URL turned into basic auth.
///
/// ```
/// let mut config = kube::Config::new("https://ops:s3cret@127.0.0.1:6443".parse().unwrap());
/// config = mesh_kube::without_url_credentials(config);
/// assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
/// assert_eq!(config.auth_info.username.as_deref(), Some("ops"));
/// ```
pub fn without_url_credentials(mut config: Config) -> Config {
    let Some(authority) = config.cluster_url.authority().cloned() else {
        return config;
    };
    let Some((userinfo, host)) = authority.as_str().rsplit_once('@') else {
        return config;
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (userinfo.to_owned(), None),
    };
    let mut parts = config.cluster_url.clone().into_parts();
    let Ok(host) = host.parse() else {
        return config;
    };
    parts.authority = Some(host);
    let Ok(url) = http::Uri::from_parts(parts) else {
        return config;
    };
    config.cluster_url = url;
    if config.auth_info.username.is_none() && config.auth_info.password.is_none() {
        config.auth_info.username = Some(user);
        config.auth_info.password = password.map(Into::into);
    }
    config
}

/// The User-Agent of every Kubernetes request the project sends (`mesh/0.1.0 (mesh-kube)`).
pub const USER_AGENT: &str = concat!("mesh/", env!("CARGO_PKG_VERSION"), " (mesh-kube)");

/// [`kube::Client::try_from`] after [`without_url_credentials`], sending [`USER_AGENT`] unless
/// the configuration sets its own, and without kube's own retry layer
/// (`Config::default_retry`): the engine retries under its [`RetryPolicy`](crate::RetryPolicy),
/// which sees every attempt (the lost-answer read-back needs to know whether one may have
/// landed) and bounds them in number and time. With both, each of the engine's attempts was
/// retried up to 15 times underneath (kube's `RetryPolicy::server_retry`), unseen.
///
/// # Errors
/// As `kube::Client::try_from`.
/// Warns when the configuration would send a token or password in clear text (`http://` to a
/// host that is not this machine).
pub fn client_from(config: Config) -> Result<kube::Client, kube::Error> {
    let mut config = without_url_credentials(config);
    // One retry policy, the engine's: kube 5 turns its own on by default.
    config.default_retry = false;
    // The API server's audit log and request metrics name the client by its User-Agent.
    if !config
        .headers
        .iter()
        .any(|(name, _)| name == http::header::USER_AGENT)
    {
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(USER_AGENT),
        ));
    }
    let auth = &config.auth_info;
    let has_credentials = auth.token.is_some()
        || auth.token_file.is_some()
        || auth.password.is_some()
        || auth.auth_provider.is_some()
        || auth.exec.is_some();
    if has_credentials
        && let Some(warning) = mesh_core::cleartext::cleartext_warning(
            &config.cluster_url.to_string(),
            "the Kubernetes credentials",
        )
    {
        tracing::warn!("{warning}");
    }
    kube::Client::try_from(config)
}
