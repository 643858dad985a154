//! `inject_fault` on Linkerd.

use mesh_core::{Change, Error, Fault, Feature, Result, ServiceId};
use serde_json::{Map, Value, json};

use super::{LINKERD, Planner, object_dep, subset_dep, versions_in};
use crate::{
    objects,
    translate::{fault, http_route},
};

impl Planner<'_> {
    pub(super) fn inject_fault(&mut self, change: &Change, id: &ServiceId, f: &Fault) -> Result<()> {
        let mesh_core::Fault::Abort { percent, http_status } = f else {
            return Err(Error::unsupported(
                LINKERD,
                Feature::FaultDelay,
                "Linkerd has no delay fault injection",
            ));
        };
        let Some((error_name, error_port)) = self.config.fault_error_backend.clone() else {
            return Err(Error::unsupported(
                LINKERD,
                Feature::FaultAbort,
                "abort faults need an error backend Service (Config::fault_error_backend)",
            ));
        };
        let bad = |e: Error| e.in_field("config.fault_error_backend");
        let error_name = mesh_core::ServiceName::new(error_name).map_err(bad)?;
        let error_port = mesh_core::Port::new(error_port).map_err(bad)?;
        let error_ref = objects::sibling_service(id, error_name.as_str());
        if self.get(&error_ref)?.is_none() {
            return Err(Error::NotFound {
                kind: "Service".into(),
                name: format!("{}/{error_name} (the fault error backend)", id.namespace),
            });
        }
        self.plan.baseline.available.push(object_dep(&error_ref));
        let apex = self.apex(id)?;
        let port = Self::port_of(id, &apex)?;
        self.guard_service_profile(id, Feature::FaultAbort, self.config.smi)?;
        let fid = change.fault_id(LINKERD)?;
        let key = fault::annotation(&fid);
        let target = self.route_ref(id);
        let existing = self.get(&target)?;
        if existing
            .as_ref()
            .is_some_and(|r| mesh_kube::keys::present(&r["metadata"]["annotations"], &key).is_some())
        {
            return Ok(());
        }
        Self::refuse_during_fault(existing.as_ref())?;
        let before = existing.as_ref().map(http_route::owned_rules).unwrap_or_default();
        let base = if before.is_empty() {
            vec![json!({ "backendRefs": [http_route::backend(id.name.as_str(), port, 100)] })]
        } else {
            before.clone()
        };
        let ours: Vec<Value> = base
            .iter()
            .map(|r| fault::with_abort(r, *percent, error_name.as_str(), error_port.get()))
            .collect();
        // The route keeps sending traffic to the versions it used, and now to the error backend.
        let mut requires = vec![object_dep(&error_ref)];
        for v in versions_in(id, &base) {
            if self.get(&objects::version_service(id, &v))?.is_some() {
                self.plan.baseline.available.push(subset_dep(id, &v));
            }
            requires.push(subset_dep(id, &v));
        }
        let extra = Map::from_iter([(key, fault::saved_state(&before, existing.is_none()))]);
        let update = http_route::update(&target, id, port, existing.as_ref(), ours, &extra)?;
        self.route_write(target, update, requires);
        self.warn(format!(
            "emulated abort: {percent} of requests go to Service {error_name}, which answers with whatever \
             status it returns (requested {}); only meshed clients are affected, and rules you wrote \
             yourself are not faulted",
            http_status.code()
        ));
        Ok(())
    }
}
