//! The configuration error: names where the bad value came from, the value, and what is accepted.
//! Failures that are not about the configuration (a thread that cannot start, a subscriber
//! already installed) are `logging::InitError`.

use std::{fmt, io, path::PathBuf};

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable, by name.
    Env(&'static str),
    /// A line of the TOML file.
    File {
        /// The file as named by `DYN_LOGGING_CONFIG_PATH`.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(name) => f.write_str(name),
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
        }
    }
}

/// A file path and where it was set, so that an unreadable file is an error naming both.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSetting {
    /// The path as given.
    pub path: PathBuf,
    /// The variable or file:line that named it.
    pub origin: Origin,
}

impl FileSetting {
    /// `path`, named by the variable `name`.
    pub fn env(name: &'static str, path: impl Into<PathBuf>) -> Self {
        FileSetting {
            path: path.into(),
            origin: Origin::Env(name),
        }
    }
}

/// A configuration value that is not accepted, or a TOML file that cannot be read or parsed. Its
/// `Display` is one line that names the culprit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that is not accepted, with what would be.
    #[error("{origin}: {value:?}: {reason}")]
    Invalid {
        /// Variable or file:line.
        origin: Origin,
        /// The offending value (or the offending part of it).
        value: String,
        /// What is wrong and what is accepted.
        reason: String,
    },
    /// A value that is not accepted and must not be repeated: a secret (an OTLP header).
    #[error("{origin}: {reason}")]
    Secret {
        /// Variable or file:line.
        origin: Origin,
        /// What is wrong and what is accepted, without the value.
        reason: String,
    },
    /// The TOML file is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("{origin}: {message}")]
    File {
        /// file:line.
        origin: Origin,
        /// The parser's message, on one line.
        message: String,
    },
    /// The path named by `DYN_LOGGING_CONFIG_PATH` is not a regular file of at most 1 MiB of
    /// UTF-8 text.
    #[error("DYN_LOGGING_CONFIG_PATH: {path:?}: the configuration must be a regular file of at most 1 MiB of text, and this is {what}")]
    NotAConfigFile {
        /// The path as given.
        path: PathBuf,
        /// What it is instead.
        what: String,
    },
    /// The TOML file named by `DYN_LOGGING_CONFIG_PATH` cannot be read.
    #[error("DYN_LOGGING_CONFIG_PATH: cannot read {path:?}: {source}")]
    ReadFile {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl ConfigError {
    /// A value that is not accepted: `origin`, the value, what is wrong and what is accepted.
    pub fn invalid(origin: Origin, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            origin,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}
