//! The identifiers of the registry, each validated on construction: [`ModelName`],
//! [`Version`], [`AliasName`] and [`ModelRef`] (`name`, `name@alias`, `name/3`).
//!
//! Artifacts and registries both use them, so they live here, below both. A name or an
//! alias becomes a path component in the local registry and a URL segment in others:
//! the charset (`[a-z0-9_-]`, starting with a letter or digit, at most 64 bytes) rules
//! out `..`, separators and anything that needs escaping.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest model name or alias, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a name, alias, version or reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A model name or alias outside the allowed charset or length.
    #[error(
        "invalid {what} {found:?}: expected 1 to {MAX_ID_LEN} characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
    )]
    Name {
        /// `model name` or `alias`.
        what: &'static str,
        /// The refused text.
        found: String,
    },
    /// A version that is not a positive integer.
    #[error("invalid version {found:?} in {reference:?}: expected a positive integer")]
    Version {
        /// The refused text.
        found: String,
        /// The whole reference.
        reference: String,
    },
}

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                if valid_id(&s) {
                    Ok(Self(s))
                } else {
                    Err(IdError::Name { what: $what, found: s })
                }
            }
        }

        impl FromStr for $ty {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::try_from(s.to_owned())
            }
        }

        impl From<$ty> for String {
            fn from(n: $ty) -> String {
                n.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        // Ordering and equality are the string's, so maps keyed by the id can be
        // searched with a `&str`.
        impl std::borrow::Borrow<str> for $ty {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

id_type!(
    /// A model name: 1 to 64 characters of `[a-z0-9_-]`, starting with a letter or digit.
    ModelName,
    "model name"
);

id_type!(
    /// An alias of a model (`latest`, `production`, ...): the same charset as a
    /// [`ModelName`], so it is always a safe path component and URL segment.
    AliasName,
    "alias"
);

impl AliasName {
    /// The alias every successful publish moves forward.
    #[must_use]
    pub fn latest() -> Self {
        Self(LATEST.to_owned())
    }

    /// True for `latest`.
    #[must_use]
    pub fn is_latest(&self) -> bool {
        self.0 == LATEST
    }
}

/// The name of the alias every successful publish moves forward.
pub const LATEST: &str = "latest";

/// A model version number, starting at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Which version of a model: `name` (its `latest`), `name@alias` or `name/3`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelRef {
    /// A model by alias; a bare name means `@latest`.
    Alias(ModelName, AliasName),
    /// A model at an explicit version.
    Version(ModelName, Version),
}

impl ModelRef {
    /// The model name.
    #[must_use]
    pub fn name(&self) -> &ModelName {
        match self {
            ModelRef::Alias(n, _) | ModelRef::Version(n, _) => n,
        }
    }

    /// `name@latest`.
    #[must_use]
    pub fn latest(name: ModelName) -> Self {
        ModelRef::Alias(name, AliasName::latest())
    }
}

impl FromStr for ModelRef {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if let Some((name, alias)) = s.split_once('@') {
            Ok(ModelRef::Alias(name.parse()?, alias.parse()?))
        } else if let Some((name, version)) = s.split_once('/') {
            let bad = || IdError::Version {
                found: version.to_owned(),
                reference: s.to_owned(),
            };
            let v: u64 = version.parse().map_err(|_| bad())?;
            if v == 0 {
                return Err(bad());
            }
            Ok(ModelRef::Version(name.parse()?, Version(v)))
        } else {
            Ok(ModelRef::latest(s.parse()?))
        }
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelRef::Alias(n, a) => write!(f, "{n}@{a}"),
            ModelRef::Version(n, v) => write!(f, "{n}/{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            "iris".parse::<ModelRef>().unwrap(),
            ModelRef::Alias("iris".parse().unwrap(), "latest".parse().unwrap())
        );
        assert_eq!(
            "iris@production".parse::<ModelRef>().unwrap(),
            ModelRef::Alias("iris".parse().unwrap(), "production".parse().unwrap())
        );
        assert_eq!(
            "iris/3".parse::<ModelRef>().unwrap(),
            ModelRef::Version("iris".parse().unwrap(), Version(3))
        );
        for bad in [
            "",
            "Iris",
            "iris/0",
            "iris/x",
            "iris@",
            "../etc",
            "a b",
            "iris@Prod",
            "iris@../x",
        ] {
            assert!(
                bad.parse::<ModelRef>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn aliases_that_could_escape_or_overflow_are_refused() {
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in ["../x", "", ".hidden", "a/b", "A", long.as_str()] {
            let err = bad.parse::<AliasName>().unwrap_err();
            assert!(err.to_string().starts_with("invalid alias"), "{err}");
        }
        assert_eq!(
            "../x".parse::<AliasName>().unwrap_err().to_string(),
            "invalid alias \"../x\": expected 1 to 64 characters of a-z, 0-9, '_' and '-', starting with a letter or digit"
        );
        assert!("a".repeat(MAX_ID_LEN).parse::<AliasName>().is_ok());
        assert!(AliasName::latest().is_latest());
    }

    #[test]
    fn names_round_trip_through_serde_and_refuse_bad_text() {
        let n: ModelName = serde_json::from_str("\"titanic\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"titanic\"");
        assert!(serde_json::from_str::<ModelName>("\"../x\"").is_err());
    }
}
