//! Plain HTTP/1.0 GETs with the standard library: enough to talk to a local Prometheus without an
//! async runtime.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

/// `GET path_and_query` on `127.0.0.1:port` over HTTP/1.0 (the server closes the connection, no
/// chunking); returns the status code and the body.
///
/// # Errors
/// Connection or I/O errors (10 s read timeout).
pub fn get(port: u16, path_and_query: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_owned()))
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for query parameters.
///
/// ```
/// assert_eq!(mesh_testkit::url_encode("sum(x{a=\"b\"})"), "sum%28x%7Ba%3D%22b%22%7D%29");
/// assert_eq!(mesh_testkit::url_encode("a-b_c.d~"), "a-b_c.d~");
/// ```
pub fn url_encode(s: &str) -> String {
    use std::fmt::Write as _;
    s.bytes().fold(String::new(), |mut out, b| {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
        out
    })
}
