//! What [`Mesh::connect_with`](crate::Mesh::connect_with) takes beyond the mesh kind: each
//! backend's settings, the documented emulation opt-ins among them, and the telemetry sources.

/// Settings for [`Mesh::connect_with`](crate::Mesh::connect_with). The default is what
/// [`Mesh::connect`](crate::Mesh::connect) uses: every backend's defaults, no emulation, telemetry
/// from the environment.
///
/// ```
/// # #[cfg(all(feature = "istio", feature = "consul"))] {
/// let mut options = mesh_handle::ConnectOptions::default();
/// options.istio = mesh_handle::istio::Config::default().trust_domain("example.org");
/// options.consul_lua_abort_emulation = true; // documented opt-in: CE abort faults through Lua
/// # async fn connect(options: &mesh_handle::ConnectOptions) -> mesh_handle::Result<mesh_handle::Mesh> {
/// mesh_handle::Mesh::connect_with(mesh_handle::MeshKind::Consul, options).await
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
    /// Consul: the instance labels (their version key is the metadata key subsets filter on).
    /// Istio and Linkerd carry theirs in their configs; [`ConnectOptions::with_selector_labels`]
    /// sets all three.
    #[cfg(feature = "consul")]
    pub consul_selector_labels: mesh_core::SelectorLabels,
    /// Telemetry sources; `None` reads them from the environment (`PROMETHEUS_URL`, ...).
    #[cfg(feature = "telemetry")]
    pub telemetry: Option<mesh_telemetry::Telemetry>,
}

impl ConnectOptions {
    /// Sets the instance label keys of a service and a version on every backend.
    ///
    /// ```
    /// let keys = mesh_handle::SelectorLabels::new("app.kubernetes.io/name", "app.kubernetes.io/version").unwrap();
    /// let options = mesh_handle::ConnectOptions::default().with_selector_labels(keys.clone());
    /// # #[cfg(feature = "istio")]
    /// assert_eq!(options.istio.selector_labels, keys);
    /// ```
    #[must_use]
    #[cfg_attr(
        not(any(feature = "istio", feature = "linkerd", feature = "consul")),
        allow(unused_mut)
    )]
    pub fn with_selector_labels(mut self, keys: mesh_core::SelectorLabels) -> Self {
        #[cfg(feature = "istio")]
        {
            self.istio = self.istio.selector_labels(keys.clone());
        }
        #[cfg(feature = "linkerd")]
        {
            self.linkerd = self.linkerd.selector_labels(keys.clone());
        }
        #[cfg(feature = "consul")]
        {
            self.consul_selector_labels = keys.clone();
        }
        let _ = keys;
        self
    }

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
        Ok(mesh_consul::ConsulBackend::new(client)
            .emulate_abort_with_lua(self.consul_lua_abort_emulation)
            .selector_labels(self.consul_selector_labels.clone()))
    }
}
