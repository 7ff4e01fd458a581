//! API keys: who may call what. Keys come from a file or an environment variable (never
//! a flag, which `ps` shows), one per line as `name:scopes:key` (`scopes` is `predict`,
//! `admin` or `predict+admin`). Only each key's SHA-256 is kept; a presented key is
//! hashed and compared with every stored digest in constant time, so neither the match
//! nor its position leaks through timing. Keys are never logged: the log names the key's
//! `name`.
//!
//! Requests carry a key as `Authorization: Bearer KEY` or `X-API-Key: KEY`. No key or an
//! unknown one is a 401; a known key without the route's scope a 403. Health and
//! readiness routes are open unless configured otherwise. The check itself is
//! [`crate::middleware::auth`]; this module holds the keys and the route policy.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes {
    /// Predict and read model metadata (every protocol).
    pub predict: bool,
    /// Administer the server (`/admin/...`).
    pub admin: bool,
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.predict, self.admin) {
            (true, true) => f.write_str("predict+admin"),
            (true, false) => f.write_str("predict"),
            (false, true) => f.write_str("admin"),
            (false, false) => f.write_str("none"),
        }
    }
}

/// A route's required scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `predict`.
    Predict,
    /// `admin`.
    Admin,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Predict => "predict",
            Scope::Admin => "admin",
        })
    }
}

/// Routes that can be left open to callers without a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicRoute {
    /// `/health`, `/ping` and `/v2/health/live`.
    Health,
    /// `/ready` and `/v2/health/ready`.
    Ready,
    /// `/openapi.json` and the `/docs` pages.
    Docs,
    /// `/metrics`.
    Metrics,
}

/// One key, as stored.
#[derive(Clone)]
pub(crate) struct Key {
    /// The key's name (logged; the key never is).
    pub(crate) name: String,
    /// What it may do.
    pub(crate) scopes: Scopes,
    digest: Digest,
}

/// A key's SHA-256 as four words: compared in constant time a word at a time.
type Digest = [u64; 4];

/// The SHA-256 of `key`.
fn digest(key: &str) -> Digest {
    let bytes: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut words = [0; 4];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
    words
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The digest is not secret, but there is no reason to print it either.
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The configured keys and open routes.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    keys: Vec<Key>,
    public: Vec<PublicRoute>,
}

/// Why a key list does not parse. Messages name the source and line, never a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeysError {
    /// A line that is not `name:scopes:key`.
    #[error("{at}: expected name:scopes:key")]
    Malformed {
        /// Source and line.
        at: String,
    },
    /// An empty name.
    #[error("{at}: the key has no name")]
    NoName {
        /// Source and line.
        at: String,
    },
    /// A scope other than `predict` and `admin`.
    #[error("{at}: unknown scope '{scope}', expected predict, admin or predict+admin")]
    UnknownScope {
        /// Source and line.
        at: String,
        /// The scope given.
        scope: String,
    },
    /// A key shorter than [`MIN_KEY_LEN`].
    #[error("{at}: key '{name}' is shorter than {MIN_KEY_LEN} characters")]
    Short {
        /// Source and line.
        at: String,
        /// The key's name.
        name: String,
    },
    /// A name used twice.
    #[error("{at}: the name '{name}' is used twice")]
    Repeated {
        /// Source and line.
        at: String,
        /// The name.
        name: String,
    },
    /// A source without a key.
    #[error("{0} holds no key")]
    Empty(String),
}

/// The shortest key accepted, in characters.
pub const MIN_KEY_LEN: usize = 16;

