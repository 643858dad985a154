//! `remove_fault` on Linkerd.

use mesh_core::{Error, FaultId, Result, Write, WriteAction};
use serde_json::{Map, Value};

use super::{LINKERD, Planner, subset_dep, versions_in};
use crate::{
    objects,
    translate::{fault, http_route},
};

impl Planner<'_> {
    pub(super) fn remove_fault(&mut self, fid: &FaultId) -> Result<()> {
        if fid.mesh != LINKERD {
            return Err(Error::invalid(
                "fault_id",
                format!("belongs to {}, not linkerd", fid.mesh),
            ));
        }
        let id = &fid.service;
        let key = fault::annotation(fid);
        let target = self.route_ref(id);
        let not_found = || Error::NotFound {
            kind: "fault".into(),
            name: fid.to_string(),
        };
        let route = self.get(&target)?.ok_or_else(not_found)?;
        // Under the current key, or the one an earlier release wrote.
        let key = mesh_kube::keys::present(&route["metadata"]["annotations"], &key).ok_or_else(not_found)?;
        let saved = objects::annotations(&route)
            .get(&key)
            .cloned()
            .ok_or_else(not_found)?;
        let (before, created) = fault::parse_saved(&saved).ok_or_else(|| {
            Error::invalid(
                "fault_id",
                format!("the saved state in annotation {key} is unreadable"),
            )
        })?;
        let versions = versions_in(id, &before);
        for v in &versions {
            self.plan.baseline.available.push(subset_dep(id, v));
        }
        if created && http_route::user_rules(&route).is_empty() {
            self.plan.push(Write::new(WriteAction::Delete, target, None));
            return Ok(());
        }
        let apex = self.apex(id)?;
        let port = Self::port_of(id, &apex)?;
        let extra = Map::from_iter([(key, Value::Null)]);
        let update = http_route::update(&target, id, port, Some(&route), before, &extra)?;
        self.route_write(
            target,
            update,
            versions.iter().map(|v| subset_dep(id, v)).collect(),
        );
        Ok(())
    }
}
