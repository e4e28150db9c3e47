//! tracewire's runtime crate: logging, span events and trace identity for an HTTP frontend and
//! its workers.
//!
//! Start with [`logging`]: `logging::init()` configures everything from `DYN_LOG`,
//! `DYN_LOGGING_JSONL` and the TOML file named by `DYN_LOGGING_CONFIG_PATH`.

pub mod http;
pub mod logging;
pub mod otlp;
pub mod plane;
pub mod propagation;
pub mod serve;
pub mod wire;
