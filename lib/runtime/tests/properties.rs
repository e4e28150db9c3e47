//! Property tests over hostile input: the parsers never panic and accept only what their
//! grammar allows; whatever goes into a JSONL line comes back out of it.
//!
//! `PROPTEST_CASES` sets the number of cases (CI runs the default 256 per property).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::collections::HashMap;

use proptest::prelude::*;
use tracewire_runtime::{
    logging::{directives::parse_directives, LoggingConfig, MemorySink, TracewireLayer},
    propagation::{
        format_traceparent, parse_traceparent, validate_request_id, validate_tracestate,
    },
    settings::Origin,
    trace::{SpanId, TraceFlags, TraceId},
};
use tracing_subscriber::layer::SubscriberExt;

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[ -~]{0,80}",
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect()),
        "[0-9a-f-]{50,60}",
    ]
}

proptest! {
    #[test]
    fn traceparent_parsing_never_panics_and_round_trips(text in any_text(), trace in 1u128.., span in 1u64.., flags in any::<u8>()) {
        let _ = parse_traceparent(&text);
        let (trace, span) = (TraceId::from_u128(trace).unwrap(), SpanId::from_u64(span).unwrap());
        let header = format_traceparent(trace, span, TraceFlags(flags));
        let parsed = parse_traceparent(&header).unwrap();
        prop_assert_eq!((parsed.trace_id, parsed.parent_id, parsed.flags.0), (trace, span, flags & 0x03));
        if let Ok(p) = parse_traceparent(&text) {
            // Whatever is accepted writes back as a valid version-00 header.
            let again = format_traceparent(p.trace_id, p.parent_id, p.flags);
            prop_assert!(parse_traceparent(&again).is_ok());
        }
    }

    #[test]
    fn tracestate_validation_is_idempotent(text in any_text()) {
        if let Some(valid) = validate_tracestate(&text) {
            prop_assert_eq!(validate_tracestate(&valid), Some(valid.clone()));
            prop_assert!(valid.split(',').count() <= 32);
            prop_assert!(valid.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }

    #[test]
    fn request_ids_are_visible_ascii_or_refused_printably(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        match validate_request_id(&bytes) {
            Ok(id) => prop_assert!(!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| (0x21..=0x7e).contains(&b))),
            Err(e) => prop_assert!(e.to_string().bytes().all(|b| (0x20..0x7f).contains(&b))),
        }
    }

    #[test]
    fn dyn_log_parsing_never_panics_and_errors_are_one_line(text in any_text()) {
        match parse_directives(&text, &Origin::Env("DYN_LOG")) {
            Ok(directives) => {
                let config = LoggingConfig::default();
                let _ = config.filter.clone().overlay(directives).build();
            }
            Err(e) => prop_assert!(!e.to_string().contains('\n') && e.to_string().starts_with("DYN_LOG: ")),
        }
    }

    #[test]
    fn toml_loading_never_panics_and_errors_name_the_file(text in prop_oneof![any_text(), "(jsonl|log_level|stream|\\[file\\]|\\[otlp\\]|path|sampler) ?= ?[\"a-z0-9 .]{0,20}\n{0,3}"]) {
        if let Err(e) = tracewire_runtime::logging::Config::from_toml("fuzz.toml", &text) {
            let message = e.to_string();
            prop_assert!(message.starts_with("fuzz.toml:"), "{}", message);
            prop_assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn any_message_and_value_come_back_out_of_a_jsonl_line(message in any_text(), value in any_text(), number in any::<i64>(), ratio in any::<f64>()) {
        let config = LoggingConfig { format: tracewire_runtime::logging::Format::Jsonl, span_events: Some(true), ..Default::default() };
        let sink = MemorySink::default();
        let subscriber = tracing_subscriber::registry().with(TracewireLayer::new(&config, sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info_span!("s", held = %value).in_scope(|| {
                tracing::warn!(text = value.as_str(), number, ratio, "{message}");
            });
        });
        let contents = sink.contents();
        let lines: Vec<&str> = contents.lines().collect();
        prop_assert_eq!(lines.len(), 3, "one line per event: {:?}", contents);
        for line in &lines {
            let object: HashMap<String, serde_json::Value> = serde_json::from_str(line).unwrap();
            prop_assert_eq!(&object["held"], &serde_json::Value::from(value.clone()));
        }
        let event: HashMap<String, serde_json::Value> = serde_json::from_str(lines[1]).unwrap();
        prop_assert_eq!(&event["message"], &serde_json::Value::from(message.clone()));
        prop_assert_eq!(&event["text"], &serde_json::Value::from(value.clone()));
        prop_assert_eq!(&event["number"], &serde_json::Value::from(number));
        if ratio.is_finite() {
            // serde_json's float parsing is approximate; Rust's is exact: read the raw number.
            let raw = lines[1].split("\"ratio\":").nth(1).unwrap();
            let raw = &raw[..raw.find([',', '}']).unwrap()];
            prop_assert_eq!(raw.parse::<f64>().unwrap(), ratio, "{}", raw);
        } else {
            prop_assert!(event["ratio"].is_string());
        }
    }
}
