//! Property tests: every split sums to 100 and every schedule ends where it promises.

use mesh_patterns::{Schedule, create_ab_test_split, create_canary_deployment};
use proptest::prelude::*;

fn sums_to_100(split: &mesh_core::TrafficSplit) -> bool {
    split.weights().iter().map(|w| u32::from(w.weight)).sum::<u32>() == 100
}

proptest! {
    #[test]
    fn canary_splits_sum_to_100(p in 0u8..=100) {
        let s = create_canary_deployment(&"prod/api".parse().unwrap(), "stable", "canary", p).unwrap();
        prop_assert!(sums_to_100(&s.split));
        prop_assert_eq!(s.split.weight_of("canary"), Some(p));
    }

    #[test]
    fn canary_rejects_over_100(p in 101u8..) {
        prop_assert!(create_canary_deployment(&"prod/api".parse().unwrap(), "a", "b", p).is_err());
    }

    #[test]
    fn ab_splits_are_valid_exactly_when_weights_sum_to_100(weights in prop::collection::vec(0u8..=100, 1..5)) {
        let names = ["a", "b", "c", "d", "e"];
        let r = create_ab_test_split(&"prod/web".parse().unwrap(), &names[..weights.len()], &weights);
        let total: u32 = weights.iter().map(|&w| u32::from(w)).sum();
        prop_assert_eq!(r.is_ok(), total == 100);
    }

    #[test]
    fn step_weight_schedules_end_at_max_and_increase(step in 1u8..=100, max in 1u8..=100, promote: bool) {
        prop_assume!(step <= max);
        let mut s = Schedule::step_weight("v1", "v2", step, max).unwrap();
        if promote {
            s = s.with_promotion();
        }
        let promised = s.final_canary_weight();
        prop_assert_eq!(promised, if promote { 100 } else { max });
        let splits: Vec<_> = s.collect();
        prop_assert!(splits.iter().all(sums_to_100));
        let canary: Vec<u8> = splits.iter().map(|s| s.weight_of("v2").unwrap()).collect();
        prop_assert!(canary.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(*canary.last().unwrap(), promised);
        prop_assert_eq!(canary[0], step);
    }

    #[test]
    fn explicit_schedules_end_at_their_last_step(mut steps in prop::collection::btree_set(1u8..=100, 1..8)) {
        let steps: Vec<u8> = std::mem::take(&mut steps).into_iter().collect();
        let s = Schedule::steps("v1", "v2", &steps).unwrap();
        prop_assert_eq!(s.len(), steps.len());
        let canary: Vec<u8> = s.clone().map(|s| s.weight_of("v2").unwrap()).collect();
        prop_assert_eq!(&canary, &steps);
        let promoted: Vec<_> = s.with_promotion().collect();
        prop_assert!(promoted.iter().all(sums_to_100));
        prop_assert_eq!(promoted.last().unwrap().weight_of("v2"), Some(100));
    }
}

#[test]
fn blue_green_cuts_over_in_one_step() {
    let splits: Vec<_> = Schedule::blue_green("blue", "green").unwrap().collect();
    assert_eq!(splits.len(), 2);
    assert_eq!(splits[0].weight_of("blue"), Some(100));
    assert_eq!(splits[1].weight_of("green"), Some(100));
    assert!(splits.iter().all(sums_to_100));
}
