//! The backends' settings and opt-ins from the command line, as one [`ConnectOptions`] used for
//! rendering and for the live control plane alike.

use mesh::{ConnectOptions, Error, Result};

use crate::cli::Cli;

/// `--trust-domain`, `--app-label`, `--version-label`, `--istio-root-namespace`, `--linkerd-*`,
/// `--consul-*`.
///
/// # Errors
/// [`Error::InvalidInput`] for a malformed `--linkerd-fault-backend` or `--consul-version`.
pub(crate) fn from_cli(cli: &Cli) -> Result<ConnectOptions> {
    let mut istio = mesh::istio::Config::default();
    let mut linkerd = mesh::linkerd::Config::default()
        .smi(cli.linkerd_smi)
        .service_profile_retries(cli.linkerd_service_profile_retries);
    if let Some(td) = &cli.trust_domain {
        if td.is_empty() || td.contains(['/', ' ']) {
            return Err(Error::invalid(
                "trust-domain",
                format!("{td:?} is not a trust domain"),
            ));
        }
        istio = istio.trust_domain(td.clone());
        linkerd = linkerd.trust_domain(td.clone());
    }
    if let Some(ns) = &cli.istio_root_namespace {
        mesh::Namespace::new(ns.clone()).map_err(|e| e.in_field("istio-root-namespace"))?;
        istio = istio.root_namespace(ns.clone());
    }
    if let Some(backend) = &cli.linkerd_fault_backend {
        let bad = || {
            Error::invalid(
                "linkerd-fault-backend",
                format!("{backend:?} is not SERVICE:PORT (a Service name and a port 1-65535)"),
            )
        };
        let (service, port) = backend.rsplit_once(':').ok_or_else(bad)?;
        mesh::ServiceName::new(service).map_err(|_| bad())?;
        let port: u16 = port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?;
        linkerd = linkerd.fault_error_backend(service, port);
    }
    let consul_version = cli
        .consul_version
        .as_deref()
        .map(|v| {
            v.parse::<mesh::consul::ConsulVersion>()
                .map_err(|e| Error::invalid("consul-version", e))
        })
        .transpose()?;
    let mut options = ConnectOptions::default();
    options.istio = istio;
    options.linkerd = linkerd;
    options.consul_lua_abort_emulation = cli.consul_lua_faults;
    options.consul_version = consul_version;
    if cli.app_label.is_some() || cli.version_label.is_some() {
        let defaults = mesh::SelectorLabels::default();
        let keys = mesh::SelectorLabels::new(
            cli.app_label.as_deref().unwrap_or(defaults.app()),
            cli.version_label.as_deref().unwrap_or(defaults.version()),
        )?;
        options = options.with_selector_labels(keys);
    }
    Ok(options)
}
