//! Any message and value through the JSONL writer: one JSON object per line that parses back
//! to the input, including span fields recorded after creation (spliced into the span's
//! pre-rendered JSON: replaced in place, appended, or joining the identity).
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tracewire_runtime::logging::{Format, LoggingConfig, MemorySink, TracewireLayer};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

fuzz_target!(|input: (&str, &str)| {
    let (message, value) = input;
    let config = LoggingConfig { format: Format::Jsonl, span_events: Some(true), ..Default::default() };
    let sink = MemorySink::default();
    let subscriber = tracing_subscriber::registry().with(TracewireLayer::new(&config, sink.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("s", held = %value, late = Empty, x_request_id = Empty, after = 1);
        span.record("late", message);
        span.record("held", value.len());
        span.record("x_request_id", value);
        span.in_scope(|| tracing::warn!(text = value, "{message}"));
    });
    let contents = sink.contents();
    let lines: Vec<Value> = contents
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object"))
        .collect();
    assert_eq!(lines.len(), 3);
    let (created, event, closed) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(created["held"], value);
    assert_eq!(created["after"], 1);
    assert!(created.get("late").is_none() && created.get("x_request_id").is_none());
    assert_eq!(event["message"], message);
    assert_eq!(event["text"], value);
    for line in [event, closed] {
        assert_eq!(line["held"], value.len());
        assert_eq!(line["late"], message);
        assert_eq!(line["x_request_id"], value);
        assert_eq!(line["after"], 1);
    }
});
