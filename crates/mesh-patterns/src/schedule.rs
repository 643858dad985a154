//! Progressive delivery schedules: the sequence of splits a rollout walks through.
//!
//! A [`Schedule`] is an iterator of [`TrafficSplit`]s between a stable and a canary version. Each
//! constructor says where it ends, and [`Schedule::final_canary_weight`] tells it up front:
//! - [`Schedule::step_weight`]: Flagger's `stepWeight` / `maxWeight` (5, 10, ... up to the max);
//! - [`Schedule::steps`]: Flagger's `stepWeights` or Argo's `setWeight` steps, e.g. `[1, 2, 10, 80]`;
//! - [`Schedule::blue_green`]: all on the current version, then all on the new one.
//!
//! [`Schedule::with_promotion`] appends the final 100 % step (promotion) to a schedule that
//! stops at its maximum weight.

use mesh_core::{Error, TrafficSplit, Version, VersionWeight};

/// An iterator of splits moving traffic from `stable` to `canary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    stable: Version,
    canary: Version,
    weights: Vec<u8>,
    next: usize,
}

impl Schedule {
    /// Flagger-style linear steps: `step`, `2 * step`, ... capped at `max_weight`, which is always
    /// the last step.
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// let s = Schedule::step_weight("v1", "v2", 20, 50)?;
    /// assert_eq!(s.canary_weights(), &[20, 40, 50]);
    /// let splits: Vec<_> = s.collect();
    /// assert_eq!(splits.last().unwrap().weight_of("v1"), Some(50));
    /// assert!(Schedule::step_weight("v1", "v2", 0, 50).is_err());
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `step_weight` or `max_weight` is 0 or above 100, when
    /// `step_weight > max_weight`, or for bad or equal versions.
    pub fn step_weight(stable: &str, canary: &str, step_weight: u8, max_weight: u8) -> Result<Self, Error> {
        for (name, v) in [("step_weight", step_weight), ("max_weight", max_weight)] {
            if !(1..=100).contains(&v) {
                return Err(Error::invalid(name, format!("{v} is not within 1..=100")));
            }
        }
        if step_weight > max_weight {
            return Err(Error::invalid(
                "step_weight",
                format!("{step_weight} exceeds max_weight {max_weight}"),
            ));
        }
        let mut weights = Vec::new();
        let mut next = step_weight;
        loop {
            let w = next.min(max_weight);
            weights.push(w);
            if w >= max_weight {
                break;
            }
            next = next.saturating_add(step_weight);
        }
        Self::new(stable, canary, weights)
    }

    /// Explicit canary weights, strictly increasing, each in `1..=100`.
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// let s = Schedule::steps("v1", "v2", &[1, 2, 10, 80])?;
    /// assert_eq!(s.final_canary_weight(), 80);
    /// assert_eq!(s.with_promotion().canary_weights(), &[1, 2, 10, 80, 100]);
    /// assert!(Schedule::steps("v1", "v2", &[10, 5]).is_err());
    /// assert!(Schedule::steps("v1", "v2", &[]).is_err());
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty or non-increasing list, a step of 0 or above 100, or
    /// bad or equal versions.
    pub fn steps(stable: &str, canary: &str, steps: &[u8]) -> Result<Self, Error> {
        if steps.is_empty() {
            return Err(Error::invalid("steps", "needs at least one step"));
        }
        for (i, &w) in steps.iter().enumerate() {
            if !(1..=100).contains(&w) {
                return Err(Error::invalid(
                    format!("steps[{i}]"),
                    format!("{w} is not within 1..=100"),
                ));
            }
            if i > 0 && w <= steps[i - 1] {
                return Err(Error::invalid(
                    format!("steps[{i}]"),
                    format!("{w} does not increase on {}", steps[i - 1]),
                ));
            }
        }
        Self::new(stable, canary, steps.to_vec())
    }

    /// A blue-green cut-over: everything on `current` (0 % to `new`, for pre-promotion checks),
    /// then everything on `new`.
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// let s = Schedule::blue_green("blue", "green")?;
    /// assert_eq!(s.canary_weights(), &[0, 100]);
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for bad or equal versions.
    pub fn blue_green(current: &str, new: &str) -> Result<Self, Error> {
        Self::new(current, new, vec![0, 100])
    }

    /// Adds the promotion step (canary at 100 %) unless the schedule already ends there.
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// let s = Schedule::step_weight("v1", "v2", 10, 30)?.with_promotion();
    /// assert_eq!(s.canary_weights(), &[10, 20, 30, 100]);
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_promotion(mut self) -> Self {
        if self.weights.last() != Some(&100) {
            self.weights.push(100);
        }
        self
    }

    /// The canary's weight at each step, in order (including steps already yielded).
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// let mut s = Schedule::step_weight("v1", "v2", 25, 100)?;
    /// let first = s.next().unwrap();
    /// assert_eq!(first.weight_of("v2"), Some(25));
    /// assert_eq!(s.canary_weights(), &[25, 50, 75, 100]);
    /// assert_eq!(s.len(), 3);
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    #[must_use]
    pub fn canary_weights(&self) -> &[u8] {
        &self.weights
    }

    /// The canary's weight at the last step: the schedule's promise.
    ///
    /// ```
    /// use mesh_patterns::Schedule;
    /// assert_eq!(Schedule::step_weight("v1", "v2", 5, 50)?.final_canary_weight(), 50);
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    #[must_use]
    pub fn final_canary_weight(&self) -> u8 {
        self.weights.last().copied().unwrap_or(0)
    }

    fn new(stable: &str, canary: &str, weights: Vec<u8>) -> Result<Self, Error> {
        let stable = Version::new(stable).map_err(|e| e.in_field("stable"))?;
        let canary = Version::new(canary).map_err(|e| e.in_field("canary"))?;
        if stable == canary {
            return Err(Error::invalid(
                "canary",
                format!("{canary} is also the stable version"),
            ));
        }
        Ok(Self {
            stable,
            canary,
            weights,
            next: 0,
        })
    }

    fn split(&self, canary_weight: u8) -> TrafficSplit {
        let entries = vec![
            VersionWeight {
                version: self.stable.clone(),
                weight: 100 - canary_weight,
            },
            VersionWeight {
                version: self.canary.clone(),
                weight: canary_weight,
            },
        ];
        // Two distinct versions and weights summing to 100: always valid.
        TrafficSplit::new(entries).unwrap_or_else(|_| TrafficSplit::all_to(self.canary.clone()))
    }
}

impl Iterator for Schedule {
    type Item = TrafficSplit;

    fn next(&mut self) -> Option<TrafficSplit> {
        let w = *self.weights.get(self.next)?;
        self.next += 1;
        Some(self.split(w))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.weights.len() - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Schedule {}
