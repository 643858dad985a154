//! Every object the backend emits, for every release and flavour, validates against the pinned
//! upstream schemas; every plan is safe at each prefix; and re-planning after applying changes
//! nothing.

use crate::support;

use mesh_core::Error;
use mesh_linkerd::LinkerdVersion;
use support::*;

#[tokio::test]
async fn every_emitted_object_validates_and_plans_converge() {
    for version in LinkerdVersion::ALL {
        let configs = flavours()
            .into_iter()
            .map(|f| opted_in(version).http_route_flavour(f))
            .chain([opted_in(version).smi(true)]);
        for config in configs {
            let flavour = config.http_route_flavour;
            for (name, change) in catalogue() {
                let snap = seeded();
                let plan = match plan(&snap, &change, &config) {
                    Ok(p) => p,
                    Err(Error::Unsupported { feature, .. }) => {
                        // Only what the capability table says is unsupported may be refused.
                        let caps = mesh_linkerd::capabilities(version, &config);
                        assert!(
                            !caps.support(feature).is_native(),
                            "{version} {name}: refused native {feature}"
                        );
                        continue;
                    }
                    Err(e) => panic!("{version} {flavour:?} {name}: {e}"),
                };
                validate(&plan, &snap, version);
                plan.check_safe_prefixes()
                    .unwrap_or_else(|e| panic!("{version} {name}: {e}"));
                let mut after = snap.clone();
                after
                    .apply(&plan)
                    .unwrap_or_else(|e| panic!("{version} {name}: {e}"));
                let again = support::plan(&after, &change, &config).unwrap();
                assert!(
                    again.is_noop(),
                    "{version} {flavour:?} {name}: re-plan writes {:#?}",
                    again.writes
                );
            }
        }
    }
}
