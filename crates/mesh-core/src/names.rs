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
    /// A version label (`v1`, `canary`): names a subset, a per-version Service suffix or a
    /// Consul `Meta.version` value.
    ///
    /// ```
    /// use mesh_core::Version;
    /// assert!(Version::new("v2").is_ok());
    /// assert!(Version::new("v2.1").is_err()); // dots are not valid in a label
    /// ```
    Version,
    "version"
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
