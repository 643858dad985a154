//! Every Kubernetes request names the project in its User-Agent, as the Consul client does, so
//! that the API server's audit log and request metrics attribute it.

use std::{
    io::{Read, Write},
    net::TcpListener,
    sync::mpsc,
};

#[tokio::test(flavor = "current_thread")]
async fn requests_carry_the_projects_user_agent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
            head.push(byte[0]);
        }
        let body = r#"{"major":"1","minor":"33","gitVersion":"v1.33.13","gitCommit":"","gitTreeState":"","buildDate":"","goVersion":"","compiler":"","platform":""}"#;
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        tx.send(String::from_utf8_lossy(&head).to_lowercase()).unwrap();
    });
    let client = mesh_kube::client_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let _ = client.apiserver_version().await;
    let head = rx.recv().unwrap();
    let expected = format!("user-agent: {}", mesh_kube::USER_AGENT.to_lowercase());
    assert!(head.contains(&expected), "{head}");
    assert!(
        mesh_kube::USER_AGENT.starts_with("mesh/0."),
        "{}",
        mesh_kube::USER_AGENT
    );
}

/// The engine's [`mesh_kube::RetryPolicy`] is the one retry policy of a client built by
/// `client_from`: kube's own retry layer (`Config::default_retry`, on by default in kube 5:
/// `RetryPolicy::server_retry()`, 15 retries of 429/503/504) is turned off. With both, every
/// attempt of the engine was itself retried underneath, unseen: a server answering 503 to
/// everything received 18 requests for an engine allowed 2 (measured before the fix), and each
/// attempt ran into the request timeout instead of failing with the server's answer.
#[tokio::test(flavor = "current_thread")]
async fn a_client_from_client_from_retries_only_under_the_engines_policy() {
    use std::{
        sync::Arc,
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            counted.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503}"#;
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let client = mesh_kube::client_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let policy = mesh_kube::RetryPolicy {
        max_attempts: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        request_timeout: Duration::from_secs(2),
        ..mesh_kube::RetryPolicy::default()
    };
    let engine = mesh_kube::KubeEngine::new(client, mesh_core::MeshKind::Istio, "mesh").with_retry(policy);
    let config_map = mesh_core::ObjectRef::new("v1", "ConfigMap", Some("prod"), "settings");
    let err = engine.get(&config_map).await.unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 2, "{err}");
    assert!(format!("{:?}", err).contains("503"), "{err:?}");
}
