//! tracewire's layer against tracing-subscriber's `fmt` formatters, in one process, on the
//! same events, each writing to an in-memory buffer that is reused (never grows without bound).
//! Prints ns per operation (median of rounds) and the ratio to the baseline.
//!
//! `cargo bench -p tracewire-runtime --bench layer`  (`BENCH_QUICK=1` for a short run)

use std::{
    cell::RefCell,
    hint::black_box,
    io,
    time::{Duration, Instant, SystemTime},
};

use tracewire_runtime::logging::{
    directives, Format, LineSink, LoggingConfig, Origin, TracewireLayer,
};
use tracing::{debug, info, info_span, Dispatch};
use tracing_subscriber::{fmt::format::FmtSpan, layer::SubscriberExt};

thread_local! {
    static SINK: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1 << 20));
}

fn keep(bytes: &[u8]) {
    SINK.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() > 1 << 20 {
            s.clear();
        }
        s.extend_from_slice(bytes);
    });
}

/// The in-memory sink for tracewire.
struct Memory;

impl LineSink for Memory {
    fn write_line(&self, line: &[u8]) {
        keep(line);
    }
}

/// The same in-memory sink for tracing-subscriber.
struct MemoryWriter;

impl io::Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        keep(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn config(format: Format, dyn_log: &str) -> LoggingConfig {
    let mut c = LoggingConfig {
        format,
        span_events: format == Format::Jsonl,
        ..Default::default()
    };
    let parsed = directives::parse_directives(dyn_log, &Origin::Env("DYN_LOG")).expect("valid");
    c.filter = c.filter.overlay(parsed);
    c
}

fn tracewire(format: Format, dyn_log: &str) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry().with(TracewireLayer::new(&config(format, dyn_log), Memory)),
    )
}

fn fmt_json(spans: FmtSpan) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_span_events(spans)
            .with_writer(|| MemoryWriter)
            .finish(),
    )
}

fn fmt_text() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| MemoryWriter)
            .finish(),
    )
}

/// Median ns per iteration of `f` over rounds.
fn measure(dispatch: &Dispatch, iters: u32, f: &dyn Fn(u32)) -> f64 {
    let rounds = if std::env::var_os("BENCH_QUICK").is_some() {
        3
    } else {
        9
    };
    tracing::dispatcher::with_default(dispatch, || {
        for i in 0..iters / 10 {
            f(i);
        }
        let mut samples: Vec<f64> = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                for i in 0..iters {
                    f(i);
                }
                start.elapsed().as_nanos() as f64 / f64::from(iters)
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    })
}

/// Median ns per event emitted inside two nested spans with fields, the spans created once
/// (outside the timed loop) under each subscriber.
fn measure_in_spans(dispatch: &Dispatch, iters: u32) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let outer = info_span!(
            "http-request",
            method = "POST",
            uri = "/v1/chat/completions"
        );
        let _o = outer.enter();
        let inner = info_span!("generate", model = "Qwen/Qwen3-0.6B", tokens = 7_u64);
        let _i = inner.enter();
        measure(dispatch, iters, &event)
    })
}

fn event(i: u32) {
    info!(
        request = i,
        user = "alice",
        ratio = 0.25,
        "request received"
    );
}

fn lifecycle(i: u32) {
    let span = info_span!("handle_payload", component = "backend", id = i);
    let _e = span.enter();
}

fn disabled(i: u32) {
    debug!(request = i, "not written");
}

/// The line a hand-written serializer produces for `event`, with a clock read: the floor.
fn bare(i: u32) {
    let mut buf = Vec::with_capacity(256);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    buf.extend_from_slice(b"{\"time\":\"");
    buf.extend_from_slice(itoa::Buffer::new().format(now.as_micros()).as_bytes());
    buf.extend_from_slice(b"\",\"level\":\"INFO\",\"file\":\"benches/layer.rs\",\"line\":102,\"target\":\"layer\",\"message\":\"request received\",\"request\":");
    buf.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    buf.extend_from_slice(b",\"user\":\"alice\",\"ratio\":");
    buf.extend_from_slice(zmij::Buffer::new().format(0.25).as_bytes());
    buf.extend_from_slice(b"}\n");
    keep(black_box(&buf));
}

fn row(name: &str, ours: f64, baseline_name: &str, baseline: f64, target: &str) {
    println!("{name:<44} {ours:>9.1} ns   {baseline_name:<34} {baseline:>9.1} ns   ratio {:>5.3}   target {target}", ours / baseline);
}

