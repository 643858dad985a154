//! Credentials written into a URL (`http://user:secret@prometheus:9090`): taken out of the URL
//! when a client is built and sent as HTTP basic auth, so that no endpoint in an error, a log line
//! or a `Debug` output ever carries them.

use std::fmt;

use url::Url;

/// The user and password a URL carried.
#[derive(Clone)]
pub(crate) struct BasicAuth {
    user: String,
    password: Option<String>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicAuth(<redacted>)")
    }
}

impl BasicAuth {
    /// Removes the userinfo from `url` and returns it, if there was any.
    pub(crate) fn take_from(url: &mut Url) -> Option<Self> {
        if url.username().is_empty() && url.password().is_none() {
            return None;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let auth = Self {
            user: decode(url.username()),
            password: url.password().map(decode),
        };
        // Both setters only fail for URLs that cannot have credentials, which had none.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some(auth)
    }

    /// Adds the credentials to a request.
    pub(crate) fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(&self.user, self.password.as_deref())
    }
}

/// Warns (once, when a client is built) that `component`'s credentials would cross the network in
/// clear text: `http://` to a host that is not this machine.
pub(crate) fn warn_if_cleartext(base: &url::Url, component: &str, has_credentials: bool) {
    if !has_credentials {
        return;
    }
    let what = format!("the {component} credentials");
    if let Some(warning) = mesh_core::cleartext::cleartext_warning(base.as_str(), &what) {
        tracing::warn!("{warning}");
    }
}

#[cfg(test)]
mod tests {
    use super::BasicAuth;

    #[test]
    fn userinfo_leaves_the_url_and_never_prints() {
        let mut url: url::Url = "http://ops:s%40cret@prom.example:9090/".parse().unwrap();
        let auth = BasicAuth::take_from(&mut url).unwrap();
        assert_eq!(url.as_str(), "http://prom.example:9090/");
        assert_eq!(auth.password.as_deref(), Some("s@cret"));
        assert!(!format!("{auth:?}").contains("cret"));
        let mut plain: url::Url = "http://prom.example:9090/".parse().unwrap();
        assert!(BasicAuth::take_from(&mut plain).is_none());
    }
}
