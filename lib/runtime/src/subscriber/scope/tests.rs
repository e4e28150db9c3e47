//! Request-scoped logging through the layer, with scoped subscribers and in-memory sinks.

use std::time::{Duration, Instant};

use tracing::{debug, debug_span, error, info, info_span, trace, Level, Span};

use tracing_subscriber::layer::SubscriberExt;

use super::{CaptureConfig, ScopeConfig};
use crate::{
    subscriber::{
        testing::{json, jsonl, parse_line, with_dyn_log, Line},
        Format, LoggingConfig, MemorySink, TracewireLayer,
    },
    trace::RemoteContext,
};

/// The lines written while `f` ran, with the system clock's times.
fn json_now(config: &LoggingConfig, f: impl FnOnce()) -> Vec<Line> {
    let sink = MemorySink::default();
    let layer = TracewireLayer::new(config, sink.clone());
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    sink.lines().iter().map(|l| parse_line(l)).collect()
}

fn request(id: &str, baggage: Option<&str>) -> Span {
    let remote = RemoteContext {
        x_request_id: Some(id.into()),
        baggage: baggage.map(Into::into),
        ..RemoteContext::default()
    };
    info_span!(
        "http-request",
        remote_parent = remote.field(),
        status = tracing::field::Empty
    )
}

fn scoped(scope: ScopeConfig) -> LoggingConfig {
    LoggingConfig { scope, ..jsonl() }
}

fn of<'a>(out: &'a [Line], id: &str) -> Vec<&'a Line> {
    out.iter()
        .filter(|l| l.x_request_id.as_deref() == Some(id))
        .collect()
}

fn messages(lines: &[&Line]) -> Vec<String> {
    lines.iter().map(|l| l.message.clone()).collect()
}

/// Two requests interleaved on one thread, the first asking for DEBUG in its baggage.
fn two_requests() {
    let asking = request("asking", Some("user=ann,tracewire.log=debug"));
    let plain = request("plain", Some("user=bob"));
    for round in 0..2 {
        for span in [&asking, &plain] {
            span.in_scope(|| {
                debug!(round, "detail");
                debug_span!("engine").in_scope(|| trace!("finer"));
                info!(round, "step");
            });
        }
    }
    debug!("outside any request");
}

#[test]
fn a_request_level_applies_to_that_request_only() {
    let config = scoped(ScopeConfig {
        request_level: Some(Level::DEBUG),
        ..ScopeConfig::default()
    });
    let out = json(&config, two_requests);
    let asking = of(&out, "asking");
    assert_eq!(
        messages(&asking),
        [
            "SPAN_CREATED",
            "detail",
            "SPAN_CREATED",
            "SPAN_CLOSED",
            "step",
            "detail",
            "SPAN_CREATED",
            "SPAN_CLOSED",
            "step",
            "SPAN_CLOSED"
        ],
        "DEBUG lines and DEBUG spans, nothing at TRACE (above the allowed level)"
    );
    assert!(asking.iter().all(|l| !l.has("captured")));
    let engine = asking.iter().find(|l| l.span() == "engine").unwrap();
    assert_eq!(engine.level, "DEBUG");
    assert_eq!(
        messages(&of(&out, "plain")),
        ["SPAN_CREATED", "step", "step", "SPAN_CLOSED"],
        "the other request, on the same thread at the same time, keeps the filter's level: {out:#?}"
    );
    assert!(
        !out.iter().any(|l| l.message == "outside any request"),
        "and outside requests the filter rules"
    );

    let out = json(&jsonl(), two_requests);
    assert!(
        !out.iter().any(|l| l.level == "DEBUG"),
        "without DYN_LOG_REQUEST_LEVEL the member is ignored: {out:#?}"
    );
}

#[test]
fn the_allowed_level_caps_what_a_request_asks_for() {
    let config = scoped(ScopeConfig {
        request_level: Some(Level::TRACE),
        ..ScopeConfig::default()
    });
    let out = json(&config, || {
        request("r", Some("tracewire.log=trace")).in_scope(|| trace!("finest"))
    });
    assert!(out.iter().any(|l| l.message == "finest"));
    let config = scoped(ScopeConfig {
        request_level: Some(Level::DEBUG),
        ..ScopeConfig::default()
    });
    let out = json(&config, || {
        request("r", Some("tracewire.log=trace")).in_scope(|| {
            trace!("finest");
            debug!("fine");
        })
    });
    assert_eq!(
        messages(&of(&out, "r")),
        ["SPAN_CREATED", "fine", "SPAN_CLOSED"]
    );
}

