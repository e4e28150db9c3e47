//! Settings, the bottom layer beside `trace`: the [`ConfigError`] every part of the
//! configuration returns, every environment variable's name ([`env`](mod@env)), and the value parsers
//! they share.
//!
//! Each part of the crate owns its own settings struct and TOML table (`logging::LoggingConfig`,
//! `otlp::OtlpConfig`, the output queue and file); they all read the environment through an
//! [`env::Lookup`] and name the culprit of a bad value the same way.

pub mod env;
mod error;
mod file;
mod parse;

pub use error::{ConfigError, Origin};
pub use file::{read_config_file, MAX_CONFIG_BYTES};
pub use parse::{parse_bool, parse_keyword, percent_decode, TomlBool, TomlSource};
