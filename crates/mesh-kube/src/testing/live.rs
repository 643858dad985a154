//! The client of the live suites: the real API server that `MESH_E2E_KUBECONFIG` names (the
//! project's test environment, `cargo xtask testenv up`, prints it).

/// A client for the kubeconfig `MESH_E2E_KUBECONFIG` names, on its current context.
///
/// # Panics
/// When the variable is unset or the kubeconfig is unusable: a live test cannot go on without it.
pub async fn live_client() -> kube::Client {
    let path = std::env::var("MESH_E2E_KUBECONFIG")
        .expect("MESH_E2E_KUBECONFIG names a kubeconfig file (eval \"$(cargo xtask testenv up)\")");
    let kubeconfig = kube::config::Kubeconfig::read_from(path).expect("readable kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
            .await
            .expect("usable kubeconfig");
    crate::client_from(config).expect("client")
}
