//! The layer bench's harness: in-memory sinks that are reused, the operations and subscribers
//! compared, and rounds of two cases alternated so that the machine's drift hits both alike.
//! `benches/peers` includes this file too (`#[path]`), for the same operations, subscribers and
//! sink: what only one of the two benches uses is allowed to be dead in the other.
#![allow(dead_code)]

use std::{
    cell::RefCell,
    io,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Mutex, PoisonError,
    },
    time::Instant,
};

use tracewire_runtime::logging::{directives, Format, LineSink, LoggingConfig, TracewireLayer};
use tracewire_runtime::settings::Origin;
use tracing::{info, info_span, Dispatch};
use tracing_subscriber::{fmt::format::FmtSpan, layer::SubscriberExt};

/// A JSONL event with a message and three fields: the cases' event.
pub(crate) fn event(i: u32) {
    info!(
        request = i,
        user = "alice",
        ratio = 0.25,
        "request received"
    );
}

/// A span created, entered, exited and closed: the cases' span lifecycle.
pub(crate) fn lifecycle(i: u32) {
    let span = info_span!("handle_payload", component = "backend", id = i);
    let _e = span.enter();
}

static WRITTEN: AtomicU64 = AtomicU64::new(0);
static CAPTURING: AtomicBool = AtomicBool::new(false);
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

thread_local! {
    static SINK: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1 << 20));
}

/// Takes `bytes` in, as any subscriber's output: a reused buffer per thread (cleared past
/// 1 MiB, never growing without bound), a count of every byte, and a copy while capturing.
pub(crate) fn keep(bytes: &[u8]) {
    SINK.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() > 1 << 20 {
            s.clear();
        }
        s.extend_from_slice(bytes);
    });
    WRITTEN.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if CAPTURING.load(Ordering::Relaxed) {
        CAPTURED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
    }
}

/// Bytes written so far, by every subscriber on every thread.
pub(crate) fn written() -> u64 {
    WRITTEN.load(Ordering::Relaxed)
}

/// What `f` writes (on any thread, until it returns).
pub(crate) fn capture(f: impl FnOnce()) -> Vec<u8> {
    CAPTURED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    CAPTURING.store(true, Ordering::SeqCst);
    f();
    CAPTURING.store(false, Ordering::SeqCst);
    std::mem::take(&mut *CAPTURED.lock().unwrap_or_else(PoisonError::into_inner))
}

/// The in-memory sink for tracewire.
pub(crate) struct Memory;

impl LineSink for Memory {
    fn write_line(&self, line: &[u8]) {
        keep(line);
    }
}

/// The same in-memory sink for tracing-subscriber.
pub(crate) struct MemoryWriter;

impl io::Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        keep(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(crate) fn config(format: Format, dyn_log: &str) -> LoggingConfig {
    let mut c = LoggingConfig {
        format,
        span_events: Some(format == Format::Jsonl),
        ..Default::default()
    };
    let parsed = directives::parse_directives(dyn_log, &Origin::Env("DYN_LOG")).expect("valid");
    c.filter = c.filter.overlay(parsed);
    c
}

pub(crate) fn tracewire(format: Format, dyn_log: &str) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry().with(TracewireLayer::new(&config(format, dyn_log), Memory)),
    )
}

pub(crate) fn fmt_json(spans: FmtSpan) -> Dispatch {
    Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_span_events(spans)
            .with_writer(|| MemoryWriter)
            .finish(),
    )
}

pub(crate) fn fmt_text() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(|| MemoryWriter)
            .finish(),
    )
}

pub(crate) fn rounds() -> usize {
    if std::env::var_os("BENCH_QUICK").is_some() {
        3
    } else {
        15
    }
}

/// Where the timed loop runs.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Spans {
    /// Outside any span.
    Off,
    /// Inside two nested spans with fields, created before the timed loop.
    Nested,
    /// The same, the outer span a request (it has an `x_request_id`).
    Request,
}

/// ns per iteration of `f` over one round of `iters` under `dispatch`, run where `spans` says.
pub(crate) fn round(dispatch: &Dispatch, iters: u32, f: &dyn Fn(u32), spans: Spans) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let timed = || {
            let start = Instant::now();
            for i in 0..iters {
                f(i);
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        };
        let outer = match spans {
            Spans::Off => return timed(),
            Spans::Nested => info_span!(
                "http-request",
                method = "POST",
                uri = "/v1/chat/completions"
            ),
            Spans::Request => info_span!(
                "http-request",
                method = "POST",
                uri = "/v1/chat/completions",
                x_request_id = "8372eac7-5f43-4d76-beca-0a94cfb311d0"
            ),
        };
        let _o = outer.enter();
        let inner = info_span!("generate", model = "Qwen/Qwen3-0.6B", tokens = 7_u64);
        let _i = inner.enter();
        timed()
    })
}

pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(crate) type Case<'a> = (&'a Dispatch, &'a dyn Fn(u32));

/// Rounds of tracewire and of the baseline alternate, so that the machine's drift (shared,
/// noisy) hits both alike; gives the median ns of each and the median of the per-round ratios.
pub(crate) fn compare(
    ours: Case<'_>,
    theirs: Case<'_>,
    iters: u32,
    in_spans: Spans,
) -> (f64, f64, f64) {
    round(ours.0, iters / 10, ours.1, in_spans);
    round(theirs.0, iters / 10, theirs.1, in_spans);
    let (mut a, mut b, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds() {
        let x = round(ours.0, iters, ours.1, in_spans);
        let y = round(theirs.0, iters, theirs.1, in_spans);
        a.push(x);
        b.push(y);
        r.push(x / y);
    }
    (median(a), median(b), median(r))
}

/// Median ns per iteration of `f` alone (for a profiler or a breakdown).
pub(crate) fn measure(dispatch: &Dispatch, iters: u32, f: &dyn Fn(u32)) -> f64 {
    round(dispatch, iters / 10, f, Spans::Off);
    median(
        (0..rounds())
            .map(|_| round(dispatch, iters, f, Spans::Off))
            .collect(),
    )
}
