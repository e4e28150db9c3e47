//! One JSONL line (SPEC §3) read back: the fixed keys typed, the rest kept in order on request.
//!
//! Every line of every input goes through [`Record::parse`], so it is a hand-written serde
//! visitor over the line's bytes: strings without escapes are borrowed from the line, values of
//! keys the caller does not keep are skipped unparsed, and the keys are matched against the
//! runtime's own constants ([`tracewire_runtime::logging::keys`]), the one source of their names.

use std::{borrow::Cow, fmt};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use tracewire_runtime::logging::keys;

use crate::time::parse_micros;

/// Text borrowed from the line when it has no escapes.
pub type Text<'a> = Cow<'a, str>;

/// A line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `ERROR`.
    Error,
    /// `WARN`.
    Warn,
    /// `INFO`.
    Info,
    /// `DEBUG`.
    Debug,
    /// `TRACE`.
    Trace,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        Some(match text {
            "ERROR" => Level::Error,
            "WARN" => Level::Warn,
            "INFO" => Level::Info,
            "DEBUG" => Level::Debug,
            "TRACE" => Level::Trace,
            _ => return None,
        })
    }

    /// As JSONL writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// What a span event line says, by its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `SPAN_CREATED`.
    Created,
    /// `SPAN_CLOSED`.
    Closed,
    /// Any other line: an event.
    Event,
}

/// A line of JSONL with the keys of SPEC §3-4.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// `time` as Unix microseconds.
    pub time_us: i64,
    /// `level`.
    pub level: Level,
    /// `target`.
    pub target: Text<'a>,
    /// `message`.
    pub message: Text<'a>,
    /// `span_name`, inside a span.
    pub span_name: Option<Text<'a>>,
    /// `trace_id`: 32 lowercase hex digits.
    pub trace_id: Option<Text<'a>>,
    /// `span_id`: 16 lowercase hex digits.
    pub span_id: Option<Text<'a>>,
    /// `parent_id`, absent on a root span.
    pub parent_id: Option<Text<'a>>,
    /// `x_request_id`.
    pub x_request_id: Option<Text<'a>>,
    /// `time.busy_us`, on `SPAN_CLOSED`.
    pub busy_us: Option<u64>,
    /// `time.idle_us`, on `SPAN_CLOSED`.
    pub idle_us: Option<u64>,
    /// `time.duration_us`, on `SPAN_CLOSED`.
    pub duration_us: Option<u64>,
    /// The `status` field (an HTTP status), when it is an integer.
    pub status: Option<u16>,
    /// The `outcome` field, when it is a string.
    pub outcome: Option<Text<'a>>,
    /// `"captured":true`: written by capture on failure (SPEC §9).
    pub captured: bool,
    /// Every other key in line order (event fields, span fields, `file`, `line`), when parsed
    /// with `keep_fields`.
    pub fields: Vec<(Text<'a>, Value)>,
}

impl Record<'_> {
    /// Whether this line opens or closes a span, or is an event.
    pub fn kind(&self) -> Kind {
        match &*self.message {
            keys::SPAN_CREATED if self.span_id.is_some() => Kind::Created,
            keys::SPAN_CLOSED if self.span_id.is_some() => Kind::Closed,
            _ => Kind::Event,
        }
    }

    /// Turns the borrowed text into owned, for a record kept past its line.
    pub fn into_owned(self) -> Record<'static> {
        fn own(t: Text<'_>) -> Text<'static> {
            Cow::Owned(t.into_owned())
        }
        Record {
            time_us: self.time_us,
            level: self.level,
            target: own(self.target),
            message: own(self.message),
            span_name: self.span_name.map(own),
            trace_id: self.trace_id.map(own),
            span_id: self.span_id.map(own),
            parent_id: self.parent_id.map(own),
            x_request_id: self.x_request_id.map(own),
            busy_us: self.busy_us,
            idle_us: self.idle_us,
            duration_us: self.duration_us,
            status: self.status,
            outcome: self.outcome.map(own),
            captured: self.captured,
            fields: self.fields.into_iter().map(|(k, v)| (own(k), v)).collect(),
        }
    }
}