fn capture(max_lines: usize) -> LoggingConfig {
    scoped(ScopeConfig {
        capture: Some(CaptureConfig {
            max_lines,
            ..CaptureConfig::at(Level::DEBUG)
        }),
        ..ScopeConfig::default()
    })
}

#[test]
fn a_failed_request_writes_what_it_held_before_its_error() {
    let out = json_now(&capture(256), || {
        let ok = request("ok", None);
        let failing = request("failing", None);
        for i in 0..3 {
            failing.in_scope(|| debug!(i, "held"));
            ok.in_scope(|| debug!(i, "held"));
            std::thread::sleep(Duration::from_millis(2));
        }
        failing.in_scope(|| {
            trace!("below the capture level");
            error!("the worker died");
            debug!("after the failure");
        });
        ok.in_scope(|| info!("fine"));
    });
    assert_eq!(
        messages(&of(&out, "ok")),
        ["SPAN_CREATED", "fine", "SPAN_CLOSED"],
        "a request that succeeds: held lines discarded"
    );
    let failing = of(&out, "failing");
    assert_eq!(
        messages(&failing),
        [
            "SPAN_CREATED",
            "held",
            "held",
            "held",
            "the worker died",
            "after the failure",
            "SPAN_CLOSED"
        ]
    );
    let held: Vec<_> = failing.iter().filter(|l| l.has("captured")).collect();
    assert_eq!(held.len(), 4);
    for (i, line) in held.iter().enumerate() {
        assert_eq!(line["captured"], true);
        assert_eq!(line.level, "DEBUG");
        assert!(!line.has("captured_dropped"), "nothing was dropped");
        if i < 3 {
            assert_eq!(line["i"], i, "in their order");
        }
    }
    let times: Vec<&str> = held[..3].iter().map(|l| l.time.as_str()).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "their own times, 2 ms apart: {times:?}"
    );
    let error = failing.iter().find(|l| l.level == "ERROR").unwrap();
    assert!(
        times[2] < error.time.as_str(),
        "held before the error happened"
    );
    assert!(!error.has("captured"));
}

#[test]
fn a_5xx_status_fails_the_request_and_the_limit_drops_the_oldest() {
    let out = json(&capture(4), || {
        let span = request("r", None);
        span.in_scope(|| {
            for i in 0..10 {
                debug!(i, "held");
            }
        });
        span.record("status", 503);
    });
    let lines = of(&out, "r");
    let held: Vec<_> = lines.iter().filter(|l| l.has("captured")).collect();
    let kept: Vec<u64> = held.iter().map(|l| l["i"].as_u64().unwrap()).collect();
    assert_eq!(kept, [6, 7, 8, 9], "the newest 4");
    assert_eq!(
        held[0]["captured_dropped"], 6,
        "the count on the first line"
    );
    assert!(!held[1].has("captured_dropped"));
    assert_eq!(lines.last().unwrap().message, "SPAN_CLOSED", "before it");
}

#[test]
fn held_lines_in_the_readable_format_are_marked_too() {
    let config = LoggingConfig {
        format: Format::Readable,
        span_events: Some(false),
        ..capture(256)
    };
    let out = crate::subscriber::testing::lines(&config, || {
        request("r", None).in_scope(|| {
            debug!("held");
            error!("failed");
        })
    });
    assert_eq!(out.len(), 2, "{out:#?}");
    assert!(
        out[0].contains("held") && out[0].ends_with(" captured=true"),
        "{}",
        out[0]
    );
    assert!(out[1].contains("failed") && !out[1].contains("captured"));
}

