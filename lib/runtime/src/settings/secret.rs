//! A secret setting (`DYN_SYSTEM_TOKEN`, `DYN_LOG_CLIENT_TOKEN`): never shown by `Debug`, and
//! compared in constant time.

use std::{fmt, sync::Arc};

/// A token a caller must present. Its `Debug` is `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// `value` as a secret; `None` if it is empty (an empty token is no token).
    pub fn new(value: &str) -> Option<Self> {
        (!value.is_empty()).then(|| Secret(Arc::from(value)))
    }

    /// The value, for the one place that sends it (a server's credentials).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is the secret, in time that depends on its length only: a caller timing
    /// the answer learns no prefix.
    pub fn matches(&self, given: &[u8]) -> bool {
        let secret = self.0.as_bytes();
        given.len() == secret.len()
            && given
                .iter()
                .zip(secret)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_matches_itself_only_and_never_shows() {
        let s = Secret::new("s3cret").unwrap();
        assert!(s.matches(b"s3cret"));
        for (given, why) in [
            (&b"s3cre"[..], "a prefix"),
            (b"s3cret ", "longer"),
            (b"S3cret", "another case"),
            (b"", "nothing"),
        ] {
            assert!(!s.matches(given), "{why}");
        }
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert!(Secret::new("").is_none(), "empty is no token");
    }
}
