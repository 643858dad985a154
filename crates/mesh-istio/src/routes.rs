//! The read-modify-write merge of a VirtualService's `http[]` list.
//!
//! Istio replaces `http[]` as a whole (an atomic list), so the library reads the host's
//! VirtualService, changes only the routes it owns (named `mesh-…`) and writes the whole list back,
//! guarded by `resourceVersion`. User routes are kept byte for byte and in their order.
//!
//! The library's routes form one contiguous section, in this order:
//! 1. rules written by `create_virtual_service` (`mesh-route-<i>` or `mesh-<name>`);
//! 2. fault marker routes (`mesh-fault-<key>`), catch-alls copying the default route's
//!    destinations;
//! 3. the default route `mesh-default`: a catch-all carrying the traffic split, retries and timeout.
//!
//! User routes that came before the first library route stay before the section; all others
//! follow it.

use std::collections::BTreeSet;

use mesh_core::{Fault, FaultId, RetryPolicy, ServiceId, ServiceRoutes, TrafficSplit};
use serde_json::Value;

use crate::{
    objects::{DEFAULT_ROUTE, FAULT_ROUTE_PREFIX, is_owned_route},
    translate::{fault, virtual_service as vs},
};

/// A VirtualService's `http[]`, split into user routes and the library's section.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct HttpRoutes {
    before: Vec<Value>,
    rules: Vec<Value>,
    faults: Vec<Value>,
    default: Option<Value>,
    after: Vec<Value>,
}

impl HttpRoutes {
    /// Splits an `http[]` list.
    pub(crate) fn parse(http: &[Value]) -> Self {
        let mut out = Self::default();
        let mut seen_owned = false;
        for route in http {
            let name = vs::route_name(route).unwrap_or("");
            if is_owned_route(name) {
                seen_owned = true;
                if name == DEFAULT_ROUTE {
                    out.default = Some(route.clone());
                } else if fault::is_fault_route(name) {
                    out.faults.push(route.clone());
                } else {
                    out.rules.push(route.clone());
                }
            } else if seen_owned {
                out.after.push(route.clone());
            } else {
                out.before.push(route.clone());
            }
        }
        out
    }

    /// The merged list: user routes before, the library section, user routes after.
    pub(crate) fn into_vec(self) -> Vec<Value> {
        let mut out = self.before;
        out.extend(self.rules);
        out.extend(self.faults);
        out.extend(self.default);
        out.extend(self.after);
        out
    }

    /// Replaces the library's rules and default route with `routes` (`create_virtual_service`).
    /// A last rule with no match and no name becomes `mesh-default`; other rules are named
    /// `mesh-<name>` or `mesh-route-<i>`. Fault routes stay, now copying the new default route.
    pub(crate) fn replace_rules(&mut self, routes: &ServiceRoutes) {
        let service = &routes.service;
        let mut names = BTreeSet::new();
        self.rules.clear();
        self.default = None;
        let last = routes.rules.len().saturating_sub(1);
        for (i, rule) in routes.rules.iter().enumerate() {
            let catch_all = rule.matches.iter().all(mesh_core::RequestMatch::is_catch_all);
            if i == last && catch_all && rule.name.is_none() {
                self.default = Some(vs::route(DEFAULT_ROUTE, rule, service));
                continue;
            }
            let wanted = match &rule.name {
                Some(n) if n.as_str().starts_with("mesh-") => n.to_string(),
                Some(n) => format!("mesh-{n}"),
                None => format!("mesh-route-{i}"),
            };
            let clash = wanted == DEFAULT_ROUTE || wanted.starts_with(FAULT_ROUTE_PREFIX);
            let name = if clash || names.contains(&wanted) {
                format!("mesh-route-{i}")
            } else {
                wanted
            };
            names.insert(name.clone());
            self.rules.push(vs::route(&name, rule, service));
        }
        self.sync_fault_destinations(service);
    }

    /// Sets the split of the default route, creating it when missing; fault routes follow it.
    pub(crate) fn set_split(&mut self, service: &ServiceId, split: &TrafficSplit) {
        let destinations = vs::destinations(service, split);
        let mut default = self
            .default
            .take()
            .unwrap_or_else(|| serde_json::json!({ "name": DEFAULT_ROUTE }));
        default["route"] = destinations;
        self.default = Some(default);
        self.sync_fault_destinations(service);
    }

    /// Sets retries and timeout on every library rule and on the default route, creating the
    /// default route (to the host, no subset) when missing. Fault routes are left alone: Istio
    /// ignores retries there.
    pub(crate) fn set_retries(&mut self, service: &ServiceId, policy: &RetryPolicy) {
        if self.default.is_none() {
            self.default = Some(serde_json::json!({
                "name": DEFAULT_ROUTE,
                "route": vs::host_destination(service),
            }));
            self.sync_fault_destinations(service);
        }
        for route in self.rules.iter_mut().chain(self.default.as_mut()) {
            vs::set_retries(route, policy);
        }
    }

