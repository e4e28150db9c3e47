//! Records and spans from another language's logger (Python's `logging`, through the `tracewire`
//! Python package): lines like a Rust event's, with the request's trace identity.
//!
//! tracing's events and spans need `'static` metadata with a fixed set of field names, known
//! when the callsite is compiled. A Python logger's name, a record's `extra={...}` keys and a
//! Python span's name are only known at run time, so this module makes callsites at run time:
//! one per level, logger (or span name) and field names, leaked once and registered with
//! tracing like a compiled one. No crate does this: `tracing-log` has one callsite per level
//! for every `log` record, which leaves no room for a record's own fields (nor for a filter
//! answer or a rate limit per logger). The number of callsites made is bounded
//! ([`MAX_CALLSITES`]); past it, records and spans share one callsite per level whose single
//! `fields` value holds their fields as text.
//!
//! A record's callsite has the logger's name as its target, so `DYN_LOG` directives
//! (`vllm=debug`) apply to it as to a Rust module; its lines say `"target":"log"` in JSONL, with
//! `log.target`, `log.file` and `log.line` fields, as records bridged from the `log` crate do
//! (SPEC §3, §11), and the readable format marks them `[P]` (`is_record`).

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        atomic::{AtomicU8, Ordering},
        OnceLock, RwLock,
    },
};

use tracing::{
    callsite::{Callsite, Identifier},
    field::{display, Field, FieldSet, Value},
    level_filters::LevelFilter,
    metadata::Kind,
    subscriber::Interest,
    Event, Level, Metadata, Span,
};

use super::line::keys::{LOG_PREFIX, LOG_TARGET, MESSAGE};

/// The metadata name of every foreign record's callsite (how the formats tell them apart).
const RECORD_NAME: &str = "python record";
/// The target foreign spans over the bound share.
const OVERFLOW_TARGET: &str = "python";
/// How many callsites may be made at run time, records and spans together.
pub const MAX_CALLSITES: usize = 16_384;
/// The most fields one callsite has (tracing's value sets are fixed-size arrays).
pub const MAX_FIELDS: usize = 32;

/// The record fields every foreign record has, first, in this order.
const LOGGER: &str = "log.target";
const FILE: &str = "log.file";
const LINE: &str = "log.line";
/// The formatted traceback of a record logged with `exc_info`.
pub const EXCEPTION: &str = "exception";
/// The field holding a record's or span's fields as text, past [`MAX_CALLSITES`].
const FIELDS_TEXT: &str = "fields";

/// A field value from another language, as tracing records it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// A string.
    Str(&'a str),
    /// A signed integer.
    I64(i64),
    /// An integer above `i64::MAX`.
    U64(u64),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
}

impl FieldValue<'_> {
    fn as_value(&self) -> &dyn Value {
        match self {
            FieldValue::Str(s) => s,
            FieldValue::I64(v) => v,
            FieldValue::U64(v) => v,
            FieldValue::F64(v) => v,
            FieldValue::Bool(v) => v,
        }
    }
}

impl std::fmt::Display for FieldValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldValue::Str(s) => write!(f, "{s:?}"),
            FieldValue::I64(v) => write!(f, "{v}"),
            FieldValue::U64(v) => write!(f, "{v}"),
            FieldValue::F64(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// One record of another language's logger.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Its level (Python's CRITICAL is ERROR).
    pub level: Level,
    /// The logger's name: the line's `log.target`, and the target `DYN_LOG` directives match.
    pub logger: &'a str,
    /// The source file.
    pub file: &'a str,
    /// The source line.
    pub line: u32,
    /// The message, formatted.
    pub message: &'a str,
    /// The formatted exception, if the record has one.
    pub exception: Option<&'a str>,
    /// Its own fields (`extra={...}`), in order.
    pub fields: &'a [(&'a str, FieldValue<'a>)],
}

/// Whether `meta` is a foreign record's callsite.
pub(crate) fn is_record(meta: &Metadata<'_>) -> bool {
    meta.name() == RECORD_NAME && meta.is_event()
}

/// Whether a field of a foreign record is one of its `log.*` fields.
pub(crate) fn is_record_field(name: &str) -> bool {
    name.starts_with(LOG_PREFIX)
}

