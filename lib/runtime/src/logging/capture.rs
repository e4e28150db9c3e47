//! Test support: run code under a scoped subscriber writing to memory, and read the lines back
//! as JSON with duplicate keys detected (serde_json's `Value` would silently keep the last).

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use tracing_subscriber::layer::SubscriberExt;

use super::{Format, LoggingConfig, MemorySink, TracewireLayer};

/// 2025-09-02T15:50:01.770028Z, the reference document's first timestamp.
pub(crate) fn fixed_clock() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_micros(1_756_828_201_770_028)
}

pub(crate) fn jsonl() -> LoggingConfig {
    LoggingConfig {
        format: Format::Jsonl,
        span_events: true,
        ..LoggingConfig::default()
    }
}

pub(crate) fn with_dyn_log(mut config: LoggingConfig, dyn_log: &str) -> LoggingConfig {
    let origin = super::Origin::Env("DYN_LOG");
    let parsed = super::directives::parse_directives(dyn_log, &origin).expect("valid DYN_LOG");
    config.filter = config.filter.overlay(parsed);
    config
}

/// The raw lines written while `f` ran.
pub(crate) fn lines(config: &LoggingConfig, f: impl FnOnce()) -> Vec<String> {
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

/// The JSON objects written while `f` ran, each checked against SPEC §3.
pub(crate) fn json(config: &LoggingConfig, f: impl FnOnce()) -> Vec<Map<String, Value>> {
    lines(config, f).iter().map(|l| parse_line(l)).collect()
}

/// Parses one line as a JSON object, failing on duplicate keys, and checks the fixed keys.
pub(crate) fn parse_line(line: &str) -> Map<String, Value> {
    let Keys(keys) =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"));
    for (i, k) in keys.iter().enumerate() {
        assert!(!keys[..i].contains(k), "duplicate key {k:?} in {line}");
    }
    let object: Map<String, Value> = serde_json::from_str(line).expect("object");
    let hex = |key: &str, len: usize| {
        if let Some(v) = object.get(key) {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("{key} is a string: {line}"));
            assert!(
                s.len() == len
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{key} {s:?}"
            );
            assert!(s.bytes().any(|b| b != b'0'), "{key} all zero");
        }
    };
    hex("trace_id", 32);
    hex("span_id", 16);
    hex("parent_id", 16);
    for key in ["time", "level", "target", "message"] {
        assert!(
            object.get(key).is_some_and(Value::is_string),
            "{key} missing or not a string: {line}"
        );
    }
    assert!(["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
        .contains(&object["level"].as_str().unwrap_or("")));
    assert_eq!(keys[..2], ["time", "level"], "fixed keys first: {line}");
    object
}

/// The keys of a JSON object in order, duplicates kept.
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

/// The keys of a line in order, for order assertions.
pub(crate) fn key_order(line: &str) -> Vec<String> {
    serde_json::from_str::<Keys>(line).expect("object").0
}