fn main() {
    // `BENCH_PROFILE=event|nested|lifecycle|readable` runs only tracewire's case, for a profiler.
    if std::env::var_os("BENCH_EXPLORE").is_some() {
        let n = 200_000;
        let reg = Dispatch::new(tracing_subscriber::registry());
        println!(
            "registry only lifecycle {:.1}",
            measure(&reg, n, &lifecycle)
        );
        let mut c = config(Format::Jsonl, "info");
        c.span_events = false;
        let noev =
            Dispatch::new(tracing_subscriber::registry().with(TracewireLayer::new(&c, Memory)));
        println!(
            "jsonl no span events lifecycle {:.1}",
            measure(&noev, n, &lifecycle)
        );
        if std::env::var_os("BENCH_NOEV").is_some() {
            measure(&noev, n * 10, &lifecycle);
            return;
        }
        println!(
            "jsonl lifecycle {:.1}",
            measure(&tracewire(Format::Jsonl, "info"), n, &lifecycle)
        );
        println!("registry only event {:.1}", measure(&reg, n, &event));
        println!(
            "clock {:.1}",
            measure(&Dispatch::none(), n, &|_| {
                black_box(SystemTime::now());
            })
        );
        println!(
            "instant {:.1}",
            measure(&Dispatch::none(), n, &|_| {
                black_box(Instant::now());
            })
        );
        println!(
            "quanta {:.1}",
            measure(&Dispatch::none(), n, &|_| {
                black_box(quanta::Instant::now());
            })
        );
        let c = quanta::Clock::new();
        println!(
            "quanta raw {:.1}",
            measure(&Dispatch::none(), n, &|_| {
                black_box(c.raw());
            })
        );
        println!(
            "zmij {:.1}",
            measure(&Dispatch::none(), n, &|i| {
                keep(
                    zmij::Buffer::new()
                        .format(black_box(0.25 + f64::from(i & 1)))
                        .as_bytes(),
                );
            })
        );
        return;
    }
    if let Ok(case) = std::env::var("BENCH_PROFILE") {
        if case == "nested" {
            println!(
                "nested: {:.1} ns",
                measure_in_spans(&tracewire(Format::Jsonl, "info"), 2_000_000)
            );
            return;
        }
        let (format, f): (Format, fn(u32)) = match case.as_str() {
            "event" => (Format::Jsonl, event),
            "lifecycle" => (Format::Jsonl, lifecycle),
            _ => (Format::Readable, event),
        };
        let ns = measure(&tracewire(format, "info"), 2_000_000, &f);
        println!("{case}: {ns:.1} ns");
        return;
    }
    let quick = std::env::var_os("BENCH_QUICK").is_some();
    let n = if quick { 20_000 } else { 200_000 };
    let jsonl = tracewire(Format::Jsonl, "info");
    let readable = tracewire(Format::Readable, "info");

    let ours = measure(&jsonl, n, &event);
    let theirs = measure(&fmt_json(FmtSpan::NONE), n, &event);
    row(
        "JSONL event, message + 3 fields",
        ours,
        "fmt().json()",
        theirs,
        "<= 0.15",
    );
    let floor = measure(&Dispatch::none(), n, &bare);
    row(
        "JSONL event vs hand-written line + clock",
        ours,
        "bare serializer",
        floor,
        "<= 1.5",
    );

    let ours = measure_in_spans(&jsonl, n);
    let theirs = measure_in_spans(&fmt_json(FmtSpan::NONE), n);
    row(
        "JSONL event inside 2 nested spans",
        ours,
        "fmt().json()",
        theirs,
        "<= 0.10",
    );

    let ours = measure(&jsonl, n, &lifecycle);
    let theirs = measure(&fmt_json(FmtSpan::NEW | FmtSpan::CLOSE), n, &lifecycle);
    row(
        "span create-enter-exit-close + events",
        ours,
        "fmt().json() NEW|CLOSE",
        theirs,
        "<= 0.12",
    );

    let five = "info,hyper=warn,h2=error,my_app::db=debug,my_app::cache=warn,tower=error";
    let ours = measure(&tracewire(Format::Jsonl, five), n * 10, &disabled);
    let theirs = measure(&Dispatch::none(), n * 10, &disabled);
    row(
        "disabled event, 5 per-target directives",
        ours,
        "no subscriber",
        theirs,
        "<= 1.2",
    );

    let ours = measure(&readable, n, &event);
    let theirs = measure(&fmt_text(), n, &event);
    row(
        "readable event, message + 3 fields",
        ours,
        "fmt() text",
        theirs,
        "<= 0.25",
    );
}
