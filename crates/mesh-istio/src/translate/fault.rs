//! Fault injection on a VirtualService route (`http[].fault`).
//!
//! A fault lives on its own route named [`FaultId::marker`] (`mesh-fault-<key>`), so its id is
//! stateless: the key is the fault's fingerprint and the mark is the route's name on the cluster.
//! Istio disables retries and timeouts on a route that carries a fault.

use mesh_core::{Fault, FaultId, units};
use serde_json::{Value, json};

use crate::objects::FAULT_ROUTE_PREFIX;

/// The `fault` value: `delay.fixedDelay` or `abort.httpStatus`, with `percentage.value` (a double
/// in 0–100; without it Istio faults nothing).
pub(crate) fn fault(f: &Fault) -> Value {
    match f {
        Fault::Delay { percent, duration } => json!({
            "delay": {
                "fixedDelay": units::format_duration(*duration),
                "percentage": { "value": percent.value() },
            }
        }),
        Fault::Abort { percent, http_status } => json!({
            "abort": {
                "httpStatus": http_status.code(),
                "percentage": { "value": percent.value() },
            }
        }),
    }
}

/// The marker route carrying `f`: a catch-all named after `id`, sending traffic to `route` (the
/// destinations the library's default route uses).
pub(crate) fn fault_route(id: &FaultId, f: &Fault, route: Value) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("name".to_owned(), Value::from(id.marker()));
    out.insert("route".to_owned(), route); // moved, not copied through `json!`
    out.insert("fault".to_owned(), fault(f));
    Value::Object(out)
}

/// True when `route_name` names a fault marker route.
pub(crate) fn is_fault_route(route_name: &str) -> bool {
    route_name.starts_with(FAULT_ROUTE_PREFIX)
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn fault_example() {
        use mesh_core::{Fault, Percent};
        use std::time::Duration;
        let f = Fault::Delay {
            percent: Percent::new(10.0).unwrap(),
            duration: Duration::from_secs(3),
        };
        let v = crate::translate::fault::fault(&f);
        assert_eq!(
            v,
            serde_json::json!({"delay": {"fixedDelay": "3s", "percentage": {"value": 10.0}}})
        );
    }

    #[test]
    fn fault_route_example() {
        use mesh_core::{Fault, FaultId, HttpStatus, MeshKind, Percent};
        let f = Fault::Abort {
            percent: Percent::new(5.0).unwrap(),
            http_status: HttpStatus::new(503).unwrap(),
        };
        let id = FaultId::new(MeshKind::Istio, "prod/api".parse().unwrap(), f.fingerprint()).unwrap();
        let r = crate::translate::fault::fault_route(&id, &f, serde_json::json!([]));
        assert_eq!(r["name"], id.marker());
        assert_eq!(r["fault"]["abort"]["httpStatus"], 503);
    }

    #[test]
    fn is_fault_route_example() {
        assert!(crate::translate::fault::is_fault_route("mesh-fault-1a2b3c4d"));
        assert!(!crate::translate::fault::is_fault_route("mesh-default"));
    }
}
