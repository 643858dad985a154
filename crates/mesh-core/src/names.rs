//! Validated names: RFC 1123 labels for services, namespaces and versions.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::Error;

/// Checks that `value` is an RFC 1123 label: 1 to 63 characters of `a-z`, `0-9` and `-`, starting and
/// ending with an alphanumeric character.
///
/// ```
/// assert!(mesh_core::names::check_rfc1123_label("reviews-v2").is_ok());
/// assert!(mesh_core::names::check_rfc1123_label("Reviews").is_err());
/// assert!(mesh_core::names::check_rfc1123_label("-a").is_err());
/// ```
///
/// # Errors
/// A human-readable reason when the value is not a label.
pub fn check_rfc1123_label(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > 63 {
        return Err(format!("must be at most 63 characters, got {}", value.len()));
    }
    if let Some(c) = value
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{c:?} is not allowed; use lower-case letters, digits and '-'"
        ));
    }
    if value.starts_with('-') || value.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

macro_rules! label_type {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `value` as an RFC 1123 label.
            ///
            /// # Errors
            /// [`Error::InvalidInput`] naming the field when `value` is not a label.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_rfc1123_label(&value).map_err(|reason| Error::invalid($field, format!("{value:?} {reason}")))?;
                Ok(Self(value))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(s: String) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = Error;
            fn try_from(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

label_type!(
    /// A service name: an RFC 1123 label, as Kubernetes Services require.
    ///
    /// ```
    /// use mesh_core::ServiceName;
    /// assert_eq!(ServiceName::new("reviews").unwrap().as_str(), "reviews");
    /// assert!(ServiceName::new("Reviews_1").is_err());
    /// ```
    ServiceName,
    "service"
);

label_type!(
    /// A namespace name: an RFC 1123 label. Consul CE only knows `default`.
    ///
    /// ```
    /// use mesh_core::Namespace;
    /// assert_eq!(Namespace::default().as_str(), "default");
    /// assert!(Namespace::new("prod").is_ok());
    /// ```
    Namespace,
    "namespace"
);

label_type!(
    /// The name of a policy object the caller creates (authorization policy, route).
    PolicyName,
    "name"
);

impl Default for Namespace {
    fn default() -> Self {
        Self("default".to_owned())
    }
}

impl Namespace {
    /// True for the namespace called `default`.
    pub fn is_default(&self) -> bool {
        self.0 == "default"
    }
}

/// A version as people write it (`v1`, `canary`, `1.2.0`, `2024_05`): any Kubernetes label value
/// (1 to 63 of `A-Z a-z 0-9 . _ -`, starting and ending with a letter or digit).
///
/// The value is kept as given for what selects instances (the `version` label, Consul's
/// `Meta.version`); where the mesh needs a name (a subset, a per-version Service suffix) it is
/// the value lower-cased with `.` and `_` turned into `-`, an RFC 1123 label. Two versions are the
/// same when their names are: `1.2.0` and `1-2-0` name one subset, so a split may not list both.
///
/// ```
/// use mesh_core::Version;
/// let v = Version::new("1.2.0").unwrap();
/// assert_eq!(v.as_str(), "1-2-0"); // the subset name
/// assert_eq!(v.label_value(), "1.2.0"); // what instances carry
/// assert_eq!(v, Version::new("1-2-0").unwrap());
/// assert_eq!(Version::new("v2").unwrap().label_value(), "v2");
/// assert_eq!(serde_json::to_string(&v).unwrap(), "\"1.2.0\"");
/// assert!(Version::new("-v1").is_err());
/// assert!(Version::new("v 1").is_err());
/// assert!(Version::new("").is_err());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    /// The RFC 1123 label derived from `label`.
    name: String,
    /// The value as given.
    label: String,
}

impl Version {
    /// Validates `value` as a Kubernetes label value and derives its name.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] on `version` when `value` is not a label value.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let label = value.into();
        let bad = |reason: &str| Error::invalid("version", format!("{label:?} {reason}"));
        if label.is_empty() {
            return Err(bad("must not be empty"));
        }
        if label.len() > 63 {
            return Err(bad(&format!(
                "must be at most 63 characters, got {}",
                label.len()
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(bad(&format!(
                "{c:?} is not allowed; use letters, digits, '.', '_' and '-'"
            )));
        }
        if !label.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !label.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Err(bad("must start and end with a letter or digit"));
        }
        let name: String = label
            .chars()
            .map(|c| match c {
                '.' | '_' => '-',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Ok(Self { name, label })
    }

    /// The name the mesh uses (subset, per-version Service suffix): an RFC 1123 label.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The value as given, which instances carry in their `version` label.
    pub fn label_value(&self) -> &str {
        &self.label
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name.cmp(&other.name)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl FromStr for Version {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Version {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Version {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl From<Version> for String {
    fn from(v: Version) -> String {
        v.label
    }
}

impl AsRef<str> for Version {
    fn as_ref(&self) -> &str {
        &self.name
    }
}
