//! Test support (feature `testing`): run code under a scoped subscriber writing to memory, and
//! read the lines back as typed [`Line`]s, with duplicate keys and the fixed keys checked
//! (serde_json's `Value` would silently keep the last of two equal keys).
//!
//! ```
//! use tracewire_runtime::logging::testing::{json, jsonl};
//! let lines = json(&jsonl(), || tracing::info_span!("s").in_scope(|| tracing::info!(n = 1, "hi")));
//! assert_eq!(lines[1].message, "hi");
//! assert_eq!(lines[1]["n"], 1);
//! assert_eq!(lines[1].span_id, lines[0].span_id);
//! ```

use std::{
    fmt,
    ops::Index,
    time::{Duration, SystemTime},
};

use serde::{
    de::{Deserialize, Deserializer, MapAccess, Visitor},
    Deserialize as DeriveDeserialize,
};
use serde_json::{Map, Value};
use tracing_subscriber::layer::SubscriberExt;

use super::{directives, Format, LoggingConfig, MemorySink, TracewireLayer};
use crate::settings::Origin;

/// One JSONL line: the fixed keys of SPEC §3-4 typed, every other key in [`fields`](Self::fields)
/// (also reachable as `line["name"]`).
#[derive(Debug, Clone, PartialEq, DeriveDeserialize)]
pub struct Line {
    /// RFC 3339 with microseconds.
    pub time: String,
    /// `ERROR` … `TRACE`.
    pub level: String,
    /// The callsite's file.
    #[serde(default)]
    pub file: Option<String>,
    /// The callsite's line.
    #[serde(default)]
    pub line: Option<u32>,
    /// The target.
    pub target: String,
    /// The message.
    pub message: String,
    /// The current span's name.
    #[serde(default)]
    pub span_name: Option<String>,
    /// The trace.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The current span.
    #[serde(default)]
    pub span_id: Option<String>,
    /// The current span's parent.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The request's id.
    #[serde(default)]
    pub x_request_id: Option<String>,
    /// `SPAN_CLOSED`: time entered.
    #[serde(default, rename = "time.busy_us")]
    pub busy_us: Option<u64>,
    /// `SPAN_CLOSED`: the rest.
    #[serde(default, rename = "time.idle_us")]
    pub idle_us: Option<u64>,
    /// `SPAN_CLOSED`: busy + idle.
    #[serde(default, rename = "time.duration_us")]
    pub duration_us: Option<u64>,
    /// Every other key: event and span fields, `log.*`.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl Line {
    /// Whether the line has this event or span field.
    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// The line's span name, or `""` outside spans.
    pub fn span(&self) -> &str {
        self.span_name.as_deref().unwrap_or("")
    }

    /// `SPAN_CLOSED`'s busy, idle and duration microseconds; panics on another line.
    pub fn timings(&self) -> (u64, u64, u64) {
        match (self.busy_us, self.idle_us, self.duration_us) {
            (Some(busy), Some(idle), Some(duration)) => (busy, idle, duration),
            _ => panic!("no timings in {self:?}"),
        }
    }
}

/// A field's value; panics, naming the field and the line, if it has none.
impl Index<&str> for Line {
    type Output = Value;

    fn index(&self, field: &str) -> &Value {
        self.fields
            .get(field)
            .unwrap_or_else(|| panic!("no field {field:?} in {self:?}"))
    }
}

/// Parses one line as a [`Line`]: panics, with the line, on invalid JSON, a duplicate key, keys
/// out of order, a missing fixed key or an id of the wrong form.
pub fn parse_line(line: &str) -> Line {
    let keys = key_order(line);
    for (i, k) in keys.iter().enumerate() {
        assert!(!keys[..i].contains(k), "duplicate key {k:?} in {line}");
    }
    assert_eq!(keys[..2], ["time", "level"], "fixed keys first: {line}");
    let parsed: Line = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("not a line of SPEC §3 ({e}): {line}"));
    let hex = |id: &Option<String>, len: usize| {
        if let Some(s) = id {
            assert!(
                s.len() == len
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                    && s.bytes().any(|b| b != b'0'),
                "bad id {s:?} in {line}"
            );
        }
    };
    hex(&parsed.trace_id, 32);
    hex(&parsed.span_id, 16);
    hex(&parsed.parent_id, 16);
    assert!(
        ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&parsed.level.as_str()),
        "level in {line}"
    );
    parsed
}

/// The keys of a JSON object in order, duplicates kept.
pub fn key_order(line: &str) -> Vec<String> {
    serde_json::from_str::<Keys>(line)
        .unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"))
        .0
}

struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Keys;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                    keys.push(k);
                }
                Ok(Keys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

/// 2025-09-02T15:50:01.770028Z, the reference document's first timestamp.
pub fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(1_756_828_201_770_028)
}

/// JSONL with span events, the rest default.
pub fn jsonl() -> LoggingConfig {
    LoggingConfig {
        format: Format::Jsonl,
        span_events: Some(true),
        ..LoggingConfig::default()
    }
}

/// `config` with `dyn_log` as its `DYN_LOG`.
pub fn with_dyn_log(mut config: LoggingConfig, dyn_log: &str) -> LoggingConfig {
    let origin = Origin::Env("DYN_LOG");
    let parsed = directives::parse_directives(dyn_log, &origin).expect("valid DYN_LOG");
    config.filter = config.filter.overlay(parsed);
    config
}

/// The raw lines written while `f` ran, with times from [`fixed_clock`].
pub fn lines(config: &LoggingConfig, f: impl FnOnce()) -> Vec<String> {
    let sink = MemorySink::default();
    let layer = TracewireLayer::new(config, sink.clone()).with_clock(fixed_clock);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    let contents = sink.contents();
    assert!(
        contents.is_empty() || contents.ends_with('\n'),
        "every line ends with a newline"
    );
    contents.lines().map(str::to_owned).collect()
}

/// The lines written while `f` ran, parsed and checked by [`parse_line`].
pub fn json(config: &LoggingConfig, f: impl FnOnce()) -> Vec<Line> {
    lines(config, f).iter().map(|l| parse_line(l)).collect()
}

/// What `future` gave, run to its end on a Tokio runtime of this thread, and the lines written
/// meanwhile (by it and by every task it spawned there), parsed as [`json`] does.
pub fn json_async<F: std::future::Future>(
    config: &LoggingConfig,
    future: F,
) -> (F::Output, Vec<Line>) {
    let mut output = None;
    let lines = json(config, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        output = Some(runtime.block_on(future));
    });
    (output.expect("the future ran"), lines)
}
