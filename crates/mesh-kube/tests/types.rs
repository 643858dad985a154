//! The kopium-generated types round-trip real objects, and what they serialize validates.
#![cfg(feature = "types")]

use mesh_kube::{schema::SchemaSet, types::istio::virtual_service::VirtualService};
use serde_json::json;

#[test]
fn a_virtual_service_round_trips_through_the_typed_struct() {
    let obj = json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": { "name": "reviews", "namespace": "prod" },
        "spec": { "hosts": ["reviews.prod.svc.cluster.local"], "http": [{ "timeout": "2s", "route": [
            { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v1" }, "weight": 90 },
            { "destination": { "host": "reviews.prod.svc.cluster.local", "subset": "v2" }, "weight": 10 }
        ] }] }
    });
    let vs: VirtualService = serde_json::from_value(obj.clone()).unwrap();
    let http = &vs.spec.http.as_ref().unwrap()[0];
    assert_eq!(http.route.as_ref().unwrap()[1].weight, Some(10));
    assert_eq!(http.timeout.as_deref(), Some("2s"));
    let back = serde_json::to_value(&vs).unwrap();
    assert_eq!(back["spec"], obj["spec"]);
    assert!(SchemaSet::bundled().validate(&back).is_ok());
}
