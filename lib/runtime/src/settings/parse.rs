//! Value parsers shared by every part of the configuration: booleans, keywords, percent-encoded
//! text, and where in a TOML file a value was.

use std::path::{Path, PathBuf};

use super::error::{ConfigError, Origin};

const BOOLEANS_ACCEPTED: &str = "expected one of 1, true, yes, on, 0, false, no, off";

/// Parses a boolean: `1 true yes on` and `0 false no off`, case-insensitive, trimmed.
pub fn parse_bool(value: &str, origin: &Origin) -> Result<bool, ConfigError> {
    let v = value.trim();
    let is = |words: [&str; 4]| words.iter().any(|w| w.eq_ignore_ascii_case(v));
    if is(["1", "true", "yes", "on"]) {
        Ok(true)
    } else if is(["0", "false", "no", "off"]) {
        Ok(false)
    } else {
        Err(ConfigError::invalid(
            origin.clone(),
            value,
            BOOLEANS_ACCEPTED,
        ))
    }
}

/// Parses one of a few keywords, case-insensitive and trimmed; `accepted` is the error's
/// "expected …" text.
pub fn parse_keyword<T: Copy>(
    value: &str,
    origin: &Origin,
    keywords: &[(&str, T)],
    accepted: &str,
) -> Result<T, ConfigError> {
    let v = value.trim();
    keywords
        .iter()
        .find(|(word, _)| word.eq_ignore_ascii_case(v))
        .map(|(_, t)| *t)
        .ok_or_else(|| ConfigError::invalid(origin.clone(), value, accepted))
}

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

/// A boolean of the TOML file: a TOML boolean (`jsonl = true`) or one of the strings
/// [`parse_bool`] takes (`jsonl = "yes"`), as the environment's; read it with
/// [`TomlSource::boolean`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TomlBool {
    /// A TOML boolean.
    Bool(bool),
    /// A string, checked when resolved.
    Text(String),
}

impl<'de> serde::Deserialize<'de> for TomlBool {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = TomlBool;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a boolean (true, false, or one of \"yes\", \"no\", \"on\", \"off\", \"1\", \"0\")")
            }
            fn visit_bool<E>(self, v: bool) -> Result<TomlBool, E> {
                Ok(TomlBool::Bool(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<TomlBool, E> {
                Ok(TomlBool::Text(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
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

    /// The value of a boolean key, whose text (if a string) is checked as [`parse_bool`] does.
    pub fn boolean(&self, value: &toml::Spanned<TomlBool>) -> Result<bool, ConfigError> {
        match value.get_ref() {
            TomlBool::Bool(b) => Ok(*b),
            TomlBool::Text(text) => parse_bool(text, &self.at(value.span().start)),
        }
    }

    /// Parses the file into `T`; a syntax error, an unknown key or a wrong type is one line
    /// naming `file:line`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| ConfigError::File {
            origin: self.at(e.span().map_or(0, |s| s.start)),
            message: e.message().replace('\n', " "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        let origin = Origin::Env("DYN_LOGGING_JSONL");
        for v in ["1", "true", "TRUE", " yes ", "On"] {
            assert_eq!(parse_bool(v, &origin).ok(), Some(true), "{v:?}");
        }
        for v in ["0", "false", "False", "no", "OFF\n"] {
            assert_eq!(parse_bool(v, &origin).ok(), Some(false), "{v:?}");
        }
        for (v, reason) in [
            ("", "empty"),
            ("y", "abbreviation"),
            ("2", "other number"),
            ("treu", "typo"),
            ("true!", "trailing junk"),
        ] {
            let err = parse_bool(v, &origin).expect_err(reason).to_string();
            assert!(err.starts_with("DYN_LOGGING_JSONL: "), "{reason}: {err}");
            assert!(
                err.contains(&format!("{v:?}")) && err.contains(BOOLEANS_ACCEPTED),
                "{reason}: {err}"
            );
        }
    }

    #[test]
    fn keywords_and_percent_decoding() {
        let origin = Origin::Env("X");
        let words = [("block", 1), ("drop", 2)];
        assert_eq!(
            parse_keyword(" DROP ", &origin, &words, "expected block or drop").ok(),
            Some(2)
        );
        let err = parse_keyword("lose", &origin, &words, "expected block or drop").unwrap_err();
        assert_eq!(err.to_string(), "X: \"lose\": expected block or drop");
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
