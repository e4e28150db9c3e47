//! The value types of request-scoped logging's settings (`request_level`, `[capture]`,
//! `[rate_limit]`; their variables and keys are rows of `logging::SETTINGS`).

use std::str::FromStr;

use tracing::Level;

use crate::{settings::Rejected, subscriber::directives::parse_level};

/// A level, or `off` for none (`DYN_LOG_REQUEST_LEVEL`, `DYN_LOG_CAPTURE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verbosity(pub Option<Level>);

impl FromStr for Verbosity {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        parse_level(s)
            .map(|l| Verbosity(l.into_level()))
            .ok_or_else(|| Rejected::new(s, "expected one of error, warn, info, debug, trace, off"))
    }
}

crate::setting_value!(Verbosity, STRING, "a string");

/// The most lines a second a callsite may be allowed (more is no limit at all).
pub const MAX_RATE: u32 = 1_000_000_000;
/// The largest capture limit accepted, in bytes (held in memory).
pub const MAX_CAPTURE_BYTES: usize = 1 << 30;
/// The most lines one request may hold (SPEC §9).
pub const MAX_CAPTURE_LINES: usize = 100_000;