impl ApiKeys {
    /// Parses `name:scopes:key` lines (blank lines and `#` comments skipped) from
    /// `source` (a file name or an environment variable, for messages), leaving
    /// `public` routes open.
    ///
    /// # Errors
    /// [`ApiKeysError`] naming the source and line of a malformed entry, a short key, an
    /// unknown scope or a repeated name; never the key itself.
    pub fn parse(text: &str, source: &str, public: Vec<PublicRoute>) -> Result<Self, ApiKeysError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{source} line {}", i + 1);
            let mut parts = line.splitn(3, ':');
            let (Some(name), Some(scopes), Some(key)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(ApiKeysError::Malformed { at });
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(ApiKeysError::NoName { at });
            }
            let mut parsed = Scopes::default();
            for scope in scopes.split('+').map(str::trim) {
                match scope {
                    "predict" => parsed.predict = true,
                    "admin" => parsed.admin = true,
                    other => {
                        return Err(ApiKeysError::UnknownScope {
                            at,
                            scope: other.to_owned(),
                        });
                    }
                }
            }
            let key = key.trim();
            if key.chars().count() < MIN_KEY_LEN {
                return Err(ApiKeysError::Short {
                    at,
                    name: name.to_owned(),
                });
            }
            if keys.iter().any(|k| k.name == name) {
                return Err(ApiKeysError::Repeated {
                    at,
                    name: name.to_owned(),
                });
            }
            keys.push(Key {
                name: name.to_owned(),
                scopes: parsed,
                digest: digest(key),
            });
        }
        if keys.is_empty() {
            return Err(ApiKeysError::Empty(source.to_owned()));
        }
        Ok(Self { keys, public })
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no key (never, once parsed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key `presented` matches, compared with every key in constant time.
    pub(crate) fn find(&self, presented: &str) -> Option<&Key> {
        let digest = digest(presented);
        let mut found = None;
        for key in &self.keys {
            // No early exit: every digest is compared.
            if bool::from(key.digest.ct_eq(&digest)) {
                found = Some(key);
            }
        }
        found
    }

    /// Whether `route` is left open.
    pub(crate) fn is_public(&self, route: Option<PublicRoute>) -> bool {
        route.is_some_and(|r| self.public.contains(&r))
    }
}

/// The open-able route `path` is, if it is one.
pub(crate) fn public_route(path: &str) -> Option<PublicRoute> {
    match path {
        "/health" | "/ping" | "/v2/health/live" => Some(PublicRoute::Health),
        "/ready" | "/v2/health/ready" => Some(PublicRoute::Ready),
        "/openapi.json" | "/docs" => Some(PublicRoute::Docs),
        "/metrics" => Some(PublicRoute::Metrics),
        p if p.starts_with("/docs/") => Some(PublicRoute::Docs),
        _ => None,
    }
}

/// The scope `path` needs.
pub(crate) fn required_scope(path: &str) -> Scope {
    if path == "/admin" || path.starts_with("/admin/") {
        Scope::Admin
    } else {
        Scope::Predict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &str = "# name:scopes:key\n\
                        client:predict:0123456789abcdef-client\n\
                        ops:predict+admin:0123456789abcdef-ops\n";

    #[test]
    fn keys_parse_and_match_by_digest() {
        let keys = ApiKeys::parse(KEYS, "keys.txt", vec![PublicRoute::Health]).unwrap();
        assert_eq!(keys.len(), 2);
        let client = keys.find("0123456789abcdef-client").unwrap();
        assert_eq!(client.name, "client");
        assert_eq!(
            client.scopes,
            Scopes {
                predict: true,
                admin: false
            }
        );
        assert!(keys.find("0123456789abcdef-ops").unwrap().scopes.admin);
        assert!(keys.find("0123456789abcdef").is_none());
        assert!(!format!("{keys:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn bad_entries_are_named_by_line_without_the_key() {
        for (text, message) in [
            ("a:predict", "keys.txt line 1: expected name:scopes:key"),
            (
                "a:read:0123456789abcdefXYZ",
                "keys.txt line 1: unknown scope 'read', expected predict, admin or predict+admin",
            ),
            (
                "\na:predict:short",
                "keys.txt line 2: key 'a' is shorter than 16 characters",
            ),
            (
                "a:predict:0123456789abcdef1\na:admin:0123456789abcdef2",
                "keys.txt line 2: the name 'a' is used twice",
            ),
            ("# nothing\n", "keys.txt holds no key"),
        ] {
            let err = ApiKeys::parse(text, "keys.txt", Vec::new()).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(!err.to_string().contains("0123456789abcdef"), "{err}");
        }
    }

    #[test]
    fn routes_need_their_scope() {
        assert_eq!(required_scope("/admin/reload"), Scope::Admin);
        assert_eq!(required_scope("/models/iris/predict"), Scope::Predict);
        assert_eq!(required_scope("/administrator"), Scope::Predict);
        assert_eq!(public_route("/v2/health/ready"), Some(PublicRoute::Ready));
        assert_eq!(public_route("/models"), None);
    }
}
