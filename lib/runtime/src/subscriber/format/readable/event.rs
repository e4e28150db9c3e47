//! A readable line: time, level, the span chain, the target, the message and fields, then the
//! span's request id and trace id.

use std::{cell::RefCell, fmt};

use tracing::{
    field::{Field, Visit},
    Event, Level, Metadata,
};
use tracing_log::NormalizeEvent;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::{
    span::{with_chain, ReadableSpan, SpanText},
    value::{escape_into, write_bounded, write_escaped_str, write_f64, write_quoted},
};
use crate::{
    subscriber::{
        foreign,
        format::style::{SpanEvent, Style},
        line::{
            callsite::{with_cached, FieldKeys, Rendered, Slots},
            keys::{
                BUSY_US, DURATION_US, IDLE_US, LOG_PREFIX, LOG_TARGET, MESSAGE, SPAN_ID, TRACE_ID,
                X_REQUEST_ID,
            },
            timestamp::{self, UnixMicros},
        },
    },
    trace::{Redactions, SpanContext, ValueLimit},
};

/// What marks a foreign (Python) record's line, after its level.
const FOREIGN_ORIGIN: &[u8] = b"[P] ";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn level_colour(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

/// Writes one event line that happened at `time`; `span` is the event's span.
pub(crate) fn write_event<D, S>(
    buf: &mut Vec<u8>,
    style: &Style,
    ansi: bool,
    event: &Event<'_>,
    span: Option<&SpanRef<'_, S>>,
    time: UnixMicros,
) where
    D: ReadableSpan,
    S: for<'a> LookupSpan<'a>,
{
    // Only the `log` bridge's callsites (target "log") can normalize; the check is cheaper.
    let normalized = (event.metadata().target() == LOG_TARGET)
        .then(|| event.normalized_metadata())
        .flatten();
    with_chain::<D, S>(span, None, |chain| {
        match &normalized {
            // A `log` record: level and target are the record's, not the bridge callsite's.
            Some(meta) => {
                let target = Target::Bridged(meta.target());
                write_head(buf, time, style, ansi, meta.level(), chain, target);
                write_fields(buf, style, event, None, false);
            }
            None => with_cached(&CALLSITES, event.metadata(), |callsite| {
                let level = event.metadata().level();
                let target = Target::Cached(callsite);
                write_head(buf, time, style, ansi, level, chain, target);
                let foreign = !callsite.origin.is_empty();
                write_fields(buf, style, event, Some(&callsite.fields), foreign);
            }),
        }
    });
    if let Some(span) = span {
        if let Some(data) = span.extensions().get::<D>() {
            write_ids(buf, data.context());
        }
    }
    buf.push(b'\n');
}

/// The message, then ` name=value` for every other field. `keys` is `None` for a `log` record,
/// whose `log.*` fields are already in its normalized metadata; a foreign record's `log.*`
/// fields are left out (`skip_log`): its target is the logger, its file and line are noise.
fn write_fields(
    buf: &mut Vec<u8>,
    style: &Style,
    event: &Event<'_>,
    keys: Option<&FieldKeys>,
    skip_log: bool,
) {
    let passes: &[Pass] = match keys {
        Some(keys) if keys.message_first => &[Pass::All],
        _ => &[Pass::Message, Pass::Others],
    };
    for &pass in passes {
        event.record(&mut Fields {
            buf,
            redact: &style.redact,
            limit: style.limit,
            keys,
            pass,
            skip_log,
        });
    }
}

/// Writes a `SPAN_CREATED` or `SPAN_CLOSED` line for `span`, whose text is `own` (the span's
/// record may not be in the registry yet: its ancestors are read from there, it is not).
pub(crate) fn write_span_event<D, S>(
    buf: &mut Vec<u8>,
    style: &Style,
    ansi: bool,
    span: &SpanRef<'_, S>,
    own: &SpanText,
    context: &SpanContext,
    kind: SpanEvent,
) where
    D: ReadableSpan,
    S: for<'a> LookupSpan<'a>,
{
    let meta = span.metadata();
    let parent = span.parent();
    with_chain::<D, S>(parent.as_ref(), Some(own), |chain| {
        with_cached(&CALLSITES, meta, |callsite| {
            let target = Target::Cached(callsite);
            write_head(buf, kind.time, style, ansi, meta.level(), chain, target)
        })
    });
    buf.extend_from_slice(kind.message().as_bytes());
    if let Some(t) = kind.closed {
        for (key, value) in [
            (BUSY_US, t.busy_us),
            (IDLE_US, t.idle_us),
            (DURATION_US, t.duration_us),
        ] {
            buf.push(b' ');
            buf.extend_from_slice(key.as_bytes());
            buf.push(b'=');
            buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }
    buf.push(b' ');
    buf.extend_from_slice(SPAN_ID.as_bytes());
    buf.push(b'=');
    context.span_id.write_hex(buf);
    write_ids(buf, context);
    buf.push(b'\n');
}

/// What every line of a callsite repeats: the target and each field's ` name=`.
struct Callsite {
    /// `[P] ` for a foreign (Python) record, else nothing: written after the level.
    origin: &'static [u8],
    /// The escaped target and `: `.
    target: Vec<u8>,
    /// ` LEVEL target: `, the head of an uncoloured line outside spans after its time.
    plain_head: Vec<u8>,
    fields: FieldKeys,
}

impl Rendered for Callsite {
    fn render(meta: &'static Metadata<'static>) -> Self {
        let mut target = Vec::with_capacity(meta.target().len() + 2);
        escape_into(&mut target, meta.target());
        target.extend_from_slice(b": ");
        let origin: &[u8] = if foreign::is_record(meta) {
            FOREIGN_ORIGIN
        } else {
            b""
        };
        let mut plain_head = Vec::with_capacity(target.len() + 11);
        plain_head.push(b' ');
        plain_head.extend_from_slice(padded_level(meta.level()).as_bytes());
        plain_head.push(b' ');
        plain_head.extend_from_slice(origin);
        plain_head.extend_from_slice(&target);
        Callsite {
            origin,
            target,
            plain_head,
            fields: FieldKeys::new(meta, |buf, name| {
                buf.push(b' ');
                escape_into(buf, name);
                buf.push(b'=');
            }),
        }
    }
}

thread_local! {
    static CALLSITES: RefCell<Slots<Callsite>> = const { RefCell::new(Slots::new()) };
}

/// Where a line's target comes from.
enum Target<'a> {
    /// The callsite's, rendered once.
    Cached(&'a Callsite),
    /// A `log` record's own target.
    Bridged(&'a str),
}

/// `time LEVEL span{..}:span{..}: target: `. Uncoloured and outside spans, all that follows the
/// time is the callsite's `plain_head`, in one copy.
fn write_head(
    buf: &mut Vec<u8>,
    time: UnixMicros,
    style: &Style,
    ansi: bool,
    level: &Level,
    chain: &[u8],
    target: Target<'_>,
) {
    if ansi {
        buf.extend_from_slice(DIM.as_bytes());
    }
    timestamp::write_rfc3339(buf, time, style.zone);
    if let (false, true, Target::Cached(callsite)) = (ansi, chain.is_empty(), &target) {
        buf.extend_from_slice(&callsite.plain_head);
        return;
    }
    if ansi {
        buf.extend_from_slice(RESET.as_bytes());
    }
    buf.push(b' ');
    if ansi {
        buf.extend_from_slice(level_colour(level).as_bytes());
    }
    buf.extend_from_slice(padded_level(level).as_bytes());
    if ansi {
        buf.extend_from_slice(RESET.as_bytes());
    }
    buf.push(b' ');
    if let Target::Cached(callsite) = &target {
        buf.extend_from_slice(callsite.origin);
    }
    if !chain.is_empty() {
        if ansi {
            buf.extend_from_slice(BOLD.as_bytes());
        }
        buf.extend_from_slice(chain);
        if ansi {
            buf.extend_from_slice(RESET.as_bytes());
        }
        buf.push(b' ');
    }
    match target {
        Target::Cached(callsite) => buf.extend_from_slice(&callsite.target),
        Target::Bridged(name) => {
            escape_into(buf, name);
            buf.extend_from_slice(b": ");
        }
    }
}

/// The level right-aligned to five characters, as tracing-subscriber writes it.
fn padded_level(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => " WARN",
        Level::INFO => " INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// ` x_request_id=… trace_id=…` of the span a line is in (the request id, when the span has
/// one, from its identity).
fn write_ids(buf: &mut Vec<u8>, context: &SpanContext) {
    if let Some(id) = &context.x_request_id {
        buf.push(b' ');
        buf.extend_from_slice(X_REQUEST_ID.as_bytes());
        buf.push(b'=');
        escape_into(buf, id);
    }
    buf.push(b' ');
    buf.extend_from_slice(TRACE_ID.as_bytes());
    buf.push(b'=');
    context.trace_id.write_hex(buf);
}

/// Which fields a pass over an event writes: the message must come first in the line, and
/// tracing's macros record it first, so one pass usually writes all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Message,
    Others,
    All,
}

struct Fields<'a> {
    buf: &'a mut Vec<u8>,
    redact: &'a Redactions,
    limit: ValueLimit,
    /// The callsite's rendered keys; `None` for a `log` record, whose `log.*` fields are
    /// skipped.
    keys: Option<&'a FieldKeys>,
    pass: Pass,
    /// Leave out `log.*` fields (a foreign record's).
    skip_log: bool,
}

/// What to do with a field's value.
#[derive(PartialEq, Eq)]
enum Slot {
    Skip,
    Message,
    Value,
}

impl Fields<'_> {
    /// Writes ` name=` for a field other than the message, and says how its value goes.
    fn start(&mut self, field: &Field) -> Slot {
        let Some(keys) = self.keys else {
            return self.start_bridged(field);
        };
        let is_message = keys.is_message(field);
        let wanted = match self.pass {
            Pass::Message => is_message,
            Pass::Others => !is_message,
            Pass::All => true,
        };
        if !wanted || self.skip_log && foreign::is_record_field(field.name()) {
            return Slot::Skip;
        }
        if is_message {
            return Slot::Message;
        }
        self.buf.extend_from_slice(keys.key(field));
        self.value_or_redacted(field)
    }

    /// A `log` record's field: its `log.*` fields are already in the normalized metadata.
    fn start_bridged(&mut self, field: &Field) -> Slot {
        let name = field.name();
        let is_message = name == MESSAGE;
        if is_message != (self.pass == Pass::Message) || name.starts_with(LOG_PREFIX) {
            return Slot::Skip;
        }
        if is_message {
            return Slot::Message;
        }
        self.buf.push(b' ');
        escape_into(self.buf, name);
        self.buf.push(b'=');
        self.value_or_redacted(field)
    }

    fn value_or_redacted(&mut self, field: &Field) -> Slot {
        if self.redact.contains(field.name()) {
            self.buf.extend_from_slice(b"[REDACTED]");
            return Slot::Skip;
        }
        Slot::Value
    }

    fn display(&mut self, field: &Field, value: impl fmt::Display) {
        if self.start(field) != Slot::Skip {
            write_bounded(self.buf, self.limit, format_args!("{value}"));
        }
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.start(field) != Slot::Skip {
            write_f64(self.buf, value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field) != Slot::Skip {
            self.buf
                .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field) != Slot::Skip {
            self.buf
                .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.display(field, value);
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.display(field, value);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.display(field, value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match self.start(field) {
            Slot::Skip => {}
            Slot::Message => write_escaped_str(self.buf, self.limit, value),
            Slot::Value => write_quoted(self.buf, &self.limit.bound(value)),
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.display(field, value);
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.start(field) != Slot::Skip {
            write_bounded(self.buf, self.limit, format_args!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use tracing::{error, info, info_span, warn};

    use crate::{
        subscriber::{
            testing::{lines, with_dyn_log},
            LoggingConfig, MemorySink, TimeZone, TracewireLayer,
        },
        trace::RemoteContext,
    };

    fn readable() -> LoggingConfig {
        LoggingConfig::default()
    }

    #[test]
    fn the_spec_line() {
        let out = lines(&readable(), || {
            let span = info_span!("http-request", method = %"POST", uri = %"/v1/chat/completions");
            span.in_scope(|| info!(target: "tracewire_frontend::openai", model = "Qwen/Qwen3-0.6B", "request received"));
        });
        assert_eq!(out.len(), 1, "no span events by default in readable mode");
        let trace_id = out[0].rsplit("trace_id=").next().unwrap();
        assert_eq!(trace_id.len(), 32);
        assert_eq!(
            out[0],
            format!("2025-09-02T15:50:01.770028Z  INFO http-request{{method=POST uri=/v1/chat/completions}}: tracewire_frontend::openai: request received model=\"Qwen/Qwen3-0.6B\" trace_id={trace_id}")
        );
    }

    #[test]
    fn a_message_field_named_after_others_still_comes_first() {
        let out = lines(
            &readable(),
            || info!(target: "t", a = 1, message = "late", b = "x"),
        );
        assert!(out[0].ends_with(" INFO t: late a=1 b=\"x\""), "{}", out[0]);
    }

    #[test]
    fn the_request_id_is_shown_once_after_the_message_wherever_it_came_from() {
        let remote = RemoteContext {
            x_request_id: Some("req-9".into()),
            ..RemoteContext::default()
        };
        let out = lines(&readable(), || {
            info_span!("handle_payload", remote_parent = remote.field())
                .in_scope(|| info!(target: "t", "token"));
            info_span!("http-request", x_request_id = "req-8", n = 1)
                .in_scope(|| info_span!("inner").in_scope(|| info!(target: "t", "local")));
        });
        assert!(
            out[0].contains(" INFO handle_payload: t: token x_request_id=req-9 trace_id="),
            "from another process: {}",
            out[0]
        );
        assert!(
            out[1].contains(" INFO http-request{n=1}:inner: t: local x_request_id=req-8 trace_id="),
            "from a span field, inherited: {}",
            out[1]
        );
        assert_eq!(out[1].matches("req-8").count(), 1);
    }

    #[test]
    fn levels_are_padded_to_five_and_spans_chain() {
        let out = lines(&readable(), || {
            warn!(target: "t", "w");
            info_span!("a").in_scope(|| {
                info_span!("b", n = 1).in_scope(|| error!(target: "t", code = 7, "e"))
            });
        });
        assert_eq!(out[0], "2025-09-02T15:50:01.770028Z  WARN t: w");
        assert!(
            out[1].starts_with("2025-09-02T15:50:01.770028Z ERROR a:b{n=1}: t: e code=7 trace_id="),
            "{}",
            out[1]
        );
    }

    #[test]
    fn control_characters_are_escaped_so_one_event_is_one_line() {
        let out = lines(&readable(), || {
            info_span!("s", v = %"a\nb")
                .in_scope(|| info!(target: "t", x = "q\"\u{1b}[2J", "two\nlines\r\u{1b}[31m"))
        });
        assert_eq!(out.len(), 1);
        assert!(!out[0].contains('\u{1b}') && !out[0].contains('\r'));
        assert!(
            out[0].contains(r"s{v=a\nb}: t: two\nlines\r\u{1b}[31m x="),
            "{}",
            out[0]
        );
        assert!(out[0].contains(r#"x="q\"\u{1b}[2J""#), "{}", out[0]);
    }

    #[test]
    fn span_events_when_turned_on() {
        let config = LoggingConfig {
            span_events: Some(true),
            ..readable()
        };
        let out = lines(&config, || {
            info_span!(target: "t", "work", id = 1).in_scope(|| {})
        });
        assert_eq!(out.len(), 2);
        assert!(
            out[0].starts_with(
                "2025-09-02T15:50:01.770028Z  INFO work{id=1}: t: SPAN_CREATED span_id="
            ),
            "{}",
            out[0]
        );
        assert!(
            out[1].contains(": t: SPAN_CLOSED time.busy_us="),
            "{}",
            out[1]
        );
    }

    #[test]
    fn log_records_show_their_own_target() {
        let out = lines(&readable(), || {
            let record = log::Record::builder()
                .args(format_args!("VllmWorker initialised"))
                .level(log::Level::Info)
                .target("main.init")
                .build();
            tracing_log::format_trace(&record).unwrap();
        });
        assert_eq!(
            out,
            ["2025-09-02T15:50:01.770028Z  INFO main.init: VllmWorker initialised"]
        );
    }

    #[test]
    fn local_offset_and_filtering() {
        let config = with_dyn_log(
            LoggingConfig {
                time_zone: TimeZone::Fixed(-7 * 3600),
                ..readable()
            },
            "warn,noisy=error",
        );
        let out = lines(&config, || {
            info!(target: "t", "hidden");
            warn!(target: "noisy", "hidden too");
            warn!(target: "t", "shown");
        });
        assert_eq!(out, ["2025-09-02T08:50:01.770028-07:00  WARN t: shown"]);
    }

    #[test]
    fn colour_goes_only_to_outputs_that_ask_for_it() {
        let (plain, coloured) = (MemorySink::default(), MemorySink::default());
        let layer =
            TracewireLayer::new(&readable(), plain.clone()).with_output(coloured.clone(), true);
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::with_default(
            tracing_subscriber::registry().with(layer),
            || info!(target: "t", "hi"),
        );
        assert!(!plain.contents().contains('\u{1b}'));
        assert!(
            coloured.contents().contains("\u{1b}[32m INFO\u{1b}[0m"),
            "{:?}",
            coloured.contents()
        );
    }

    #[test]
    fn every_string_value_is_bounded() {
        let config = LoggingConfig {
            max_value_bytes: crate::trace::ValueLimit::new(4),
            ..readable()
        };
        let out = lines(&config, || {
            info_span!("s", model = "abcdefg")
                .in_scope(|| info!(target: "t", v = "abcdefg", d = ?1234567, "abcdefg"))
        });
        assert!(
            out[0].ends_with(" INFO s{model=\"abcd…[+3 bytes]\"}: t: abcd…[+3 bytes] v=\"abcd…[+3 bytes]\" d=1234…[+3 bytes]")
                || out[0].contains("s{model=\"abcd…[+3 bytes]\"}: t: abcd…[+3 bytes] v=\"abcd…[+3 bytes]\" d=1234…[+3 bytes] trace_id="),
            "{}",
            out[0]
        );
    }
}