/// Whether a record of `level` from `logger` would be written by the current subscriber
/// (before its request's own level: a record inside a request may still be wanted).
pub fn enabled(level: Level, logger: &str) -> bool {
    if LevelFilter::current() < level {
        return false;
    }
    let meta = Metadata::new(
        RECORD_NAME,
        logger,
        level,
        None,
        None,
        None,
        FieldSet::new(&[], probe_identifier()),
        Kind::EVENT,
    );
    tracing::dispatcher::get_default(|d| d.enabled(&meta))
}

/// Writes `record` as an event in `parent` (entered for it, so that its request's own level
/// and capture apply), or in the thread's current span.
pub fn emit(record: &Record<'_>, parent: Option<&Span>) {
    if LevelFilter::current() < record.level {
        return;
    }
    // Past the bound: the fields as one text value (declared first: the values borrow it).
    let text;
    // On the stack up to the field bound: a record's names and values are gathered per call.
    let mut names: Names<'_> = smallvec::smallvec![MESSAGE, LOGGER, FILE, LINE];
    if record.exception.is_some() {
        names.push(EXCEPTION);
    }
    names.extend(record.fields.iter().map(|(name, _)| *name));
    let line = u64::from(record.line);
    let message = display(record.message);
    let mut values: Values<'_> = smallvec::smallvec![
        &message as &dyn Value,
        &record.logger as &dyn Value,
        &record.file as &dyn Value,
        &line as &dyn Value
    ];
    if let Some(exception) = &record.exception {
        values.push(exception);
    }
    values.extend(record.fields.iter().map(|(_, v)| v.as_value()));
    let callsite = match callsite(Kind::EVENT, record.level, record.logger, "", &names) {
        Some(callsite) => callsite,
        None => {
            let fixed = if record.exception.is_some() { 5 } else { 4 };
            text = fields_text(record.fields);
            values.truncate(fixed);
            values.push(&text);
            let mut names = names[..fixed].to_vec();
            names.push(FIELDS_TEXT);
            overflow(Kind::EVENT, record.level, &names)
        }
    };
    // Asked inside the span: a request's own level and capture depend on the current span.
    let dispatch = |callsite: &'static ForeignCallsite| {
        if callsite.enabled() {
            with_values(callsite, &values, |meta, set| Event::dispatch(meta, set));
        }
    };
    match parent {
        Some(span) => span.in_scope(|| dispatch(callsite)),
        None => dispatch(callsite),
    }
}

/// A span named `name` (at INFO, target `target`) with `fields`, child of `parent` (or of the
/// thread's current span if `None`).
pub fn span(
    name: &str,
    target: &str,
    fields: &[(&str, FieldValue<'_>)],
    parent: Option<&Span>,
) -> Span {
    let text;
    let names: Names<'_> = fields.iter().map(|(name, _)| *name).collect();
    let mut values: Values<'_> = fields.iter().map(|(_, v)| v.as_value()).collect();
    let callsite = match callsite(Kind::SPAN, Level::INFO, target, name, &names) {
        Some(callsite) => callsite,
        None => {
            text = format!("{name} {}", fields_text(fields));
            values = smallvec::smallvec![&text as &dyn Value];
            overflow(Kind::SPAN, Level::INFO, &[FIELDS_TEXT])
        }
    };
    if !callsite.enabled() {
        return Span::none();
    }
    with_values(callsite, &values, |meta, set| match parent {
        Some(parent) => Span::child_of(parent, meta, set),
        None => Span::new(meta, set),
    })
}

/// A record's or span's field names, and their values, in order.
type Names<'a> = smallvec::SmallVec<[&'a str; MAX_FIELDS]>;
type Values<'a> = smallvec::SmallVec<[&'a dyn Value; MAX_FIELDS]>;

