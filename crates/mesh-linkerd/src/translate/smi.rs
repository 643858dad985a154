//! SMI TrafficSplit (opt-in only; needs the linkerd-smi extension).

use mesh_core::{ServiceId, TrafficSplit};
use serde_json::{Value, json};

use crate::objects;

/// The warning every SMI plan carries.
pub(crate) const WARNING: &str = "linkerd-smi turns a TrafficSplit into a ServiceProfile (dstOverrides), \
                           which disables HTTPRoutes, retry and timeout annotations and failure \
                           accrual for this Service; the extension is deprecated";

/// A `split.smi-spec.io/v1alpha2` TrafficSplit from the apex Service to the per-version Services.
pub(crate) fn traffic_split(id: &ServiceId, split: &TrafficSplit) -> Value {
    let backends: Vec<Value> = split
        .weights()
        .iter()
        .map(|w| json!({ "service": objects::version_service_name(id, &w.version), "weight": w.weight }))
        .collect();
    objects::owned_object(
        &objects::traffic_split(id),
        json!({ "service": id.name.as_str(), "backends": backends }),
    )
}

#[cfg(test)]
mod examples {
    //! The examples that were doctests while these items were public.

    #[test]
    fn traffic_split_example() {
        use mesh_core::TrafficSplit;
        let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap();
        let ts = crate::translate::smi::traffic_split(&"prod/reviews".parse().unwrap(), &split);
        assert_eq!(ts["spec"]["service"], "reviews");
        assert_eq!(ts["spec"]["backends"][1]["service"], "reviews-v2");
        assert_eq!(ts["spec"]["backends"][1]["weight"], 10);
    }
}
