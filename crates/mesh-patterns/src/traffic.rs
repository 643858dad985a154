//! Traffic splits for canary, blue-green and A/B deployments.

use mesh_core::{Change, Error, ServiceId, TrafficSplit};

/// A validated split for one service: exactly what `set_traffic_weight` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSplit {
    /// The service whose traffic is split.
    pub service: ServiceId,
    /// The weights, summing to 100.
    pub split: TrafficSplit,
}

impl ServiceSplit {
    /// The [`Change::SetTrafficWeight`] that applies this split.
    ///
    /// ```
    /// use mesh_patterns::create_canary_deployment;
    /// let change = create_canary_deployment(&"prod/reviews".parse()?, "v1", "v2", 10)?.into_change();
    /// assert!(change.validate().is_ok());
    /// # Ok::<(), mesh_core::Error>(())
    /// ```
    #[must_use]
    pub fn into_change(self) -> Change {
        Change::SetTrafficWeight {
            service: self.service,
            split: self.split,
        }
    }
}

/// A canary split: `percentage` to `canary`, the rest to `stable`.
///
/// ```
/// use mesh_patterns::create_canary_deployment;
/// let s = create_canary_deployment(&"prod/reviews".parse()?, "v1", "v2", 10)?;
/// assert_eq!((s.split.weight_of("v1"), s.split.weight_of("v2")), (Some(90), Some(10)));
/// assert!(create_canary_deployment(&"prod/reviews".parse()?, "v1", "v2", 101).is_err());
/// assert!(create_canary_deployment(&"prod/reviews".parse()?, "v1", "v1", 10).is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for a percentage above 100, bad version labels, or `stable == canary`.
pub fn create_canary_deployment(
    service: &ServiceId,
    stable: &str,
    canary: &str,
    percentage: u8,
) -> Result<ServiceSplit, Error> {
    if percentage > 100 {
        return Err(Error::invalid("percentage", format!("{percentage} exceeds 100")));
    }
    split_of(service, [(stable, 100 - percentage), (canary, percentage)])
}

/// A blue-green split: everything to `current`, or everything to `new` when `switch_to_new`.
/// Both versions stay listed (one at 0) so the switch back is a weight change only.
///
/// ```
/// use mesh_patterns::create_blue_green_deployment;
/// let svc = "prod/api".parse()?;
/// let before = create_blue_green_deployment(&svc, "blue", "green", false)?;
/// assert_eq!((before.split.weight_of("blue"), before.split.weight_of("green")), (Some(100), Some(0)));
/// let after = create_blue_green_deployment(&svc, "blue", "green", true)?;
/// assert_eq!(after.split.weight_of("green"), Some(100));
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for bad version labels or `current == new`.
pub fn create_blue_green_deployment(
    service: &ServiceId,
    current: &str,
    new: &str,
    switch_to_new: bool,
) -> Result<ServiceSplit, Error> {
    let to_new = if switch_to_new { 100 } else { 0 };
    split_of(service, [(current, 100 - to_new), (new, to_new)])
}

/// An A/B (or A/B/n) split: `versions[i]` gets `weights[i]`.
///
/// ```
/// use mesh_patterns::create_ab_test_split;
/// let s = create_ab_test_split(&"prod/web".parse()?, &["a", "b", "c"], &[50, 30, 20])?;
/// assert_eq!(s.split.weight_of("c"), Some(20));
/// assert!(create_ab_test_split(&"prod/web".parse()?, &["a", "b"], &[50, 40]).is_err());
/// assert!(create_ab_test_split(&"prod/web".parse()?, &["a", "b"], &[100]).is_err());
/// # Ok::<(), mesh_core::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] when the lists differ in length, a version repeats or is not a label,
/// or the weights do not sum to 100.
pub fn create_ab_test_split(
    service: &ServiceId,
    versions: &[&str],
    weights: &[u8],
) -> Result<ServiceSplit, Error> {
    if versions.len() != weights.len() {
        return Err(Error::invalid(
            "weights",
            format!("{} weights for {} versions", weights.len(), versions.len()),
        ));
    }
    split_of(service, versions.iter().copied().zip(weights.iter().copied()))
}

fn split_of<'a>(
    service: &ServiceId,
    pairs: impl IntoIterator<Item = (&'a str, u8)>,
) -> Result<ServiceSplit, Error> {
    Ok(ServiceSplit {
        service: service.clone(),
        split: TrafficSplit::try_from_pairs(pairs)?,
    })
}
