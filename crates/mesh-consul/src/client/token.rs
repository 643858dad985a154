//! The ACL token, which never appears in logs, `Debug` output or errors.

use std::fmt;

/// A Consul ACL token. Its `Debug` is redacted and it has no `Display`; the only way out is the
/// `X-Consul-Token` header.
///
/// ```
/// use mesh_consul::client::Token;
/// let t = Token::new("s3cr3t-token");
/// assert_eq!(format!("{t:?}"), "Token(<redacted>)");
/// assert!(!format!("{t:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming surrounding whitespace (token files end with a newline).
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into().trim().to_owned())
    }

    /// True when the token is empty (then no header is sent).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}
