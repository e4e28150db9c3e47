//! tracewire's layer against tracing-subscriber's `fmt` formatters, in one process, on the
//! same events, each writing to an in-memory buffer that is reused (never grows without bound).
//! Rounds of tracewire and of its baseline alternate; prints the median ns per operation of
//! each and the median of the per-round ratios.
//!
//! `cargo bench -p tracewire-runtime --bench layer`  (`BENCH_QUICK=1` for a short run)
//!
//! The harness (sinks, subscribers, alternating rounds) is `harness.rs`.

use std::{
    cell::RefCell,
    hint::black_box,
    time::{Duration, Instant, SystemTime},
};

use tracewire_runtime::logging::{
    CaptureConfig, Format, LoggingConfig, ScopeConfig, TracewireLayer,
};
use tracing::{debug, trace, Dispatch, Level};
use tracing_subscriber::{fmt::format::FmtSpan, layer::SubscriberExt};

mod harness;

use harness::*;

fn disabled(i: u32) {
    debug!(request = i, "not written");
}

thread_local! {
    static BARE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
}

/// The line tracewire writes for `event`, by a bare hand-written serializer with a clock read:
/// the floor. A reused buffer, the timestamp computed from scratch, the values through the
/// same itoa and zmij, the constant parts as one literal.
fn bare(i: u32) {
    BARE.with(|cell| {
        let mut buf = cell.borrow_mut();
        buf.clear();
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        buf.extend_from_slice(b"{\"time\":\"");
        rfc3339(&mut buf, now);
        buf.extend_from_slice(b"\",\"level\":\"INFO\",\"file\":\"lib/runtime/benches/layer.rs\",\"line\":152,\"target\":\"layer\",\"message\":\"request received\",\"request\":");
        buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        buf.extend_from_slice(b",\"user\":\"alice\",\"ratio\":");
        buf.extend_from_slice(zmij::Buffer::new().format(black_box(0.25)).as_bytes());
        buf.extend_from_slice(b"}\n");
        keep(black_box(&buf));
    });
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` from a Unix time (H. Hinnant's civil-from-days).
fn rfc3339(buf: &mut Vec<u8>, since_epoch: Duration) {
    let secs = since_epoch.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    for (range, mut value) in [
        (0..4, year),
        (5..7, month),
        (8..10, day),
        (11..13, rem / 3600),
        (14..16, rem / 60 % 60),
        (17..19, rem % 60),
        (20..26, i64::from(since_epoch.subsec_micros())),
    ] {
        for digit in text[range].iter_mut().rev() {
            *digit = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    buf.extend_from_slice(&text);
}

fn row(name: &str, (ours, theirs, ratio): (f64, f64, f64), baseline_name: &str, target: &str) {
    println!("{name:<44} {ours:>9.1} ns   {baseline_name:<26} {theirs:>9.1} ns   ratio {ratio:>5.3}   target {target}");
}

fn main() {
    // `BENCH_PROFILE=event|nested|lifecycle|quiet-lifecycle|readable` runs only tracewire's case, for a profiler;
    // `BENCH_PROFILE=parts` prints what parts of a line cost on their own.
    if let Ok(case) = std::env::var("BENCH_PROFILE") {
        return profile(&case);
    }
    let n = if std::env::var_os("BENCH_QUICK").is_some() {
        20_000
    } else {
        100_000
    };
    let jsonl = tracewire(Format::Jsonl, "info");
    let json = fmt_json(FmtSpan::NONE);
    let none = Dispatch::none();
    row(
        "JSONL event, message + 3 fields",
        compare((&jsonl, &event), (&json, &event), n, Spans::Off),
        "fmt().json()",
        "<= 0.15",
    );
    row(
        "JSONL event vs hand-written line + clock",
        compare((&jsonl, &event), (&none, &bare), n, Spans::Off),
        "bare serializer",
        "<= 1.5",
    );
    row(
        "JSONL event inside 2 nested spans",
        compare((&jsonl, &event), (&json, &event), n, Spans::Nested),
        "fmt().json()",
        "<= 0.10",
    );
    row(
        "span create-enter-exit-close + events",
        compare(
            (&jsonl, &lifecycle),
            (&fmt_json(FmtSpan::NEW | FmtSpan::CLOSE), &lifecycle),
            n,
            Spans::Off,
        ),
        "fmt().json() NEW|CLOSE",
        "<= 0.12",
    );
    let five = "info,hyper=warn,h2=error,my_app::db=debug,my_app::cache=warn,tower=error";
    row(
        "disabled event, 5 per-target directives",
        compare(
            (&tracewire(Format::Jsonl, five), &disabled),
            (&none, &disabled),
            n * 10,
            Spans::Off,
        ),
        "no subscriber",
        "<= 1.2",
    );
    row(
        "readable event, message + 3 fields",
        compare(
            (&tracewire(Format::Readable, "info"), &event),
            (&fmt_text(), &event),
            n,
            Spans::Off,
        ),
        "fmt() text",
        "<= 0.25",
    );
    // The same after the filter was changed at runtime: tracing's interest cache was rebuilt
    // and a disabled event still costs only the callsite's cached interest.
    let layer = TracewireLayer::new(&config(Format::Jsonl, five), Memory);
    let handle = layer.filter_handle();
    let changed = Dispatch::new(tracing_subscriber::registry().with(layer));
    handle
        .set("warn,my_app::db=debug,tower=error")
        .expect("valid directives");
    row(
        "disabled event after a runtime filter change",
        compare(
            (&changed, &disabled),
            (&none, &disabled),
            n * 10,
            Spans::Off,
        ),
        "no subscriber",
        "<= 1.2",
    );
    // Its filter hides INFO: alive, it would make every INFO callsite `sometimes` (tracing
    // combines the interest of every subscriber) and the layer asked for each event below.
    drop(changed);
    request_scoped(n);
}

/// Request-scoped logging configured (a request level, capture at DEBUG, a rate limit no line
/// reaches) but not triggered, and capture's own cost. Last: its `sometimes` interest for DEBUG
/// callsites, once registered, is the process's (tracing combines the interest of every
/// subscriber), and would slow the disabled cases above.
fn request_scoped(n: u32) {
    let mut scoped = config(Format::Jsonl, "info");
    scoped.scope = ScopeConfig {
        request_level: Some(Level::DEBUG),
        capture: Some(CaptureConfig::at(Level::DEBUG)),
        rate_limit: Some(1_000_000_000),
        ..ScopeConfig::default()
    };
    let scoped =
        Dispatch::new(tracing_subscriber::registry().with(TracewireLayer::new(&scoped, Memory)));
    let none = Dispatch::none();
    row(
        "scoped: JSONL event",
        compare(
            (&scoped, &event),
            (&fmt_json(FmtSpan::NONE), &event),
            n,
            Spans::Off,
        ),
        "fmt().json()",
        "<= 0.15",
    );
    row(
        "scoped: JSONL event inside a request",
        compare(
            (&scoped, &event),
            (&fmt_json(FmtSpan::NONE), &event),
            n,
            Spans::Request,
        ),
        "fmt().json()",
        "<= 0.10",
    );
    row(
        "scoped: disabled TRACE event",
        compare((&scoped, &finest), (&none, &finest), n * 10, Spans::Off),
        "no subscriber",
        "<= 1.2",
    );
    row(
        "scoped: DEBUG event outside requests",
        compare((&scoped, &disabled), (&none, &disabled), n * 10, Spans::Off),
        "no subscriber",
        "(reported)",
    );
    row(
        "scoped: DEBUG event in spans, not a request",
        compare(
            (&scoped, &disabled),
            (&none, &disabled),
            n * 10,
            Spans::Nested,
        ),
        "no subscriber",
        "(reported)",
    );
    let mut shown = config(Format::Jsonl, "debug");
    shown.span_events = Some(true);
    let shown =
        Dispatch::new(tracing_subscriber::registry().with(TracewireLayer::new(&shown, Memory)));
    row(
        "captured-then-discarded DEBUG event",
        compare(
            (&scoped, &debug_event),
            (&shown, &debug_event),
            n,
            Spans::Request,
        ),
        "enabled JSONL event",
        "<= 2.0",
    );
}

/// JSONL with a request level, capture at DEBUG and a rate limit no line reaches.
fn scoped() -> LoggingConfig {
    let mut scoped = config(Format::Jsonl, "info");
    scoped.scope = ScopeConfig {
        request_level: Some(Level::DEBUG),
        capture: Some(CaptureConfig::at(Level::DEBUG)),
        rate_limit: Some(1_000_000_000),
        ..ScopeConfig::default()
    };
    scoped
}

/// [`event`] at DEBUG.
fn debug_event(i: u32) {
    debug!(
        request = i,
        user = "alice",
        ratio = 0.25,
        "request received"
    );
}

fn finest(i: u32) {
    trace!(request = i, "not written");
}

fn raw_clock() -> &'static quanta::Clock {
    static CLOCK: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

fn profile(case: &str) {
    let n = 2_000_000;
    if case == "parts" {
        let registry = Dispatch::new(tracing_subscriber::registry());
        let none = Dispatch::none();
        let mut quiet = config(Format::Jsonl, "info");
        quiet.span_events = Some(false);
        let quiet =
            Dispatch::new(tracing_subscriber::registry().with(TracewireLayer::new(&quiet, Memory)));
        let parts: [(&str, Case<'_>); 8] = [
            ("span lifecycle, registry alone", (&registry, &lifecycle)),
            (
                "span lifecycle, JSONL without span events",
                (&quiet, &lifecycle),
            ),
            ("event, registry alone", (&registry, &event)),
            (
                "SystemTime::now",
                (&none, &|_| {
                    black_box(SystemTime::now());
                }),
            ),
            (
                "std Instant::now",
                (&none, &|_| {
                    black_box(Instant::now());
                }),
            ),
            (
                "quanta Instant::now",
                (&none, &|_| {
                    black_box(quanta::Instant::now());
                }),
            ),
            (
                "quanta Clock::raw",
                (&none, &|_| {
                    black_box(raw_clock().raw());
                }),
            ),
            (
                "zmij 0.25",
                (&none, &|i| {
                    keep(
                        zmij::Buffer::new()
                            .format(black_box(0.25 + f64::from(i & 1)))
                            .as_bytes(),
                    );
                }),
            ),
        ];
        for (name, (dispatch, f)) in parts {
            println!("{name:<44} {:>7.1} ns", measure(dispatch, n / 10, f));
        }
        return;
    }
    let (dispatch, f, in_spans): (Dispatch, fn(u32), bool) = match case {
        "event" => (tracewire(Format::Jsonl, "info"), event, false),
        "nested" => (tracewire(Format::Jsonl, "info"), event, true),
        "lifecycle" => (tracewire(Format::Jsonl, "info"), lifecycle, false),
        "quiet-lifecycle" => {
            let mut quiet = config(Format::Jsonl, "info");
            quiet.span_events = Some(false);
            let layer = TracewireLayer::new(&quiet, Memory);
            (
                Dispatch::new(tracing_subscriber::registry().with(layer)),
                lifecycle,
                false,
            )
        }
        "scoped-event" => (
            Dispatch::new(
                tracing_subscriber::registry().with(TracewireLayer::new(&scoped(), Memory)),
            ),
            event,
            false,
        ),
        _ => (tracewire(Format::Readable, "info"), event, false),
    };
    let ns = median(
        (0..rounds())
            .map(|_| {
                round(
                    &dispatch,
                    n,
                    &f,
                    if in_spans { Spans::Nested } else { Spans::Off },
                )
            })
            .collect(),
    );
    println!("{case}: {ns:.1} ns");
}