/// `{"name": value, ...}` for the overflow callsites.
fn fields_text(fields: &[(&str, FieldValue<'_>)]) -> String {
    let mut text = String::from("{");
    for (i, (name, value)) in fields.iter().enumerate() {
        let comma = if i > 0 { ", " } else { "" };
        let _ = write!(text, "{comma}{name:?}: {value}");
    }
    text.push('}');
    text
}

/// Calls `f` with `callsite`'s metadata and a value set of `values` (one per field, in order).
fn with_values<R>(
    callsite: &'static ForeignCallsite,
    values: &[&dyn Value],
    f: impl FnOnce(&'static Metadata<'static>, &tracing::field::ValueSet<'_>) -> R,
) -> R {
    let meta = callsite.metadata();
    let fields = callsite.fields.get().expect("set when made");
    if fields.is_empty() {
        let none: [(&Field, Option<&dyn Value>); 0] = [];
        return f(meta, &meta.fields().value_set(&none));
    }
    let set: [(&Field, Option<&dyn Value>); MAX_FIELDS] = std::array::from_fn(|i| {
        match (fields.get(i), values.get(i)) {
            (Some(field), Some(value)) => (field, Some(*value)),
            // Padding: tracing's value sets are arrays of a fixed size; `None` is skipped.
            _ => (&fields[0], None),
        }
    });
    f(meta, &meta.fields().value_set(&set))
}

/// A callsite made at run time.
struct ForeignCallsite {
    meta: OnceLock<Metadata<'static>>,
    fields: OnceLock<Vec<Field>>,
    interest: AtomicU8,
}

const NEVER: u8 = 0;
const SOMETIMES: u8 = 1;
const ALWAYS: u8 = 2;

impl Callsite for ForeignCallsite {
    fn set_interest(&self, interest: Interest) {
        let interest = if interest.is_never() {
            NEVER
        } else if interest.is_always() {
            ALWAYS
        } else {
            SOMETIMES
        };
        self.interest.store(interest, Ordering::Relaxed);
    }

    fn metadata(&self) -> &Metadata<'_> {
        self.meta.get().expect("set before it is registered")
    }
}

impl ForeignCallsite {
    fn metadata(&'static self) -> &'static Metadata<'static> {
        self.meta.get().expect("set before it is registered")
    }

    /// As tracing's macros decide: the cached interest, then the subscriber if it varies.
    fn enabled(&'static self) -> bool {
        match self.interest.load(Ordering::Relaxed) {
            NEVER => false,
            ALWAYS => true,
            _ => tracing::dispatcher::get_default(|d| d.enabled(self.metadata())),
        }
    }

    /// Makes, leaks and registers a callsite; `names` are leaked too.
    fn make(kind: Kind, level: Level, target: &str, name: &str, names: &[&str]) -> &'static Self {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_owned().into_boxed_str()) };
        let names: &'static [&'static str] =
            Box::leak(names.iter().map(|n| leak(n)).collect::<Box<[_]>>());
        let name = if kind == Kind::SPAN {
            leak(name)
        } else {
            RECORD_NAME
        };
        let callsite: &'static ForeignCallsite = Box::leak(Box::new(ForeignCallsite {
            meta: OnceLock::new(),
            fields: OnceLock::new(),
            interest: AtomicU8::new(SOMETIMES),
        }));
        let meta = Metadata::new(
            name,
            leak(target),
            level,
            None,
            None,
            None,
            FieldSet::new(names, Identifier(callsite)),
            kind,
        );
        let _ = callsite.meta.set(meta);
        let _ = callsite
            .fields
            .set(callsite.metadata().fields().iter().collect());
        tracing::callsite::register(callsite);
        callsite
    }
}

/// The callsites made so far, by kind, level, target, name and field names.
static CALLSITES: OnceLock<RwLock<HashMap<Box<str>, &'static ForeignCallsite>>> = OnceLock::new();

/// A thread's key being built, and the last callsite it found with its key: a logger logs
/// again and again from the same place, and then neither the map's lock nor its hash is paid
/// (callsites are never removed, so the entry stays right).
struct Keys {
    building: String,
    last: String,
    found: Option<&'static ForeignCallsite>,
}

thread_local! {
    static KEY: std::cell::RefCell<Keys> = const {
        std::cell::RefCell::new(Keys { building: String::new(), last: String::new(), found: None })
    };
}

/// The callsite for these, made on first use; `None` past [`MAX_CALLSITES`] or
/// [`MAX_FIELDS`].
fn callsite(
    kind: Kind,
    level: Level,
    target: &str,
    name: &str,
    names: &[&str],
) -> Option<&'static ForeignCallsite> {
    if names.len() > MAX_FIELDS {
        return None;
    }
    let map = CALLSITES.get_or_init(Default::default);
    KEY.with(|keys| {
        let keys = &mut *keys.borrow_mut();
        let key = &mut keys.building;
        key.clear();
        // Separated by a byte no name can hold unescaped in a line: `\u{1f}`.
        for part in [kind_tag(&kind), level.as_str(), target, name] {
            key.push_str(part);
            key.push('\u{1f}');
        }
        for n in names {
            key.push('\u{1f}');
            key.push_str(n);
        }
        if let Some(found) = keys.found.filter(|_| keys.last == *key) {
            return Some(found);
        }
        let found = lookup_or_make(map, key, || {
            ForeignCallsite::make(kind, level, target, name, names)
        })?;
        keys.last.clone_from(key);
        keys.found = Some(found);
        Some(found)
    })
}