/// Why a line is not a JSONL line of SPEC §3 (it is skipped and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not one JSON object (the readable format, another program's text, a line cut short).
    NotJson,
    /// Not UTF-8 (SPEC §3: lines are UTF-8).
    NotUtf8,
    /// One of `time`, `level`, `target`, `message` missing or of the wrong type.
    Missing(&'static str),
    /// `time` is not RFC 3339.
    BadTime,
    /// `level` is not one of the five.
    BadLevel,
    /// An id of the wrong length or not lowercase hex.
    BadId(&'static str),
    /// Longer than the reader holds (`input::MAX_LINE_BYTES`).
    TooLong,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::NotJson => f.write_str("not a JSON object"),
            Skip::NotUtf8 => f.write_str("not UTF-8"),
            Skip::Missing(key) => write!(f, "no {key:?}"),
            Skip::BadTime => f.write_str("a time that is not RFC 3339"),
            Skip::BadLevel => f.write_str("an unknown level"),
            Skip::BadId(key) => write!(f, "a {key} that is not lowercase hex of its length"),
            Skip::TooLong => f.write_str("too long"),
        }
    }
}

impl<'a> Record<'a> {
    /// Parses one line (without its `\n`). `keep_fields` keeps every other key's value in
    /// [`Record::fields`]; without it they are skipped unparsed.
    pub fn parse(line: &'a [u8], keep_fields: bool) -> Result<Record<'a>, Skip> {
        let line = std::str::from_utf8(line).map_err(|_| Skip::NotUtf8)?;
        let mut de = serde_json::Deserializer::from_str(line);
        let raw = Seed { keep_fields }
            .deserialize(&mut de)
            .map_err(|_| Skip::NotJson)?;
        de.end().map_err(|_| Skip::NotJson)?;
        raw.check()
    }
}

/// The keys as read, before the checks.
#[derive(Default)]
struct Raw<'a> {
    time: Option<Text<'a>>,
    level: Option<Text<'a>>,
    target: Option<Text<'a>>,
    message: Option<Text<'a>>,
    span_name: Option<Text<'a>>,
    trace_id: Option<Text<'a>>,
    span_id: Option<Text<'a>>,
    parent_id: Option<Text<'a>>,
    x_request_id: Option<Text<'a>>,
    busy_us: Option<u64>,
    idle_us: Option<u64>,
    duration_us: Option<u64>,
    status: Option<u16>,
    outcome: Option<Text<'a>>,
    captured: bool,
    fields: Vec<(Text<'a>, Value)>,
}

impl<'a> Raw<'a> {
    fn check(self) -> Result<Record<'a>, Skip> {
        let time = self.time.ok_or(Skip::Missing(keys::TIME))?;
        let level = self.level.ok_or(Skip::Missing(keys::LEVEL))?;
        let target = self.target.ok_or(Skip::Missing(keys::TARGET))?;
        let message = self.message.ok_or(Skip::Missing(keys::MESSAGE))?;
        let time_us = parse_micros(&time).ok_or(Skip::BadTime)?;
        let level = Level::parse(&level).ok_or(Skip::BadLevel)?;
        let ids = [
            (&self.trace_id, keys::TRACE_ID, 32),
            (&self.span_id, keys::SPAN_ID, 16),
            (&self.parent_id, keys::PARENT_ID, 16),
        ];
        for (id, key, len) in ids {
            if id.as_deref().is_some_and(|id| !is_id(id, len)) {
                return Err(Skip::BadId(key));
            }
        }
        if self.span_id.is_some() && self.trace_id.is_none() {
            return Err(Skip::Missing(keys::TRACE_ID));
        }
        Ok(Record {
            time_us,
            level,
            target,
            message,
            span_name: self.span_name,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_id: self.parent_id,
            x_request_id: self.x_request_id,
            busy_us: self.busy_us,
            idle_us: self.idle_us,
            duration_us: self.duration_us,
            status: self.status,
            outcome: self.outcome,
            captured: self.captured,
            fields: self.fields,
        })
    }
}

/// Lowercase hex of `len` digits, not all zero (SPEC §3).
fn is_id(id: &str, len: usize) -> bool {
    id.len() == len
        && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && id.bytes().any(|b| b != b'0')
}

struct Seed {
    keep_fields: bool,
}

