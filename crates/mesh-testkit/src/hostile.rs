//! Hostile HTTP servers on loopback, for the clients' size caps and deadlines: one that answers
//! with a body that never ends (or declares one of a terabyte), and one that accepts connections
//! and never answers; and a plain one that gives the same answer to every request. Each serves from background threads until the process exits, and each
//! connection gives up by itself after a minute, so nothing outlives a test run for long.
//!
//! ```
//! let server = mesh_testkit::HostileServer::endless_body(false);
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! ```

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// How long one hostile connection lasts at most.
const LIFETIME: Duration = Duration::from_secs(60);

/// What the server does with each request.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// `200 OK` and zeros until the client hangs up; `Content-Length: 1 TiB` when `declared`.
    EndlessBody { declared: bool },
    /// Reads the request, then says nothing.
    Silent,
    /// `200 OK` with the same JSON body every time.
    Canned(&'static str),
}

/// A hostile server on a free loopback port.
#[derive(Debug)]
pub struct HostileServer {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl HostileServer {
    /// Answers every request `200 OK` with a body that never ends; with `declare_length`, it
    /// announces a 1 TiB `Content-Length` first.
    pub fn endless_body(declare_length: bool) -> Self {
        Self::start(Behaviour::EndlessBody {
            declared: declare_length,
        })
    }

    /// Accepts connections, reads the request, and never answers.
    pub fn silent() -> Self {
        Self::start(Behaviour::Silent)
    }

    /// Answers every request `200 OK` with `body` (JSON), then closes the connection: a
    /// stand-in for a server whose answer does not matter, only that one comes.
    pub fn canned(body: &'static str) -> Self {
        Self::start(Behaviour::Canned(body))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many connections clients have opened so far (one per attempt for most clients).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
        let port = listener.local_addr().expect("a bound address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                thread::spawn(move || serve(stream, behaviour));
            }
        });
        Self { port, connections }
    }
}

fn serve(mut stream: TcpStream, behaviour: Behaviour) {
    let started = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // Read the request head; the body, if any, is ignored.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    match behaviour {
        Behaviour::Silent => {
            while started.elapsed() < LIFETIME {
                thread::sleep(Duration::from_millis(100));
            }
        }
        Behaviour::Canned(body) => {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
        }
        Behaviour::EndlessBody { declared } => {
            let length = if declared {
                "Content-Length: 1099511627776\r\n"
            } else {
                "Connection: close\r\n"
            };
            let header = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n");
            if stream.write_all(header.as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            while started.elapsed() < LIFETIME && stream.write_all(&chunk).is_ok() {}
        }
    }
}