/// The callsite under `key` in `map`, made (by `make`) if it is not there and the bound allows.
fn lookup_or_make(
    map: &RwLock<HashMap<Box<str>, &'static ForeignCallsite>>,
    key: &str,
    make: impl FnOnce() -> &'static ForeignCallsite,
) -> Option<&'static ForeignCallsite> {
    if let Some(found) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return Some(*found);
    }
    let mut map = map.write().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = map.get(key) {
        return Some(*found);
    }
    if map.len() >= MAX_CALLSITES {
        return None;
    }
    let made = make();
    map.insert(key.into(), made);
    Some(made)
}

fn kind_tag(kind: &Kind) -> &'static str {
    if *kind == Kind::SPAN {
        "span"
    } else {
        "event"
    }
}

/// The callsite shared past the bound, one per kind and level.
fn overflow(kind: Kind, level: Level, names: &[&str]) -> &'static ForeignCallsite {
    static MADE: OnceLock<RwLock<HashMap<String, &'static ForeignCallsite>>> = OnceLock::new();
    let key = format!("{}{level}{}", kind_tag(&kind), names.len());
    let map = MADE.get_or_init(Default::default);
    if let Some(found) = map.read().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return found;
    }
    let mut map = map.write().unwrap_or_else(|e| e.into_inner());
    map.entry(key).or_insert_with(|| {
        let target = if kind == Kind::SPAN {
            OVERFLOW_TARGET
        } else {
            LOG_TARGET
        };
        ForeignCallsite::make(kind, level, target, "python span", names)
    })
}

/// The identifier of the metadata [`enabled`] asks with (it is never registered).
fn probe_identifier() -> Identifier {
    struct Probe;
    static PROBE: Probe = Probe;
    impl Callsite for Probe {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unreachable!("never registered")
        }
    }
    Identifier(&PROBE)
}

/// Foreign records and spans under a scoped subscriber: JSONL keys as the `log` bridge's, their
/// own fields in native types, filtering by logger, the readable `[P]` mark, spans linked.
#[cfg(test)]
mod tests {
    use tracing::info_span;

    use super::*;
    use crate::subscriber::{
        testing::{json, jsonl, lines, with_dyn_log},
        Format, LoggingConfig,
    };

