//! Settings, the bottom layer beside `trace`: the [`ConfigError`] every part of the
//! configuration returns, every environment variable's name ([`env`](mod@env)), the table of
//! settings that reads the environment and the TOML file through the same rows ([`Setting`]),
//! and the value types and parsers they share.
//!
//! A setting is written in two places: its typed field, whose default is in its config's one
//! `impl Default`, and its row in a table (`logging::SETTINGS` for the logging file's
//! settings). Its value type implements `FromStr` and `Deserialize` ([`setting_value!`]) with
//! its own "accepted values" error ([`Rejected`]); the environment is read through an
//! [`env::Lookup`], so tests pass a table instead of touching the process environment.
//!
//! [`setting_value!`]: crate::setting_value

pub mod env;
mod error;
mod file;
mod parse;
mod secret;
mod table;
mod value;

pub use error::{ConfigError, FileSetting, Origin};
pub use file::{read_config_file, MAX_CONFIG_BYTES};
pub use parse::{percent_decode, TomlSource};
pub use secret::Secret;
pub use table::{apply_env, apply_file, Input, Setter, Setting};
pub use value::{deserialize_parsed, keyword, number_in, Flag, Kinds, Rejected};
