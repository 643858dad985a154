//! A traffic split between versions: the one shape every traffic-shifting helper returns.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Error, Version};

/// One version's share of the traffic, in whole percent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionWeight {
    /// The version (subset) that receives the share.
    pub version: Version,
    /// Its share, `0..=100`.
    pub weight: u8,
}

/// A validated split: non-empty, versions unique, each weight `0..=100`, weights summing to exactly
/// 100.
///
/// ```
/// use mesh_core::TrafficSplit;
/// let split = TrafficSplit::try_from_pairs([("v1", 90), ("v2", 10)]).unwrap();
/// assert_eq!(split.weight_of("v2"), Some(10));
/// assert!(TrafficSplit::try_from_pairs([("v1", 90), ("v2", 20)]).is_err());
/// assert!(TrafficSplit::try_from_pairs([("v1", 50), ("v1", 50)]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<VersionWeight>", into = "Vec<VersionWeight>")]
pub struct TrafficSplit(Vec<VersionWeight>);

impl TrafficSplit {
    /// Validates a list of weights.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `split` or the offending entry.
    pub fn new(weights: Vec<VersionWeight>) -> Result<Self, Error> {
        if weights.is_empty() {
            return Err(Error::invalid("split", "needs at least one version"));
        }
        let mut seen = BTreeSet::new();
        let mut sum = 0u32;
        for (i, w) in weights.iter().enumerate() {
            if w.weight > 100 {
                return Err(Error::invalid(
                    format!("split[{i}].weight"),
                    format!("{} exceeds 100", w.weight),
                ));
            }
            if !seen.insert(&w.version) {
                return Err(Error::invalid(
                    format!("split[{i}].version"),
                    format!("{} is listed twice", w.version),
                ));
            }
            sum += u32::from(w.weight);
        }
        if sum != 100 {
            return Err(Error::invalid("split", format!("weights sum to {sum}, not 100")));
        }
        Ok(Self(weights))
    }

    /// Validates `(version, weight)` pairs.
    ///
    /// # Errors
    /// As [`TrafficSplit::new`], plus a bad version label.
    pub fn try_from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u8)>) -> Result<Self, Error> {
        let weights = pairs
            .into_iter()
            .enumerate()
            .map(|(i, (v, weight))| {
                Ok(VersionWeight {
                    version: Version::new(v).map_err(|e| e.in_field(&format!("split[{i}]")))?,
                    weight,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Self::new(weights)
    }

    /// All of the traffic to one version.
    pub fn all_to(version: Version) -> Self {
        Self(vec![VersionWeight { version, weight: 100 }])
    }

    /// The entries, in the caller's order.
    pub fn weights(&self) -> &[VersionWeight] {
        &self.0
    }

    /// The weight of `version`, if it is part of the split.
    pub fn weight_of(&self, version: &str) -> Option<u8> {
        self.0
            .iter()
            .find(|w| w.version.as_str() == version)
            .map(|w| w.weight)
    }

    /// The versions, in order.
    pub fn versions(&self) -> impl Iterator<Item = &Version> {
        self.0.iter().map(|w| &w.version)
    }
}

impl TryFrom<Vec<VersionWeight>> for TrafficSplit {
    type Error = Error;
    fn try_from(v: Vec<VersionWeight>) -> Result<Self, Error> {
        Self::new(v)
    }
}

impl From<TrafficSplit> for Vec<VersionWeight> {
    fn from(s: TrafficSplit) -> Self {
        s.0
    }
}
