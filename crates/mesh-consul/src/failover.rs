//! Consul-only resolver settings that the mesh-wide [`mesh_core::DestinationPolicy`] has no field
//! for: the default subset, the request timeout, failover to other datacenters and a redirect.

use std::{collections::BTreeMap, time::Duration};

use mesh_core::{Error, MeshKind, Result, ServiceId, units::format_duration};

use crate::{
    ConsulBackend,
    model::{ConfigEntry, EntryKind, ResolverRedirect, ServiceResolver},
    translate::consul_namespace,
};

/// Resolver settings to merge into a service's existing service-resolver.
///
/// ```
/// use mesh_consul::failover::ResolverOptions;
/// let opts = ResolverOptions::default()
///     .default_subset("v1")
///     .failover("*", ["dc2", "dc3"]);
/// let r = opts.merge_into(None, "web");
/// assert_eq!(r.default_subset.as_deref(), Some("v1"));
/// assert_eq!(r.failover.unwrap()["*"].datacenters.as_deref(), Some(&["dc2".to_owned(), "dc3".to_owned()][..]));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolverOptions {
    /// `DefaultSubset`.
    pub default_subset: Option<String>,
    /// `RequestTimeout`.
    pub request_timeout: Option<Duration>,
    /// `Failover`: per subset (`*` for all), the datacenters to try in order.
    pub failover: BTreeMap<String, Vec<String>>,
    /// `Redirect`: send every request to this datacenter (and optionally another service).
    pub redirect: Option<(Option<String>, String)>,
}

impl ResolverOptions {
    /// Sets the default subset.
    #[must_use]
    pub fn default_subset(mut self, subset: impl Into<String>) -> Self {
        self.default_subset = Some(subset.into());
        self
    }

    /// Sets the request timeout.
    #[must_use]
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Adds failover of `subset` (`*` for every subset) to `datacenters`, in order.
    #[must_use]
    pub fn failover<S: Into<String>>(
        mut self,
        subset: &str,
        datacenters: impl IntoIterator<Item = S>,
    ) -> Self {
        self.failover.insert(
            subset.to_owned(),
            datacenters.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// Redirects every request to `datacenter` (and `service`, when given).
    #[must_use]
    pub fn redirect(mut self, service: Option<&str>, datacenter: impl Into<String>) -> Self {
        self.redirect = Some((service.map(str::to_owned), datacenter.into()));
        self
    }

    /// The resolver with these settings merged in; every other field of `current` is kept.
    pub fn merge_into(&self, current: Option<ServiceResolver>, name: &str) -> ServiceResolver {
        let mut r = current.unwrap_or_else(|| ServiceResolver {
            name: name.to_owned(),
            ..ServiceResolver::default()
        });
        if let Some(s) = &self.default_subset {
            r.default_subset = Some(s.clone());
        }
        if let Some(t) = self.request_timeout {
            r.request_timeout = Some(format_duration(t));
        }
        if !self.failover.is_empty() {
            let map = r.failover.get_or_insert_with(BTreeMap::new);
            for (subset, dcs) in &self.failover {
                let entry = map.entry(subset.clone()).or_default();
                entry.datacenters = Some(dcs.clone());
            }
        }
        if let Some((service, dc)) = &self.redirect {
            r.redirect = Some(ResolverRedirect {
                service: service.clone(),
                datacenter: Some(dc.clone()),
                ..ResolverRedirect::default()
            });
        }
        r
    }

    /// Checks the options against `resolver`: the default subset and failover subsets must exist,
    /// and a redirect excludes failover and subsets.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming the option.
    pub fn validate(&self, resolver: &ServiceResolver) -> Result<()> {
        if let Some(s) = &self.default_subset
            && !resolver.has_subset(s)
        {
            return Err(Error::invalid(
                "default_subset",
                format!("{s:?} is not a subset of {}", resolver.name),
            ));
        }
        for (subset, dcs) in &self.failover {
            if subset != "*" && !resolver.has_subset(subset) {
                return Err(Error::invalid(
                    "failover",
                    format!("{subset:?} is not a subset of {}", resolver.name),
                ));
            }
            if dcs.is_empty() {
                return Err(Error::invalid("failover", "needs at least one datacenter"));
            }
        }
        if self.redirect.is_some() && (resolver.failover.is_some() || resolver.subsets.is_some()) {
            return Err(Error::invalid(
                "redirect",
                "a redirecting resolver has no subsets or failover",
            ));
        }
        Ok(())
    }
}

impl ConsulBackend {
    /// Merges `options` into the service-resolver of `service` with check-and-set (bounded
    /// re-reads on a lost race). Cross-datacenter failover and redirects need WAN federation or
    /// peering with mesh gateways. Returns whether a write landed.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for options the resolver cannot take, [`Error::Unsupported`] for a
    /// namespace on CE, or a client error.
    pub async fn configure_resolver(&self, service: &ServiceId, options: &ResolverOptions) -> Result<bool> {
        let version = self.client().version().await?;
        let ctx = crate::translate::Context::new(version);
        let ns = consul_namespace(&ctx, &service.namespace, mesh_core::Feature::Subsets)?;
        let name = service.name.as_str();
        let current = self
            .client()
            .get_entry(EntryKind::ServiceResolver, name, ns.as_deref())
            .await?;
        let current = match current {
            Some(ConfigEntry::ServiceResolver(r)) => Some(r),
            Some(other) => {
                return Err(Error::backend(
                    MeshKind::Consul,
                    format!("unexpected {} entry", other.kind()),
                ));
            }
            None => None,
        };
        options.validate(&options.merge_into(current.clone(), name))?;
        let landed = self
            .client()
            .update_entry(EntryKind::ServiceResolver, name, ns.as_deref(), |now| {
                let now = match now {
                    Some(ConfigEntry::ServiceResolver(r)) => Some(r),
                    _ => None,
                };
                let merged = ConfigEntry::ServiceResolver(options.merge_into(now.clone(), name));
                let converged = now.is_some_and(|now| {
                    crate::model::semantic::same_settings(&ConfigEntry::ServiceResolver(now), &merged)
                });
                (!converged).then_some(merged)
            })
            .await?;
        Ok(landed)
    }
}