#[test]
fn a_callsite_writes_at_most_its_rate_and_the_rest_is_reported() {
    const PER_S: u32 = 50;
    let config = with_dyn_log(
        scoped(ScopeConfig {
            rate_limit: Some(PER_S),
            ..ScopeConfig::default()
        }),
        "info",
    );
    let mut emitted = 0_u64;
    let out = json_now(&config, || {
        let spin = info_span!("spin");
        let _entered = spin.enter();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2200) {
            info!(n = emitted, "tight loop");
            emitted += 1;
        }
        info!("another callsite");
        // The report comes once a second, from its own thread.
        std::thread::sleep(Duration::from_millis(1300));
    });
    let written: Vec<_> = out.iter().filter(|l| l.message == "tight loop").collect();
    let mut per_second = std::collections::BTreeMap::new();
    for line in &written {
        *per_second.entry(&line.time[..19]).or_insert(0) += 1;
    }
    assert!(per_second.len() >= 2, "{per_second:?}");
    let full: Vec<u32> = per_second.values().copied().collect();
    assert!(
        full.iter().all(|n| *n <= PER_S + 1),
        "at most {PER_S} a second (one may land in the next second's stamp): {full:?}"
    );
    assert!(
        full[1..full.len() - 1].iter().all(|n| *n >= PER_S - 1),
        "{full:?}"
    );
    let reports: Vec<_> = out
        .iter()
        .filter(|l| l.message == "lines suppressed")
        .collect();
    assert!(!reports.is_empty());
    let suppressed: u64 = reports
        .iter()
        .map(|r| {
            assert_eq!(r.level, "WARN");
            assert!(
                r["callsite"].as_str().unwrap().contains("scope/tests.rs:"),
                "{r:?}"
            );
            r["suppressed"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(
        written.len() as u64 + suppressed,
        emitted,
        "every line is written or counted"
    );
    assert!(out.iter().any(|l| l.message == "another callsite"));
    assert_eq!(
        out.iter().filter(|l| l.message == "SPAN_CREATED").count(),
        1,
        "span events are never suppressed"
    );
}

/// Python records (`logging::foreign`) are a request's lines too: its own level and capture
/// apply to them as to Rust events.
#[test]
fn records_from_python_follow_their_requests_level_and_capture() {
    use crate::subscriber::foreign::{emit, Record};
    let record = |level, message| Record {
        level,
        logger: "engine.scoped",
        file: "engine.py",
        line: 1,
        message,
        exception: None,
        fields: &[],
    };
    let config = scoped(ScopeConfig {
        request_level: Some(Level::DEBUG),
        capture: Some(CaptureConfig::at(Level::DEBUG)),
        ..ScopeConfig::default()
    });
    let out = json(&config, || {
        let asking = request("asking", Some("tracewire.log=debug"));
        let plain = request("plain", None);
        let failing = request("failing", None);
        emit(&record(Level::DEBUG, "asked for"), Some(&asking));
        emit(&record(Level::DEBUG, "not asked for"), Some(&plain));
        emit(&record(Level::DEBUG, "held"), Some(&failing));
        emit(&record(Level::ERROR, "failed"), Some(&failing));
    });
    assert!(messages(&of(&out, "asking")).contains(&"asked for".to_owned()));
    assert!(!messages(&of(&out, "plain")).contains(&"not asked for".to_owned()));
    let failing = of(&out, "failing");
    let held = failing.iter().find(|l| l.message == "held").expect("held");
    assert_eq!(held.fields["captured"], true);
}

#[test]
fn a_caller_asking_gets_its_requests_lines_as_jsonl_in_either_format_and_only_those() {
    use crate::subscriber::{client_logs, ClientLogs};
    for format in [Format::Jsonl, Format::Readable] {
        let config = LoggingConfig {
            format,
            scope: ScopeConfig {
                client_level: Some(Level::DEBUG),
                ..ScopeConfig::default()
            },
            ..jsonl()
        };
        let sink = MemorySink::default();
        let layer = TracewireLayer::new(&config, sink.clone());
        let mut gathered: Vec<Option<ClientLogs>> = Vec::new();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            let asking = request("asking", Some("user=ann,tracewire.logs=trace"));
            let plain = request("plain", Some("tracewire.log=debug"));
            for round in 0..2 {
                for span in [&asking, &plain] {
                    span.in_scope(|| {
                        info_span!("engine", model = "m").in_scope(|| debug!(round, "detail"));
                        trace!("finer");
                        info!(round, "step");
                    });
                }
            }
            gathered = vec![client_logs(&asking), client_logs(&plain)];
        });
        let logs = gathered[0].as_ref().expect("the asking request's lines");
        assert!(
            gathered[1].is_none(),
            "{format:?}: a request that did not ask"
        );
        assert_eq!(logs.level(), Level::DEBUG, "capped at client_level");
        let lines: Vec<Line> = logs
            .take()
            .iter()
            .map(|l| parse_line(std::str::from_utf8(l).unwrap()))
            .collect();
        let got: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| (l.level.as_str(), l.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("DEBUG", "detail"),
                ("INFO", "step"),
                ("DEBUG", "detail"),
                ("INFO", "step")
            ],
            "{format:?}: its lines at DEBUG and above, in order"
        );
        assert!(lines
            .iter()
            .all(|l| l.x_request_id.as_deref() == Some("asking")));
        assert_eq!(lines[0].span(), "engine", "{format:?}");
        let written = sink.lines().join("");
        assert!(
            !written.contains("detail"),
            "{format:?}: the hidden DEBUG lines are not written"
        );
        assert_eq!(
            written.matches("step").count(),
            4,
            "{format:?}: the filter's own lines are, once each"
        );
    }
}
