//! An event's line: the head, the message, the span's identity, the event's fields, then the
//! span's fields but those the event's hide.

use std::fmt;

use tracing::{
    field::{Field, Visit},
    Event,
};

use super::{
    callsite::{open_field, with_callsite, write_head, Callsite},
    span::{Names, SpanJson},
    value::{JsonTarget, JsonVisitor, Text},
};
use crate::{
    subscriber::{
        format::style::Style,
        line::keys::{LOG_MODULE_PATH, LOG_TARGET, MESSAGE},
        line::timestamp::UnixMicros,
    },
    trace::{Redactions, ValueLimit},
};

/// Writes one event line that happened at `time`; `span` is the JSON of the event's span.
pub(crate) fn write_event(
    buf: &mut Vec<u8>,
    style: &Style,
    event: &Event<'_>,
    span: Option<&SpanJson>,
    time: UnixMicros,
) {
    with_callsite(event.metadata(), |callsite| {
        write_event_with(buf, style, event, span, callsite, time)
    });
}

fn write_event_with(
    buf: &mut Vec<u8>,
    style: &Style,
    event: &Event<'_>,
    span: Option<&SpanJson>,
    callsite: &Callsite,
    time: UnixMicros,
) {
    write_head(buf, time, style, callsite);
    if !callsite.fields.message_first {
        // The message comes first in a line but not in this callsite: a pass for it alone.
        event.record(&mut MessageVisitor {
            buf,
            found: false,
            limit: style.limit,
        });
    }
    // Names are only needed to hide span fields and to drop a repeated name (and cost 256
    // bytes of stores to set up).
    let track = callsite.fields.repeats_a_name || span.is_some_and(SpanJson::has_fields);
    let mut written = track.then(Names::default);
    let mut fields = FieldWriter {
        buf,
        written: written.as_mut(),
        redact: &style.redact,
        limit: style.limit,
        skip_module_path: event.metadata().target() == LOG_TARGET,
        callsite,
        identity: Some(span.map_or(&[][..], SpanJson::identity)),
    };
    if !callsite.fields.message_first {
        fields.close_message();
    }
    event.record(&mut JsonVisitor(&mut fields));
    fields.close_message();
    if let Some(span) = span {
        span.write_fields(buf, written.as_ref());
    }
    buf.extend_from_slice(b"}\n");
}

/// Writes the `message` field, escaped and bounded, and nothing else.
struct MessageVisitor<'a> {
    buf: &'a mut Vec<u8>,
    found: bool,
    limit: ValueLimit,
}

impl Visit for MessageVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == MESSAGE && !self.found {
            self.found = true;
            Text::Str(value).write_escaped(self.buf, self.limit);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == MESSAGE && !self.found {
            self.found = true;
            Text::Debug(value).write_escaped(self.buf, self.limit);
        }
    }
}

/// Writes an event's fields: the message where the head left its quote open (when it comes
/// first), then the span identity, then every other field, each name once.
struct FieldWriter<'a, 'w> {
    buf: &'a mut Vec<u8>,
    /// The names written so far, when they are tracked.
    written: Option<&'w mut Names>,
    redact: &'a Redactions,
    limit: ValueLimit,
    skip_module_path: bool,
    callsite: &'a Callsite,
    /// The span identity, until the message is closed and it is written after it.
    identity: Option<&'a [u8]>,
}

impl FieldWriter<'_, '_> {
    /// Ends the message string and writes the identity after it, once.
    fn close_message(&mut self) {
        if let Some(identity) = self.identity.take() {
            self.buf.push(b'"');
            self.buf.extend_from_slice(identity);
        }
    }
}

