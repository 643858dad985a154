//! A recording HTTP/1.1 proxy on loopback, in front of a real server (the Consul agent of the test
//! environment): it records every request with the answer's status and body, and can lose the
//! answer to a chosen request after the server has handled it, which a real server cannot do on
//! demand.
//!
//! Each request is forwarded on a fresh connection with `Connection: close`, so the answer ends
//! where the server closes it; the client gets the server's bytes unchanged. Plain HTTP only.
//!
//! ```no_run
//! let proxy = mesh_testkit::RecordingProxy::start("127.0.0.1:8500");
//! // point the client at proxy.url(); later:
//! let writes: Vec<_> = proxy.exchanges().into_iter().filter(|e| e.method == "PUT").collect();
//! # let _ = writes;
//! ```

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    sync::{Arc, Mutex},
    thread,
    time::Duration,
};

/// One request through the proxy and the server's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The path with its query.
    pub target: String,
    /// The request body, as text.
    pub body: String,
    /// The server's status code (0 when the server gave none).
    pub status: u16,
    /// The server's answer body, as text (de-chunked).
    pub answer: String,
    /// True when the proxy lost the answer on purpose (the client saw the connection close).
    pub answer_lost: bool,
}

#[derive(Default)]
struct Shared {
    log: Vec<Exchange>,
    /// Lose the answer to the next request with this method whose target and body contain these.
    lose_next: Option<(String, String, String)>,
}

/// A recording proxy on a free loopback port.
#[derive(Clone)]
pub struct RecordingProxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl std::fmt::Debug for RecordingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProxy")
            .field("port", &self.port)
            .finish()
    }
}

impl RecordingProxy {
    /// Starts a proxy to `upstream` (`HOST:PORT`).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (upstream, state) = (upstream.to_owned(), shared.clone());
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (upstream, state) = (upstream.clone(), state.clone());
                thread::spawn(move || serve(client, &upstream, &state));
            }
        });
        Self { port, shared }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every exchange so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.lock().log.clone()
    }

    /// Forgets the recorded exchanges.
    pub fn clear(&self) {
        self.lock().log.clear();
    }

    /// The next request whose method equals `method`, whose target contains `target_part` and
    /// whose body contains `body_part` reaches the server, which handles it, but its answer is
    /// lost: the client's connection is closed without a response.
    pub fn lose_answer_of_next(&self, method: &str, target_part: &str, body_part: &str) {
        self.lock().lose_next = Some((method.to_owned(), target_part.to_owned(), body_part.to_owned()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A request as read from the client.
struct Request {
    method: String,
    target: String,
    head: Vec<String>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end().to_owned();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let key = k.trim().to_ascii_lowercase();
            if key == "content-length" {
                length = v.trim().parse().ok()?;
            }
            if key == "connection" || key == "keep-alive" {
                continue;
            }
        }
        head.push(h);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        head,
        body,
    })
}

fn serve(client: TcpStream, upstream: &str, shared: &Mutex<Shared>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(client);
    // One request per connection: the server closes after its answer (`Connection: close`), and
    // so does the proxy, so the client opens a new connection for the next request.
    let Some(req) = read_request(&mut reader) else {
        return;
    };
    let Ok(raw) = forward(upstream, &req) else { return };
    let (status, answer) = parse_answer(&raw);
    let lose = {
        let mut s = shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let lose = s.lose_next.as_ref().is_some_and(|(m, t, b)| {
            *m == req.method
                && req.target.contains(t.as_str())
                && String::from_utf8_lossy(&req.body).contains(b.as_str())
        });
        if lose {
            s.lose_next = None;
        }
        s.log.push(Exchange {
            method: req.method.clone(),
            target: req.target.clone(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            status,
            answer,
            answer_lost: lose,
        });
        lose
    };
    if !lose {
        let _ = writer.write_all(&raw);
    }
    let _ = writer.shutdown(std::net::Shutdown::Both);
}

/// Sends `req` upstream on a fresh connection and returns the raw answer.
fn forward(upstream: &str, req: &Request) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream)?;
    server.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for h in &req.head {
        if !h.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(h);
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    ));
    server.write_all(out.as_bytes())?;
    server.write_all(&req.body)?;
    let mut raw = Vec::new();
    server.read_to_end(&mut raw)?;
    Ok(raw)
}

/// The status and the (de-chunked) body of a raw HTTP/1.1 answer.
fn parse_answer(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, String::new());
    };
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    if !chunked {
        return (status, body.to_owned());
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    (status, out)
}

#[cfg(test)]
mod tests {
    use super::parse_answer;

    #[test]
    fn answers_are_parsed_plain_and_chunked() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue";
        assert_eq!(parse_answer(plain), (200, "true".to_owned()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfalse\r\n0\r\n\r\n";
        assert_eq!(parse_answer(chunked), (200, "false".to_owned()));
    }
}
