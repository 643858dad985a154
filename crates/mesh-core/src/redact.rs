//! Secrets taken out of text before it is shown: error messages, Events, logs.

/// `text` with nothing secret left in it: a URL keeps its scheme, host and path (no user,
/// password, query or fragment), and the word after `Bearer` or `Basic`, and the value after
/// `token=`, `password=` or `secret=`, become `<redacted>`.
///
/// ```
/// use mesh_core::redact::redact;
/// assert_eq!(
///     redact("error sending request for url (https://u:p@prom:9090/api/v1/query?query=up&token=abc)"),
///     "error sending request for url (https://prom:9090/api/v1/query)"
/// );
/// assert_eq!(redact("Authorization: Bearer eyJh.x.y"), "Authorization: Bearer <redacted>");
/// assert_eq!(redact("\"http://127.0.0.1:1/#s3cret\""), "\"http://127.0.0.1:1/\"");
/// ```
#[must_use]
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut secret_next = false;
    for piece in text.split_inclusive(char::is_whitespace) {
        let word = piece.trim_end();
        let space = &piece[word.len()..];
        if word.is_empty() {
            out.push_str(space);
            continue;
        }
        if secret_next {
            out.push_str("<redacted>");
            out.push_str(space);
            secret_next = false;
            continue;
        }
        out.push_str(&redact_word(word));
        out.push_str(space);
        secret_next = matches!(word.to_ascii_lowercase().as_str(), "bearer" | "basic");
    }
    out
}

/// One whitespace-free word with its URLs' credentials and queries, and secret assignments,
/// taken out.
fn redact_word(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(at) = rest.find("://") {
        // The scheme runs back from `://` over letters, digits, `+`, `-` and `.`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        out.push_str(&rest[..scheme_start]);
        let url_end = rest[at..]
            .find(|c: char| {
                matches!(
                    c,
                    '"' | '\'' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | ',' | ';'
                )
            })
            .map_or(rest.len(), |i| at + i);
        let url = &rest[scheme_start..url_end];
        let (scheme, after) = url.split_at(at - scheme_start + 3);
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, path) = after.split_at(authority_end);
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        out.push_str(scheme);
        out.push_str(host);
        out.push_str(path);
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    for key in ["token=", "password=", "secret="] {
        if let Some(at) = out.to_ascii_lowercase().find(key) {
            let from = at + key.len();
            let to = out[from..]
                .find(['&', ',', ';', '"', '\'', ')'])
                .map_or(out.len(), |i| from + i);
            out.replace_range(from..to, "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn secrets_are_taken_out_of_text() {
        for (text, want) in [
            ("plain 42 requests", "plain 42 requests"),
            ("see http://user@host/p?x=1#f.", "see http://host/p"),
            ("Bearer  t1 x", "Bearer  <redacted> x"),
            ("(http://a:b@h:1)", "(http://h:1)"),
            (
                "two https://x:y@a/ and https://b/?q",
                "two https://a/ and https://b/",
            ),
            ("curl -u x https://h?token=t", "curl -u x https://h"),
            ("api_token=abc&x=1", "api_token=<redacted>&x=1"),
            ("basic dXNlcjpwYXNz ok", "basic <redacted> ok"),
        ] {
            assert_eq!(redact(text), want, "{text}");
        }
    }
}
