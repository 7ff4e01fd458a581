//! Configuration plumbing shared by every config type: the one YAML entry point and
//! the error collection that reports every problem at once, each with its path.

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// One problem found in a configuration, located by its path (`model.n_trees`,
/// `preprocessing.steps[1].columns[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigIssue {
    /// Dotted path of the offending key, as the user wrote it in the YAML.
    pub path: String,
    /// What is wrong, naming the expected and the found value.
    pub message: String,
}

/// Every problem found while validating a configuration. Validation collects them all
/// instead of stopping at the first, so a user fixes a config in one round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConfigErrors {
    /// The problems, in the order they were found.
    pub issues: Vec<ConfigIssue>,
}

impl ConfigErrors {
    /// An empty collection.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem at `path`.
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Adds every problem of `other`, prefixing its paths with `prefix`.
    pub fn extend_prefixed(&mut self, prefix: &str, other: ConfigErrors) {
        for issue in other.issues {
            let path = if issue.path.is_empty() {
                prefix.to_owned()
            } else if issue.path.starts_with('[') {
                format!("{prefix}{}", issue.path)
            } else {
                format!("{prefix}.{}", issue.path)
            };
            self.issues.push(ConfigIssue {
                path,
                message: issue.message,
            });
        }
    }

    /// True when no problem was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }

    /// `Ok(value)` when no problem was recorded, else `Err(self)`.
    ///
    /// # Errors
    /// Returns `self` when it holds at least one issue.
    pub fn into_result<T>(self, value: T) -> Result<T, ConfigErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        write!(
            f,
            "{n} configuration error{}",
            if n == 1 { "" } else { "s" }
        )?;
        for issue in &self.issues {
            write!(f, "\n  - {}: {}", issue.path, issue.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// A YAML document that could not be parsed into its configuration type.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}{}", location.map(|(l, c)| format!(" (line {l}, column {c})")).unwrap_or_default())]
pub struct YamlError {
    /// Path of the key where parsing failed (`.` for the document root).
    pub path: String,
    /// The parser's message: an unknown key names itself and the keys that are allowed.
    pub message: String,
    /// Line and column (1-based) in the document, when the parser knows them.
    pub location: Option<(usize, usize)>,
}

/// Parses a YAML document into `T`. Every YAML read in Ferry goes through here, so that
/// swapping the deprecated `serde_yaml` for a maintained fork is a one-file change.
///
/// # Errors
/// Returns [`YamlError`] with the path of the failing key and its line, e.g. for an
/// unknown key rejected by `deny_unknown_fields`.
pub fn from_yaml_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    T::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|err| {
        let location = err.location().map(|l| (l.line(), l.column()));
        // serde_yaml renders errors as "<path>: <message> at line L column C"; split the
        // path out so callers can report it like any other config issue.
        let text = err.to_string();
        let text = match text.rfind(" at line ") {
            Some(i) if location.is_some() => text[..i].to_owned(),
            Some(_) | None => text,
        };
        let (path, message) = match text.split_once(": ") {
            Some((p, m)) if !p.contains(' ') => (p.to_owned(), m.to_owned()),
            Some(_) | None => (".".to_owned(), text),
        };
        YamlError {
            path,
            message,
            location,
        }
    })
}

/// Serialises `value` as YAML (used to store the resolved config in an artifact).
///
/// # Errors
/// Returns the serialiser's message when `value` cannot be represented in YAML.
pub fn to_yaml_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    serde_yaml::to_string(value).map_err(|err| YamlError {
        path: ".".to_owned(),
        message: err.to_string(),
        location: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        inner: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        seed: u64,
    }

    #[test]
    fn unknown_key_names_key_path_and_line() {
        let err = from_yaml_str::<Outer>("inner:\n  seed: 1\n  sed: 2\n").unwrap_err();
        assert_eq!(err.path, "inner");
        assert!(
            err.message.contains("unknown field `sed`"),
            "{}",
            err.message
        );
        assert_eq!(err.location.map(|l| l.0), Some(3));
    }

    #[test]
    fn errors_render_every_issue() {
        let mut errors = ConfigErrors::new();
        errors.push("a", "bad");
        let mut inner = ConfigErrors::new();
        inner.push("b", "worse");
        inner.push("[0]", "worst");
        errors.extend_prefixed("root", inner);
        insta::assert_snapshot!(errors.to_string(), @r"
        3 configuration errors
          - a: bad
          - root.b: worse
          - root[0]: worst
        ");
    }
}