    fn record<'a>(
        level: Level,
        logger: &'a str,
        fields: &'a [(&'a str, FieldValue<'a>)],
    ) -> Record<'a> {
        Record {
            level,
            logger,
            file: "/srv/engine/worker.py",
            line: 42,
            message: "cache ready: 24064 blocks",
            exception: None,
            fields,
        }
    }

    #[test]
    fn a_record_is_a_log_line_with_its_own_fields_in_native_types_and_its_span_ids() {
        let fields = [
            ("blocks", FieldValue::I64(24064)),
            ("ratio", FieldValue::F64(0.5)),
            ("warm", FieldValue::Bool(true)),
            ("big", FieldValue::U64(u64::MAX)),
            ("model", FieldValue::Str("Qwen/Qwen3-0.6B")),
            // Named like fixed keys: renamed, never duplicated.
            ("level", FieldValue::Str("mine")),
        ];
        let out = json(&jsonl(), || {
            let span = info_span!("handle_payload", x_request_id = "r-1");
            emit(
                &Record {
                    exception: Some("Traceback (most recent call last):\n  ...\nValueError: x"),
                    ..record(Level::WARN, "vllm.engine", &fields)
                },
                Some(&span),
            );
            emit(&record(Level::INFO, "vllm.engine", &[]), None);
        });
        let (created, line, outside) = (&out[0], &out[1], &out[2]);
        assert_eq!(line.level, "WARN");
        assert_eq!((line.target.as_str(), line.file.as_deref()), ("log", None));
        assert_eq!(line.message, "cache ready: 24064 blocks");
        assert_eq!(line["log.target"], "vllm.engine");
        assert_eq!(line["log.file"], "/srv/engine/worker.py");
        assert_eq!(line["log.line"], 42);
        assert_eq!(line["blocks"], 24064);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["warm"], true);
        assert_eq!(line["big"], u64::MAX);
        assert_eq!(line["model"], "Qwen/Qwen3-0.6B");
        assert_eq!(line["fields.level"], "mine");
        assert!(line["exception"]
            .as_str()
            .unwrap()
            .ends_with("ValueError: x"));
        assert_eq!(line.span_id, created.span_id, "in the span it was given");
        assert_eq!(line.x_request_id.as_deref(), Some("r-1"));
        assert_eq!(outside.message, "cache ready: 24064 blocks");
        assert!(outside.span_id.is_none() && !outside.has("exception"));
    }

    #[test]
    fn dyn_log_directives_match_logger_names() {
        let config = with_dyn_log(jsonl(), "info,enginex=debug,enginex.noisy=warn");
        let out = json(&config, || {
            assert!(enabled(Level::DEBUG, "enginex.sched"));
            assert!(!enabled(Level::DEBUG, "other"));
            for logger in ["enginex.sched", "other", "enginex.noisy"] {
                emit(&record(Level::DEBUG, logger, &[]), None);
                emit(&record(Level::INFO, logger, &[]), None);
            }
        });
        let seen: Vec<(String, String)> = out
            .iter()
            .map(|l| {
                (
                    l.level.clone(),
                    l["log.target"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected = [
            ("DEBUG", "enginex.sched"),
            ("INFO", "enginex.sched"),
            ("INFO", "other"),
        ];
        assert_eq!(
            seen,
            expected.map(|(l, t)| (l.to_owned(), t.to_owned())),
            "a directive for a logger covers the loggers under it"
        );
    }

    #[test]
    fn readable_lines_mark_python_records_and_leave_out_their_log_fields() {
        let config = LoggingConfig {
            format: Format::Readable,
            ..LoggingConfig::default()
        };
        let fields = [("tokens", FieldValue::I64(3))];
        let out = lines(&config, || {
            emit(&record(Level::INFO, "engine.readable", &fields), None);
            let span = info_span!("handle_payload", x_request_id = "r-2");
            emit(
                &record(Level::ERROR, "engine.readable", &fields),
                Some(&span),
            );
            tracing::info!("from rust");
        });
        assert_eq!(
            out[0],
            "2025-09-02T15:50:01.770028Z  INFO [P] engine.readable: cache ready: 24064 blocks tokens=3"
        );
        assert!(
            out[1].starts_with(
                "2025-09-02T15:50:01.770028Z ERROR [P] handle_payload: engine.readable: cache ready"
            ),
            "{}",
            out[1]
        );
        assert!(!out[1].contains("log.") && out[1].contains("x_request_id=r-2"));
        assert!(
            !out[2].contains("[P]"),
            "Rust lines are not marked: {}",
            out[2]
        );
    }

    #[test]
    fn spans_have_their_name_fields_and_parent() {
        let out = json(&jsonl(), || {
            let root = span(
                "prefill",
                "engine.model",
                &[("tokens", FieldValue::I64(7))],
                None,
            );
            let child = span("decode", "engine.model", &[], Some(&root));
            emit(&record(Level::INFO, "engine.spans", &[]), Some(&child));
            drop(child);
            drop(root);
        });
        let names: Vec<(&str, &str)> = out
            .iter()
            .map(|l| (l.message.as_str(), l.span_name.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            names,
            [
                ("SPAN_CREATED", "prefill"),
                ("SPAN_CREATED", "decode"),
                ("cache ready: 24064 blocks", "decode"),
                ("SPAN_CLOSED", "decode"),
                ("SPAN_CLOSED", "prefill"),
            ]
        );
        assert_eq!(out[0].target, "engine.model");
        assert_eq!(out[0]["tokens"], 7);
        assert_eq!(out[1].parent_id, out[0].span_id);
        assert_eq!(out[1].trace_id, out[0].trace_id);
    }

    #[test]
    fn past_the_field_bound_fields_are_kept_as_text() {
        let names: Vec<String> = (0..MAX_FIELDS + 1).map(|i| format!("f{i}")).collect();
        let fields: Vec<(&str, FieldValue)> = names
            .iter()
            .map(|n| (n.as_str(), FieldValue::I64(1)))
            .collect();
        let out = json(&jsonl(), || {
            emit(&record(Level::INFO, "engine.wide", &fields), None)
        });
        assert_eq!(out[0]["log.target"], "engine.wide");
        let text = out[0]["fields"].as_str().unwrap();
        assert!(text.starts_with(r#"{"f0": 1, "f1": 1"#), "{text}");
        assert!(text.ends_with(r#""f32": 1}"#), "{text}");
    }
}