impl<'de> DeserializeSeed<'de> for Seed {
    type Value = Raw<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Raw<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Seed {
    type Value = Raw<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<'de>, A::Error> {
        let mut raw = Raw::default();
        while let Some(Str(key)) = map.next_key::<Str<'de>>()? {
            // A string key: the `Option<Str>` keeps a value of another type from failing the
            // line; it counts as absent, as in a line another program wrote.
            let slot = match &*key {
                keys::TIME => &mut raw.time,
                keys::LEVEL => &mut raw.level,
                keys::TARGET => &mut raw.target,
                keys::MESSAGE => &mut raw.message,
                keys::SPAN_NAME => &mut raw.span_name,
                keys::TRACE_ID => &mut raw.trace_id,
                keys::SPAN_ID => &mut raw.span_id,
                keys::PARENT_ID => &mut raw.parent_id,
                keys::X_REQUEST_ID => &mut raw.x_request_id,
                keys::BUSY_US | keys::IDLE_US | keys::DURATION_US => {
                    let value = map.next_value::<Value>()?.as_u64();
                    *match &*key {
                        keys::BUSY_US => &mut raw.busy_us,
                        keys::IDLE_US => &mut raw.idle_us,
                        _ => &mut raw.duration_us,
                    } = value;
                    continue;
                }
                _ if !self.keep_fields && !is_meaningful(&key) => {
                    map.next_value::<Checked>()?;
                    continue;
                }
                _ => {
                    let value = map.next_value::<Value>()?;
                    match &*key {
                        keys::STATUS => {
                            raw.status = value.as_u64().and_then(|s| u16::try_from(s).ok())
                        }
                        keys::OUTCOME => {
                            raw.outcome = value.as_str().map(|s| Cow::Owned(s.to_owned()))
                        }
                        keys::CAPTURED => raw.captured = value == Value::Bool(true),
                        _ => {}
                    }
                    if self.keep_fields {
                        raw.fields.push((key, value));
                    }
                    continue;
                }
            };
            *slot = map.next_value::<Option<Lenient<'de>>>()?.and_then(|l| l.0);
        }
        Ok(raw)
    }
}

/// Fields other than the fixed keys that the reader reads on every line.
fn is_meaningful(key: &str) -> bool {
    matches!(key, keys::STATUS | keys::OUTCOME | keys::CAPTURED)
}

/// A key: borrowed from the line unless it has escapes.
struct Str<'a>(Text<'a>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Str)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// A fixed key's value: its text if it is a string, nothing if it is of another type.
struct Lenient<'a>(Option<Text<'a>>);

impl<'de> de::Deserialize<'de> for Lenient<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor).map(Lenient)
    }
}

struct LenientVisitor;

impl<'de> Visitor<'de> for LenientVisitor {
    type Value = Option<Text<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_seq(seq).map(|()| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_map(map).map(|()| None)
    }
}

