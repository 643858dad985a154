//! Destination policy: subsets (version → labels), load balancing, connection pool and outlier
//! detection.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{ConnectionPool, Error, OutlierDetection, ServiceId, Version};

/// A named group of instances: one version of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subset {
    /// The version this subset holds; also its name.
    pub version: Version,
    /// Instance labels that select it. Defaults to `version: <version>` when empty.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Subset {
    /// A subset selecting the instances whose version label is `<version>` (the label key is
    /// the mesh's, [`crate::SelectorLabels`]).
    pub fn for_version(version: Version) -> Self {
        Self {
            version,
            labels: BTreeMap::new(),
        }
    }

    /// The selecting labels, `version: <version>` when none were given.
    pub fn effective_labels(&self) -> BTreeMap<String, String> {
        self.effective_labels_with(&crate::SelectorLabels::default())
    }

    /// The selecting labels: those given, else `<version label>: <version>`.
    ///
    /// ```
    /// use mesh_core::{SelectorLabels, Subset, Version};
    /// let s = Subset::for_version(Version::new("1.2.0").unwrap());
    /// let keys = SelectorLabels::new("app.kubernetes.io/name", "app.kubernetes.io/version").unwrap();
    /// assert_eq!(s.effective_labels_with(&keys)["app.kubernetes.io/version"], "1.2.0");
    /// assert_eq!(s.effective_labels()["version"], "1.2.0");
    /// ```
    pub fn effective_labels_with(&self, keys: &crate::SelectorLabels) -> BTreeMap<String, String> {
        if self.labels.is_empty() {
            BTreeMap::from([(keys.version().to_owned(), self.version.label_value().to_owned())])
        } else {
            self.labels.clone()
        }
    }
}

/// A load-balancing algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancer {
    /// Round robin.
    RoundRobin,
    /// Least outstanding requests.
    LeastRequest,
    /// Random.
    Random,
    /// Consistent hashing (ring hash).
    RingHash,
    /// Maglev consistent hashing.
    Maglev,
}

/// What `create_destination_rule` takes.
///
/// ```
/// use mesh_core::{DestinationPolicy, Subset, Version};
/// let p = DestinationPolicy::with_subsets(
///     "prod/reviews".parse().unwrap(),
///     ["v1", "v2"].map(|v| Subset::for_version(Version::new(v).unwrap())),
/// );
/// assert!(p.validate().is_ok());
/// assert!(p.has_subset("v2"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationPolicy {
    /// The service the policy applies to.
    pub service: ServiceId,
    /// Its subsets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    /// The load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancer>,
    /// Connection-pool limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPool>,
    /// Outlier detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
}

impl DestinationPolicy {
    /// A policy holding only subsets.
    pub fn with_subsets(service: ServiceId, subsets: impl IntoIterator<Item = Subset>) -> Self {
        Self {
            service,
            subsets: subsets.into_iter().collect(),
            load_balancer: None,
            connection_pool: None,
            outlier_detection: None,
        }
    }

    /// True when a subset for `version` is defined.
    pub fn has_subset(&self, version: &str) -> bool {
        self.subsets.iter().any(|s| s.version.as_str() == version)
    }

    /// Checks subsets are unique and label keys are non-empty.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming `subsets[i]`.
    pub fn validate(&self) -> Result<(), Error> {
        let mut seen = BTreeSet::new();
        for (i, s) in self.subsets.iter().enumerate() {
            if !seen.insert(&s.version) {
                return Err(Error::invalid(
                    format!("subsets[{i}].version"),
                    format!("{} is listed twice", s.version),
                ));
            }
            if s.labels.keys().any(String::is_empty) {
                return Err(Error::invalid(format!("subsets[{i}].labels"), "empty label key"));
            }
        }
        if let Some(p) = &self.outlier_detection
            && p.consecutive_errors == Some(0)
        {
            return Err(Error::invalid(
                "outlier_detection.consecutive_errors",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
