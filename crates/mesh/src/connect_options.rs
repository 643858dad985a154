//! What [`Mesh::connect_with`](crate::Mesh::connect_with) takes beyond the mesh kind: each
//! backend's settings, the documented emulation opt-ins among them, and the telemetry sources.

/// Settings for [`Mesh::connect_with`](crate::Mesh::connect_with). The default is what
/// [`Mesh::connect`](crate::Mesh::connect) uses: every backend's defaults, no emulation, telemetry
/// from the environment.
///
/// ```
/// # #[cfg(all(feature = "istio", feature = "consul"))] {
/// let mut options = mesh::ConnectOptions::default();
/// options.istio = mesh::istio::Config::default().trust_domain("example.org");
/// options.consul_lua_abort_emulation = true; // documented opt-in: CE abort faults through Lua
/// # async fn connect(options: &mesh::ConnectOptions) -> mesh::Result<mesh::Mesh> {
/// mesh::Mesh::connect_with(mesh::MeshKind::Consul, options).await
/// # }
/// # let _ = connect(&options);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Istio: root namespace, trust domain, re-plans on conflict.
    #[cfg(feature = "istio")]
    pub istio: mesh_istio::Config,
    /// Linkerd: trust domain, route flavour, and the opt-ins (the fault error backend that
    /// emulates aborts, SMI TrafficSplit, ServiceProfile retries).
    #[cfg(feature = "linkerd")]
    pub linkerd: mesh_linkerd::Config,
    /// Consul: opt into emulating abort faults with a `builtin/lua` extension where Consul has no
    /// fault-injection extension (CE, Enterprise before 1.18).
    #[cfg(feature = "consul")]
    pub consul_lua_abort_emulation: bool,
    /// Consul: the version and edition to plan for instead of asking the agent.
    #[cfg(feature = "consul")]
    pub consul_version: Option<mesh_consul::ConsulVersion>,
    /// Telemetry sources; `None` reads them from the environment (`PROMETHEUS_URL`, ...).
    #[cfg(feature = "telemetry")]
    pub telemetry: Option<mesh_telemetry::Telemetry>,
}

impl ConnectOptions {
    /// The Consul backend these options describe, from the `CONSUL_HTTP_*` variables: the
    /// version and edition to plan for, and the Lua abort opt-in.
    ///
    /// # Errors
    /// [`mesh_core::Error::NotConfigured`] for a bad address, token file or certificate.
    #[cfg(feature = "consul")]
    pub fn consul_backend(&self) -> mesh_core::Result<mesh_consul::ConsulBackend> {
        let config = mesh_consul::client::ClientConfig::from_env()?;
        let mut client = mesh_consul::client::ConsulClient::new(config)?;
        if let Some(version) = self.consul_version {
            client = client.with_version(version);
        }
        Ok(mesh_consul::ConsulBackend::new(client).emulate_abort_with_lua(self.consul_lua_abort_emulation))
    }
}
