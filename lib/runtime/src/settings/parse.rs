//! Percent-encoded text, and where in a TOML file a value was.

use std::path::{Path, PathBuf};

use super::error::{ConfigError, Origin};

/// Decodes `%XX` escapes (as the OpenTelemetry variables that carry key-value lists use them);
/// `None` for a bad escape or text that is not UTF-8 once decoded.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The text of a TOML file and its path, to name `file:line` in errors.
#[derive(Debug, Clone)]
pub struct TomlSource<'a> {
    /// The file as named.
    pub path: &'a Path,
    /// Its contents.
    pub text: &'a str,
    /// Where each line starts, found once: a line number per key would otherwise rescan the
    /// text from its start (quadratic in a file of many keys).
    line_starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> TomlSource<'a> {
    /// The file `path` holding `text`.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        TomlSource {
            path,
            text,
            line_starts: std::cell::OnceCell::new(),
        }
    }

    /// The origin of the value at byte `offset`.
    pub fn at(&self, offset: usize) -> Origin {
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(self.text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = starts.partition_point(|&start| start <= offset).max(1);
        Origin::File {
            path: PathBuf::from(self.path),
            line,
        }
    }

    /// Walks the file with `seed` (a settings table); a syntax error, an unknown key or a wrong
    /// type is one line naming `file:line`.
    pub(super) fn parse_seed<'de, S: serde::de::DeserializeSeed<'de>>(
        &self,
        seed: S,
    ) -> Result<S::Value, ConfigError> {
        seed.deserialize(toml::Deserializer::new(self.text))
            .map_err(|e| ConfigError::File {
                origin: self.at(e.span().map_or(0, |s| s.start)),
                message: e.message().replace('\n', " "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Flag;

    #[test]
    fn booleans() {
        let origin = Origin::Env("DYN_LOGGING_JSONL");
        for v in ["1", "true", "TRUE", " yes ", "On"] {
            assert_eq!(v.parse::<Flag>().ok().map(|f| f.0), Some(true), "{v:?}");
        }
        for v in ["0", "false", "False", "no", "OFF\n"] {
            assert_eq!(v.parse::<Flag>().ok().map(|f| f.0), Some(false), "{v:?}");
        }
        for (v, reason) in [
            ("", "empty"),
            ("y", "abbreviation"),
            ("2", "other number"),
            ("treu", "typo"),
            ("true!", "trailing junk"),
        ] {
            let err = v
                .parse::<Flag>()
                .expect_err(reason)
                .at(origin.clone())
                .to_string();
            assert!(err.starts_with("DYN_LOGGING_JSONL: "), "{reason}: {err}");
            assert!(
                err.contains(&format!("{v:?}"))
                    && err.contains(super::super::value::BOOLEANS_ACCEPTED),
                "{reason}: {err}"
            );
        }
    }

    #[test]
    fn keywords_and_percent_decoding() {
        let origin = Origin::Env("X");
        let words = [("block", 1), ("drop", 2)];
        let keyword = crate::settings::keyword;
        assert_eq!(
            keyword(" DROP ", &words, "expected block or drop").ok(),
            Some(2)
        );
        let err = keyword("lose", &words, "expected block or drop").unwrap_err();
        assert_eq!(
            err.at(origin).to_string(),
            "X: \"lose\": expected block or drop"
        );
        for (text, want, reason) in [
            ("a%20b", Some("a b"), "a space"),
            ("%C3%A9", Some("é"), "UTF-8 in two escapes"),
            ("plain", Some("plain"), "nothing to decode"),
            ("%zz", None, "not hex"),
            ("%2", None, "cut short"),
            ("%ff", None, "not UTF-8"),
        ] {
            assert_eq!(percent_decode(text).as_deref(), want, "{reason}");
        }
    }
}
