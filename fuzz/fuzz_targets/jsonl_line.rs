//! Any message and value through the JSONL writer: one JSON object per line that parses back
//! to the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tracewire_runtime::logging::{Format, LoggingConfig, MemorySink, TracewireLayer};
use tracing_subscriber::layer::SubscriberExt;

fuzz_target!(|input: (&str, &str)| {
    let (message, value) = input;
    let config = LoggingConfig { format: Format::Jsonl, span_events: true, ..Default::default() };
    let sink = MemorySink::default();
    let subscriber = tracing_subscriber::registry().with(TracewireLayer::new(&config, sink.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info_span!("s", held = %value).in_scope(|| tracing::warn!(text = value, "{message}"));
    });
    let contents = sink.contents();
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines.len(), 3);
    let event: serde_json::Value = serde_json::from_str(lines[1]).expect("one JSON object");
    assert_eq!(event["message"], message);
    assert_eq!(event["text"], value);
    assert_eq!(event["held"], value);
});