/// A value read as `serde_json::Value` reads one (numbers in range, escapes valid) and kept
/// nowhere: a line is then accepted alike whether its fields are kept or not. (serde's
/// `IgnoredAny` skips numbers and escapes unchecked, and `list` would count lines `show`
/// refuses.)
struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor).map(|()| Checked)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<Str<'de>, Checked>()?.is_some() {}
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOSED: &str = r#"{"time":"2026-12-03T17:02:58.310364Z","level":"INFO","file":"lib/runtime/src/plane/worker/generation.rs","line":91,"target":"tracewire_runtime::plane::worker","message":"SPAN_CLOSED","span_name":"handle_payload","trace_id":"1a36fea12abb735cba6172052dc870f3","span_id":"567b5f96a80dc07a","parent_id":"3d8f1176d9c8c7df","x_request_id":"abc-1","time.busy_us":774,"time.idle_us":2412,"time.duration_us":3186,"component":"backend","outcome":"ok"}"#;

    #[test]
    fn a_span_closed_line_reads_back_typed() {
        let r = Record::parse(CLOSED.as_bytes(), true).unwrap();
        assert_eq!(r.kind(), Kind::Closed);
        assert_eq!(r.time_us, 1_796_317_378_310_364);
        assert_eq!(r.level, Level::Info);
        assert_eq!(r.span_name.as_deref(), Some("handle_payload"));
        assert_eq!(
            r.trace_id.as_deref(),
            Some("1a36fea12abb735cba6172052dc870f3")
        );
        assert_eq!(r.parent_id.as_deref(), Some("3d8f1176d9c8c7df"));
        assert_eq!(r.x_request_id.as_deref(), Some("abc-1"));
        assert_eq!(
            (r.busy_us, r.idle_us, r.duration_us),
            (Some(774), Some(2412), Some(3186))
        );
        assert_eq!(r.outcome.as_deref(), Some("ok"));
        let keys: Vec<&str> = r.fields.iter().map(|(k, _)| &**k).collect();
        assert_eq!(
            keys,
            ["file", "line", "component", "outcome"],
            "in line order"
        );
        assert!(
            matches!(r.target, Cow::Borrowed(_)),
            "text without escapes is borrowed"
        );
    }

    #[test]
    fn without_keep_fields_the_other_values_are_skipped_but_status_and_outcome_read() {
        let line = r#"{"time":"2026-12-03T17:02:58.311567Z","level":"INFO","target":"t","message":"request completed","trace_id":"1a36fea12abb735cba6172052dc870f3","span_id":"3d8f1176d9c8c7df","status":503,"outcome":"error","captured":true,"nested":{"a":[1,2]}}"#;
        let r = Record::parse(line.as_bytes(), false).unwrap();
        assert_eq!(
            (r.status, r.outcome.as_deref(), r.captured),
            (Some(503), Some("error"), true)
        );
        assert!(r.fields.is_empty());
        assert_eq!(r.kind(), Kind::Event);
    }

    #[test]
    fn escaped_text_reads_as_text() {
        let line = r#"{"time":"2026-12-03T17:02:58.311567Z","level":"WARN","target":"t","message":"a \"quoted\" word\n"}"#;
        let r = Record::parse(line.as_bytes(), false).unwrap();
        assert_eq!(r.message, "a \"quoted\" word\n");
    }

    #[test]
    fn lines_that_are_not_section_3_jsonl_are_refused_with_a_reason() {
        let ok =
            r#""time":"2026-12-03T17:02:58.311567Z","level":"INFO","target":"t","message":"m""#;
        let cases: Vec<(String, Skip, &str)> = vec![
            ("2026-12-03T17:02:58.311567Z  INFO t: m".into(), Skip::NotJson, "the readable format"),
            (format!("{{{ok}"), Skip::NotJson, "a line cut in half"),
            (format!("{{{ok}}} {{}}"), Skip::NotJson, "two objects on one line"),
            ("[1,2]".into(), Skip::NotJson, "an array"),
            ("\u{0}\u{ff}".into(), Skip::NotJson, "binary"),
            (r#"{"level":"INFO","target":"t","message":"m"}"#.into(), Skip::Missing("time"), "no time"),
            (r#"{"time":"2026-12-03T17:02:58.311567Z","target":"t","message":"m","level":3}"#.into(), Skip::Missing("level"), "level of the wrong type"),
            (r#"{"time":"yesterday","level":"INFO","target":"t","message":"m"}"#.into(), Skip::BadTime, "time not RFC 3339"),
            (r#"{"time":"2026-12-03T17:02:58.311567Z","level":"NOTICE","target":"t","message":"m"}"#.into(), Skip::BadLevel, "an unknown level"),
            (format!(r#"{{{ok},"trace_id":"ABC"}}"#), Skip::BadId("trace_id"), "a short upper-case trace id"),
            (format!(r#"{{{ok},"trace_id":"00000000000000000000000000000000"}}"#), Skip::BadId("trace_id"), "an all-zero trace id"),
            (format!(r#"{{{ok},"trace_id":"1a36fea12abb735cba6172052dc870f3","span_id":"xyz"}}"#), Skip::BadId("span_id"), "a span id not hex"),
            (format!(r#"{{{ok},"span_id":"3d8f1176d9c8c7df"}}"#), Skip::Missing("trace_id"), "a span id without a trace"),
        ];
        for (line, want, why) in cases {
            assert_eq!(
                Record::parse(line.as_bytes(), true).err(),
                Some(want),
                "{why}: {line}"
            );
        }
        assert!(Record::parse(format!("{{{ok}}}").as_bytes(), false).is_ok());
        // Refused alike whether the other fields are kept or skipped: `list` and `show` agree.
        let odd = [
            (
                [format!("{{{ok},\"x\":\"a").as_bytes(), &[0xff], b"\"}"].concat(),
                "invalid UTF-8 in a value",
            ),
            (
                format!(r#"{{{ok},"x":"\ud800"}}"#).into_bytes(),
                "a lone surrogate escape",
            ),
            (
                format!(r#"{{{ok},"x":1e999}}"#).into_bytes(),
                "a number out of range",
            ),
        ];
        for (line, why) in odd {
            assert!(Record::parse(&line, false).is_err(), "{why}");
            assert!(Record::parse(&line, true).is_err(), "{why}");
        }
    }
}
