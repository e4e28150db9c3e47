//! Reading [`ScopeConfig`] from the TOML file (`request_level`, `[capture]`, `[rate_limit]`) and
//! the environment (`DYN_LOG_REQUEST_LEVEL`, `DYN_LOG_CAPTURE`, `DYN_LOG_RATE_LIMIT`), the
//! environment winning key by key.

use serde::Deserialize;
use toml::Spanned;
use tracing::Level;

use super::{CaptureConfig, ScopeConfig};
use crate::{
    logging::directives::parse_level,
    settings::{
        env::{self, Lookup},
        ConfigError, Origin, TomlSource,
    },
};

/// `[capture]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaptureSection {
    level: Spanned<String>,
    max_lines: Option<Spanned<i64>>,
    max_bytes: Option<Spanned<i64>>,
    total_bytes: Option<Spanned<i64>>,
}

/// `[rate_limit]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitSection {
    per_callsite_per_s: Spanned<i64>,
}

/// What the sources said so far; `None`: not set yet.
#[derive(Default)]
pub(crate) struct ScopePartial {
    /// `Some(None)`: set to `off`.
    request_level: Option<Option<Level>>,
    capture_level: Option<Option<Level>>,
    max_lines: Option<usize>,
    max_bytes: Option<usize>,
    total_bytes: Option<usize>,
    rate_limit: Option<Option<u32>>,
}

const LEVELS: &str = "expected one of error, warn, info, debug, trace, off";
/// The most lines a second a callsite may be allowed (more is no limit at all).
const MAX_RATE: i64 = 1_000_000_000;
/// The largest capture limit accepted (held in memory).
const MAX_CAPTURE_BYTES: i64 = 1 << 30;

impl ScopePartial {
    pub(crate) fn resolve(self) -> ScopeConfig {
        ScopeConfig {
            request_level: self.request_level.flatten(),
            capture: self.capture_level.flatten().map(|level| CaptureConfig {
                level,
                max_lines: self.max_lines.unwrap_or(CaptureConfig::DEFAULT_MAX_LINES),
                max_bytes: self.max_bytes.unwrap_or(CaptureConfig::DEFAULT_MAX_BYTES),
                total_bytes: self
                    .total_bytes
                    .unwrap_or(CaptureConfig::DEFAULT_TOTAL_BYTES),
            }),
            rate_limit: self.rate_limit.flatten(),
        }
    }

    pub(crate) fn apply_env(&mut self, lookup: Lookup<'_>) -> Result<(), ConfigError> {
        if let Some(v) = lookup(env::DYN_LOG_REQUEST_LEVEL) {
            self.request_level = Some(level(&v, &Origin::Env(env::DYN_LOG_REQUEST_LEVEL))?);
        }
        if let Some(v) = lookup(env::DYN_LOG_CAPTURE) {
            self.capture_level = Some(level(&v, &Origin::Env(env::DYN_LOG_CAPTURE))?);
        }
        if let Some(v) = lookup(env::DYN_LOG_RATE_LIMIT) {
            self.rate_limit = Some(rate(&v, &Origin::Env(env::DYN_LOG_RATE_LIMIT))?);
        }
        Ok(())
    }

    pub(crate) fn apply_file(
        &mut self,
        source: &TomlSource<'_>,
        request_level: Option<&Spanned<String>>,
        capture: Option<&CaptureSection>,
        rate_limit: Option<&RateLimitSection>,
    ) -> Result<(), ConfigError> {
        if let Some(v) = request_level {
            self.request_level = Some(level(v.get_ref(), &source.at(v.span().start))?);
        }
        if let Some(c) = capture {
            self.capture_level = Some(level(c.level.get_ref(), &source.at(c.level.span().start))?);
            for (value, slot, key, max) in [
                (&c.max_lines, &mut self.max_lines, "max_lines", 1 << 20),
                (
                    &c.max_bytes,
                    &mut self.max_bytes,
                    "max_bytes",
                    MAX_CAPTURE_BYTES,
                ),
                (
                    &c.total_bytes,
                    &mut self.total_bytes,
                    "total_bytes",
                    MAX_CAPTURE_BYTES,
                ),
            ] {
                if let Some(v) = value {
                    let n = *v.get_ref();
                    if !(1..=max).contains(&n) {
                        return Err(ConfigError::invalid(
                            source.at(v.span().start),
                            &n.to_string(),
                            format!("[capture] {key}: expected a number from 1 to {max}"),
                        ));
                    }
                    *slot = Some(n as usize);
                }
            }
        }
        if let Some(r) = rate_limit {
            let v = &r.per_callsite_per_s;
            let origin = source.at(v.span().start);
            self.rate_limit = Some(rate(&v.get_ref().to_string(), &origin)?);
        }
        Ok(())
    }
}

/// A level name, or `off` for none.
fn level(value: &str, origin: &Origin) -> Result<Option<Level>, ConfigError> {
    parse_level(value)
        .map(|l| l.into_level())
        .ok_or_else(|| ConfigError::invalid(origin.clone(), value, LEVELS))
}

/// Lines a second, 0 for no limit.
fn rate(value: &str, origin: &Origin) -> Result<Option<u32>, ConfigError> {
    match value.trim().parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if (1..=MAX_RATE).contains(&n) => Ok(Some(n as u32)),
        _ => Err(ConfigError::invalid(
            origin.clone(),
            value,
            format!("expected lines a second from 1 to {MAX_RATE} (0 for no limit)"),
        )),
    }
}
