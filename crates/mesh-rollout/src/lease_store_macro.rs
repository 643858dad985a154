//! [`lease_store!`](crate::lease_store): a backend's lease type as a [`LeaseStore`](crate::LeaseStore).

/// Declares `struct $store($leases)` and implements [`LeaseStore`](crate::LeaseStore) for it by
/// forwarding to `$leases`' inherent async methods of the same names (`hold`, `release`,
/// `holders`, `remove`, `remove_expired`), as `mesh_kube::leases::KubeLeases` and
/// `mesh_consul::leases::ConsulLeases` have them. The backends cannot implement the trait
/// themselves (they do not depend on this crate), so `meshctl` and the tests wrap them this way.
///
/// ```
/// use std::time::Duration;
/// struct Leases;
/// impl Leases {
///     async fn hold(&self, _: &str, _: &str, _: Duration) -> mesh::Result<bool> { Ok(true) }
///     async fn release(&self, _: &str, _: &str) -> mesh::Result<()> { Ok(()) }
///     async fn holders(&self, _: &str) -> mesh::Result<Vec<String>> { Ok(Vec::new()) }
///     async fn remove(&self, _: &str, _: &str) -> mesh::Result<()> { Ok(()) }
///     async fn remove_expired(&self, _: &str, _: u32) -> mesh::Result<Vec<String>> { Ok(Vec::new()) }
/// }
/// mesh_rollout::lease_store!(Store, Leases);
/// let _store: std::sync::Arc<dyn mesh_rollout::LeaseStore> = std::sync::Arc::new(Store(Leases));
/// ```
#[macro_export]
macro_rules! lease_store {
    ($store:ident, $leases:ty) => {
        struct $store($leases);

        impl $crate::LeaseStore for $store {
            fn hold<'a>(
                &'a self,
                lease: &'a str,
                holder: &'a str,
                ttl: $crate::__private::Duration,
            ) -> $crate::__private::BoxFuture<'a, $crate::__private::Result<bool>> {
                Box::pin(self.0.hold(lease, holder, ttl))
            }

            fn release<'a>(
                &'a self,
                lease: &'a str,
                holder: &'a str,
            ) -> $crate::__private::BoxFuture<'a, $crate::__private::Result<()>> {
                Box::pin(self.0.release(lease, holder))
            }

            fn holders<'a>(
                &'a self,
                prefix: &'a str,
            ) -> $crate::__private::BoxFuture<'a, $crate::__private::Result<Vec<String>>> {
                Box::pin(self.0.holders(prefix))
            }

            fn remove<'a>(
                &'a self,
                lease: &'a str,
                holder: &'a str,
            ) -> $crate::__private::BoxFuture<'a, $crate::__private::Result<()>> {
                Box::pin(self.0.remove(lease, holder))
            }

            fn remove_expired<'a>(
                &'a self,
                prefix: &'a str,
                ttls: u32,
            ) -> $crate::__private::BoxFuture<'a, $crate::__private::Result<Vec<String>>> {
                Box::pin(self.0.remove_expired(prefix, ttls))
            }
        }
    };
}