impl JsonTarget for FieldWriter<'_, '_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    fn limit(&self) -> ValueLimit {
        self.limit
    }

    // Inlined into each `record_*`: it runs for every field of every event (measured in
    // BENCHMARKS.md's table of changes).
    #[inline(always)]
    fn key(&mut self, field: &Field) -> bool {
        self.close_message();
        let name = field.name();
        if self.callsite.fields.is_message(field)
            || self.written.as_ref().is_some_and(|w| w.contains(name))
            || (self.skip_module_path && name == LOG_MODULE_PATH)
        {
            return false;
        }
        if let Some(written) = &mut self.written {
            written.push(name);
        }
        open_field(self.buf, self.callsite, self.redact, field)
    }

    fn text(&mut self, field: &Field, value: &Text<'_>) -> bool {
        if self.identity.is_none() || !self.callsite.fields.is_message(field) {
            return false;
        }
        value.write_escaped(self.buf, self.limit);
        self.close_message();
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use tracing::{info, info_span, warn};

    use crate::subscriber::{
        testing::{self as capture, json, jsonl, key_order, lines},
        LoggingConfig, TimeZone,
    };

    #[test]
    fn an_event_outside_spans_has_exactly_the_fixed_keys_and_its_fields() {
        let out = json(&jsonl(), || {
            info!(
                count = 3_i64,
                ratio = 0.5,
                ok = true,
                name = "a b c",
                "hello"
            )
        });
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(o.time, "2025-09-02T15:50:01.770028Z");
        assert_eq!(o.level, "INFO");
        assert_eq!(o.target, module_path!());
        assert_eq!(o.message, "hello");
        assert!(o.file.as_deref().unwrap().ends_with("jsonl/event.rs") && o.line.is_some());
        assert_eq!(
            (&o["count"], &o["ratio"], &o["ok"], &o["name"]),
            (&json!(3), &json!(0.5), &json!(true), &json!("a b c"))
        );
        assert!(
            o.trace_id.is_none() && o.span_id.is_none(),
            "no span, no ids"
        );
    }

    #[test]
    fn keys_come_in_a_stable_order() {
        let out = lines(&jsonl(), || {
            info_span!("req", method = "POST").in_scope(|| info!(zeta = 1, alpha = 2, "m"));
        });
        assert_eq!(
            key_order(&out[1]),
            [
                "time",
                "level",
                "file",
                "line",
                "target",
                "message",
                "span_name",
                "trace_id",
                "span_id",
                "zeta",
                "alpha",
                "method"
            ]
        );
    }

    #[test]
    fn values_keep_their_native_types_and_are_never_truncated() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Cfg {
            blocks: u32,
        }
        let err = std::io::Error::other("disk on fire");
        let raw = lines(&jsonl(), || {
            let span = info_span!("s", uri = %"/v1/chat completions", big = u64::MAX, neg = -5_i64, wide = 1u128 << 100, flag = false);
            span.in_scope(|| {
                info!(cfg = ?Cfg { blocks: 24064 }, nan = f64::NAN, error = &err as &dyn std::error::Error, "values")
            });
        });
        let e = &capture::parse_line(&raw[1]);
        assert!(
            raw[1].contains(r#""wide":1267650600228229401496703205376"#),
            "u128 written whole: {}",
            raw[1]
        );
        assert_eq!(
            e["uri"], "/v1/chat completions",
            "a Display value with a space is whole"
        );
        assert_eq!(e["big"], json!(u64::MAX));
        assert_eq!(e["neg"], json!(-5));
        assert_eq!(e["flag"], json!(false));
        assert_eq!(e["cfg"], "Cfg { blocks: 24064 }");
        assert_eq!(e["nan"], "NaN", "JSON has no NaN: written as a string");
        assert_eq!(e["error"], "disk on fire");
    }

    #[test]
    fn messages_with_newlines_quotes_and_escapes_stay_one_line() {
        let nasty = "line one\nline \"two\"\r\n\t\\ \u{1b}[31mred\u{1b}[0m \u{7f} é 中";
        let out = lines(&jsonl(), || warn!(value = nasty, "{nasty}"));
        assert_eq!(out.len(), 1, "one event, one line");
        assert!(
            !out[0].contains('\u{1b}'),
            "no raw escape character reaches the output"
        );
        let o = capture::parse_line(&out[0]);
        assert_eq!(o.message, nasty, "parsing the line back gives the input");
        assert_eq!(o["value"], nasty);
    }

    #[test]
    fn fields_named_like_fixed_keys_are_renamed_never_duplicated() {
        let out = lines(&jsonl(), || {
            info_span!("s", level = "span-level", shared = "span", target = 1).in_scope(|| {
                info!(
                    level = "user",
                    time = 5,
                    message_id = 1,
                    shared = "event",
                    "fields.level" = 9,
                    "x"
                )
            })
        });
        let e = capture::parse_line(&out[1]); // panics on a duplicate key
        assert_eq!(e.level, "INFO");
        assert_eq!(
            e["fields.level"], "user",
            "the event's value wins over the span's"
        );
        assert_eq!(e["fields.time"], 5);
        assert_eq!(e["message_id"], 1);
        assert_eq!(
            e["shared"], "event",
            "event field hides the span field of the same name"
        );
        assert_eq!(e["fields.target"], 1);
        assert_eq!(e["fields.fields.level"], 9, "renaming stays one-to-one");
        let created = capture::parse_line(&out[0]);
        assert_eq!(created["fields.level"], "span-level");
    }

    #[test]
    fn span_events_carry_timings_that_add_up() {
        let out = json(&jsonl(), || {
            let span = info_span!("work", id = 1);
            span.in_scope(|| std::thread::sleep(std::time::Duration::from_millis(3)));
            std::thread::sleep(std::time::Duration::from_millis(3));
        });
        let (created, closed) = (&out[0], &out[1]);
        assert_eq!(
            (created.message.as_str(), closed.message.as_str()),
            ("SPAN_CREATED", "SPAN_CLOSED")
        );
        assert_eq!(created.span_id, closed.span_id);
        assert!(created.busy_us.is_none());
        let (busy, idle, duration) = closed.timings();
        assert_eq!(busy + idle, duration);
        assert!(busy >= 3000 && idle >= 3000, "{closed:?}");
    }

    #[test]
    fn redacted_fields_never_appear_in_clear() {
        let config = LoggingConfig {
            redact: vec!["password".into(), "api_key".into()],
            ..jsonl()
        };
        let text = lines(&config, || {
            info_span!("login", api_key = "sk-SECRET1")
                .in_scope(|| info!(password = "SECRET2", user = "ann", "login"));
        })
        .join("\n");
        assert!(!text.contains("SECRET"), "{text}");
        assert_eq!(text.matches("\"[REDACTED]\"").count(), 4, "{text}");
    }

    #[test]
    fn local_time_uses_the_configured_offset() {
        let config = LoggingConfig {
            time_zone: TimeZone::Fixed(5 * 3600 + 1800),
            ..jsonl()
        };
        let out = json(&config, || info!("x"));
        assert_eq!(out[0].time, "2025-09-02T21:20:01.770028+05:30");
    }

    #[test]
    fn log_records_are_bridged_as_in_the_reference() {
        let out = json(&jsonl(), || {
            let record = log::Record::builder()
                .args(format_args!(
                    "Cache config values: {{'num_gpu_blocks': 24064}}"
                ))
                .level(log::Level::Info)
                .target("main.get_engine_cache_info")
                .file(Some("/opt/dynamo/vllm/main.py"))
                .line(Some(267))
                .module_path(Some("main"))
                .build();
            tracing_log::format_trace(&record).unwrap();
        });
        let o = &out[0];
        assert_eq!(o.target, "log");
        assert_eq!(o.message, "Cache config values: {'num_gpu_blocks': 24064}");
        assert_eq!(o["log.file"], "/opt/dynamo/vllm/main.py");
        assert_eq!(o["log.line"], 267);
        assert_eq!(o["log.target"], "main.get_engine_cache_info");
        assert!(o.file.is_none() && !o.has("log.module_path"));
    }

    #[test]
    fn any_field_name_gives_a_valid_unique_key() {
        let out = lines(&jsonl(), || {
            info_span!("s", "we\"ird" = 1, "tab\tname" = 2).in_scope(|| {
                info!(
                    "new\nline" = 3,
                    "quote\"d" = 4,
                    "fields.fields.x" = 5,
                    "é ü" = 6,
                    "" = 7,
                    "weird names"
                )
            })
        });
        let e = capture::parse_line(&out[1]); // panics on invalid JSON or a duplicate key
        assert_eq!((&e["we\"ird"], &e["tab\tname"]), (&json!(1), &json!(2)));
        assert_eq!(
            (&e["new\nline"], &e["quote\"d"], &e["é ü"], &e[""]),
            (&json!(3), &json!(4), &json!(6), &json!(7))
        );
        assert_eq!(
            e["fields.fields.fields.x"], 5,
            "the renaming rule applies to any depth"
        );
    }

    #[test]
    fn span_fields_recorded_later_are_replaced_in_place_and_keep_their_order() {
        let out = lines(&jsonl(), || {
            let empty = tracing::field::Empty;
            let span = info_span!("s", a = 1, b = empty, c = "x", x_request_id = empty, a = 3);
            span.record("b", "a much longer value than before");
            span.record("a", "now a string");
            span.record("x_request_id", "req-7");
            span.record("c", 2.5);
            span.in_scope(|| info!(c = true, "in"));
        });
        let created = capture::parse_line(&out[0]);
        assert_eq!(created["a"], 3, "of a repeated name, the last value");
        let (event, closed) = (capture::parse_line(&out[1]), capture::parse_line(&out[2]));
        assert_eq!(
            key_order(&out[1])[6..],
            [
                "span_name",
                "trace_id",
                "span_id",
                "x_request_id",
                "c",
                "a",
                "b"
            ],
            "identity, event fields, then span fields in first-recorded order"
        );
        assert_eq!(
            event.x_request_id.as_deref(),
            Some("req-7"),
            "a late request id joins the identity"
        );
        assert_eq!(event["c"], true, "the event's field hides the span's");
        assert_eq!(event["a"], "now a string", "the last recorded value wins");
        assert_eq!(event["b"], "a much longer value than before");
        assert_eq!(
            key_order(&out[2])[13..],
            ["a", "c", "b"],
            "replaced in place, added at the end"
        );
        assert_eq!(closed["c"], 2.5);
    }

    #[test]
    fn a_repeated_field_name_is_written_once_inside_or_outside_spans() {
        let out = lines(&jsonl(), || {
            info!(a = 1, a = 2, "outside");
            info_span!("plain").in_scope(|| info!(b = 1, b = 2, "in a span without fields"));
        });
        for line in &out {
            capture::parse_line(line); // panics on a duplicate key
        }
        let outside = capture::parse_line(&out[0]);
        assert_eq!(outside["a"], 1, "the first value is kept");
    }

    #[test]
    fn an_event_without_a_message_has_an_empty_one() {
        let out = json(&jsonl(), || info!(a = 1));
        assert_eq!(out[0].message, Value::from(""));
    }

    #[test]
    fn a_message_field_named_after_others_still_comes_first() {
        // The callsite records `a` before `message`: the two-pass path.
        let out = lines(&jsonl(), || {
            info_span!("s", k = 1).in_scope(|| info!(a = 1, message = "late", b = "x"));
        });
        let line = capture::parse_line(&out[1]);
        assert_eq!(line.message, "late");
        assert_eq!(
            key_order(&out[1])[5..],
            ["message", "span_name", "trace_id", "span_id", "a", "b", "k"]
        );
    }

    #[test]
    fn every_string_value_is_bounded() {
        let config = LoggingConfig {
            max_value_bytes: crate::trace::ValueLimit::new(8),
            ..jsonl()
        };
        let long = "abcdefghijklmnopqrstuvwxyz";
        let out = json(&config, || {
            info_span!("s", model = long, text = %long).in_scope(|| {
                info!(prompt = long, debug = ?long, "{long}");
            })
        });
        let cut = "abcdefgh…[+18 bytes]";
        let event = &out[1];
        assert_eq!(event.message, cut);
        assert_eq!(
            (&event["prompt"], &event["model"], &event["text"]),
            (&json!(cut), &json!(cut), &json!(cut))
        );
        assert_eq!(
            event["debug"], "\"abcdefg…[+20 bytes]",
            "Debug text is cut as written"
        );
        assert_eq!(out[0]["model"], cut, "span fields too");
        let whole = json(
            &LoggingConfig {
                max_value_bytes: crate::trace::ValueLimit::NONE,
                ..jsonl()
            },
            || info!(v = long, "x"),
        );
        assert_eq!(whole[0]["v"], long, "0 is no bound");
    }
}
