//! Reading the kubeconfig as kubectl does: `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`; the context is `--context`, else the current one.

use mesh::kube::kube::config::{KubeConfigOptions, Kubeconfig};

use crate::cli::Cli;

/// The kubeconfig file's contents, when there is one to read.
pub(crate) fn read(cli: &Cli) -> Option<Kubeconfig> {
    match &cli.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok(),
        None => Kubeconfig::read().ok(),
    }
}

/// The namespace the chosen context names, if any.
pub(crate) fn context_namespace(cli: &Cli) -> Option<String> {
    let config = read(cli)?;
    let name = cli.context.clone().or_else(|| config.current_context.clone())?;
    config
        .contexts
        .iter()
        .find(|c| c.name == name)?
        .context
        .as_ref()?
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
}

/// The client configuration for `--kubeconfig`/`--context` (kube's defaults when neither is given:
/// `KUBECONFIG`, `~/.kube/config`, then in-cluster).
pub(crate) async fn client_config(cli: &Cli) -> Result<mesh::kube::kube::Config, String> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    match &cli.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
            mesh::kube::kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| e.to_string())
        }
        None if cli.context.is_some() => mesh::kube::kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| e.to_string()),
        None => mesh::kube::kube::Config::infer().await.map_err(|e| e.to_string()),
    }
}