    /// Adds the marker route of `id` carrying `f`, or updates it if present.
    pub(crate) fn upsert_fault(&mut self, service: &ServiceId, id: &FaultId, f: &Fault) {
        let route = fault::fault_route(id, f, self.default_destinations(service));
        let marker = id.marker();
        match self
            .faults
            .iter_mut()
            .find(|r| vs::route_name(r) == Some(marker.as_str()))
        {
            Some(existing) => *existing = route,
            None => self.faults.push(route),
        }
    }

    /// Removes the marker route of `id`. Returns false when there was none.
    ///
    /// When that was the last route, the default route (to the host, no subset) takes its place:
    /// Istio refuses a VirtualService without routes (found by the admission agreement against a
    /// real istiod), and a catch-all to the host routes as no VirtualService would.
    pub(crate) fn remove_fault(&mut self, id: &FaultId) -> bool {
        let marker = id.marker();
        let before = self.faults.len();
        self.faults.retain(|r| vs::route_name(r) != Some(marker.as_str()));
        let removed = self.faults.len() != before;
        if removed && *self == Self::default() {
            self.default = Some(serde_json::json!({
                "name": DEFAULT_ROUTE,
                "route": vs::host_destination(&id.service),
            }));
        }
        removed
    }

    /// The names of the active fault marker routes.
    pub(crate) fn fault_names(&self) -> Vec<String> {
        self.faults
            .iter()
            .filter_map(|r| vs::route_name(r).map(str::to_owned))
            .collect()
    }

    /// The subsets of `service` the library's routes send traffic to.
    pub(crate) fn owned_subsets(&self, service: &ServiceId) -> BTreeSet<String> {
        vs::referenced_subsets(
            self.rules.iter().chain(&self.faults).chain(&self.default),
            service,
        )
    }

    /// The subsets of `service` the user's routes send traffic to.
    pub(crate) fn user_subsets(&self, service: &ServiceId) -> BTreeSet<String> {
        vs::referenced_subsets(self.before.iter().chain(&self.after), service)
    }

    /// The user routes that take every request before the library's section, so that the
    /// library's routes get no traffic.
    pub(crate) fn shadowing_user_routes(&self) -> Vec<String> {
        self.before
            .iter()
            .enumerate()
            .filter(|(_, r)| vs::is_catch_all(r))
            .map(|(i, r)| vs::route_name(r).map_or_else(|| format!("http[{i}]"), str::to_owned))
            .collect()
    }

    /// True when the default route carries retries or a timeout.
    pub(crate) fn default_has_retries_or_timeout(&self) -> bool {
        self.default
            .as_ref()
            .is_some_and(|d| d.get("retries").is_some() || d.get("timeout").is_some())
    }

    /// True when routes other than fault and default routes exist (the user's or the library's
    /// match rules): requests they match never reach a fault route.
    pub(crate) fn has_routes_ahead_of_faults(&self) -> bool {
        !self.before.is_empty() || !self.rules.is_empty()
    }

    fn default_destinations(&self, service: &ServiceId) -> Value {
        self.default
            .as_ref()
            .and_then(|d| d.get("route").cloned())
            .unwrap_or_else(|| vs::host_destination(service))
    }

    fn sync_fault_destinations(&mut self, service: &ServiceId) {
        if self.faults.is_empty() {
            return;
        }
        let destinations = self.default_destinations(service);
        for f in &mut self.faults {
            f["route"] = destinations.clone();
        }
    }
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn httproutes_example() {
        use crate::routes::HttpRoutes;
        use mesh_core::TrafficSplit;
        let svc = "prod/reviews".parse().unwrap();
        let user = serde_json::json!({"name": "beta-testers", "match": [{"headers": {"end-user": {"exact": "jason"}}}],
            "route": [{"destination": {"host": "reviews", "subset": "v2"}}]});
        let mut routes = HttpRoutes::parse(std::slice::from_ref(&user));
        routes.set_split(
            &svc,
            &TrafficSplit::try_from_pairs([("v1", 90), ("v3", 10)]).unwrap(),
        );
        let http = routes.into_vec();
        assert_eq!(http[0], user); // the user's route is untouched and still first
        assert_eq!(http[1]["name"], "mesh-default");
    }

    #[test]
    fn remove_fault_example() {
        use crate::routes::HttpRoutes;
        use mesh_core::{Fault, FaultId, MeshKind, Percent};
        let svc: mesh_core::ServiceId = "prod/reviews".parse().unwrap();
        let fault = Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: std::time::Duration::from_secs(1),
        };
        let id = FaultId::new(MeshKind::Istio, svc.clone(), fault.fingerprint()).unwrap();
        let mut routes = HttpRoutes::default();
        routes.upsert_fault(&svc, &id, &fault);
        assert!(routes.remove_fault(&id));
        let http = routes.into_vec();
        assert_eq!(http.len(), 1);
        assert_eq!(http[0]["name"], "mesh-default");
        assert_eq!(
            http[0]["route"][0]["destination"]["host"],
            "reviews.prod.svc.cluster.local"
        );
    }
}
