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
