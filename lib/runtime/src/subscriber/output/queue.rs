//! The writer behind every configured output: lines go into a bounded in-memory queue, and a
//! background thread writes the queue out in large writes, off the request path.
//!
//! - Lossless by default ([`Overflow::Block`]): when the queue is full a producer waits for room,
//!   as long as the sink makes progress. A sink that makes no progress for
//!   [`QueueConfig::stall`] (a pipe nobody reads, a hung disk) switches producers to dropping and
//!   counting until it writes again, so a request is never held longer than that.
//! - [`Overflow::Drop`] always drops, and counts, when the queue is full.
//! - A line costs a lock and a copy: no allocation, no channel send, no thread wake-up. The
//!   writer drains the queue every 20 ms while lines arrive (100 ms when idle), and producers
//!   wake it early only past 64 KiB queued or when the queue is full. Memory is bounded by twice
//!   [`QueueConfig::capacity`].
//! - Dropped lines and failed writes are reported at WARN at most once per second, and
//!   everything queued is written by [`LineSink::flush`] (the logging guard calls it).
//! - Dropping the [`QueuedSink`] writes out what is queued and ends its thread.

use std::{
    io::{self, Write},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use super::sink::LineSink;
use crate::metrics::Metrics;

/// What a producer does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wait for room while the sink makes progress; drop only when it is stalled.
    #[default]
    Block,
    /// Drop the line and count it.
    Drop,
}

impl std::str::FromStr for Overflow {
    type Err = crate::settings::Rejected;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words = [("block", Overflow::Block), ("drop", Overflow::Drop)];
        crate::settings::keyword(s, &words, "expected block or drop")
    }
}

crate::setting_value!(Overflow, STRING, "a string");

/// Queue settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// Bytes the queue holds before producers wait or drop.
    pub capacity: usize,
    /// What a producer does when it is full.
    pub overflow: Overflow,
    /// How long the sink may make no progress before producers stop waiting for it.
    pub stall: Duration,
}

impl Default for QueueConfig {
    /// 4 MiB, lossless, a 2 s stall bound.
    fn default() -> Self {
        QueueConfig {
            capacity: 4 << 20,
            overflow: Overflow::Block,
            stall: Duration::from_secs(2),
        }
    }
}

/// The writer drains the queue this often while lines arrive, and producers wake it early only
/// when this much is queued: a wake-up per line would cost more than the line, and each drain
/// costs the writer thread a timed wait and a write (BENCHMARKS.md has the end-to-end cost);
/// lines reach the output at most this late.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
const WAKE_AT: usize = 64 * 1024;
/// How long an idle writer sleeps before looking again (the first line after a quiet period
/// waits at most this long).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How long `flush` waits for the writer at most.
const FLUSH_WAIT: Duration = Duration::from_secs(5);
/// Losses are reported at most this often.
const REPORT_EVERY: Duration = Duration::from_secs(1);

struct State {
    pending: Vec<u8>,
    /// The writer holds a batch it has not finished writing.
    writing: bool,
    /// The sink was dropped: the writer writes what is pending and ends.
    closed: bool,
}

struct Shared {
    /// Where dropped lines are counted.
    metrics: &'static Metrics,
    /// The output's name in reports (`stream`, `file`).
    name: String,
    /// Why the last write failed, for the report.
    last_error: Mutex<Option<String>>,
    state: Mutex<State>,
    has_lines: Condvar,
    has_room: Condvar,
    config: QueueConfig,
    dropped: AtomicU64,
    /// Milliseconds since `epoch` of the sink's last progress (a byte written, or idle).
    progress_ms: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mark_progress(&self) {
        self.progress_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn stalled(&self) -> bool {
        let last = Duration::from_millis(self.progress_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last) > self.config.stall
    }
}

thread_local! {
    /// Set on writer threads: a line they log themselves must never wait on their own queue.
    static IS_WRITER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A [`LineSink`] that queues lines for a background writer thread.
pub struct QueuedSink {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

impl QueuedSink {
    /// Starts the writer thread over `sink`, named `name` (for thread listings), counting the
    /// lines it drops in the process's registry.
    pub fn new(
        name: &str,
        config: QueueConfig,
        sink: impl Write + Send + 'static,
    ) -> io::Result<Self> {
        Self::counting(name, config, sink, crate::metrics::metrics())
    }

    /// As [`new`](Self::new), counting the lines it drops in `metrics`.
    pub fn counting(
        name: &str,
        config: QueueConfig,
        sink: impl Write + Send + 'static,
        metrics: &'static Metrics,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            metrics,
            name: name.to_owned(),
            last_error: Mutex::new(None),
            state: Mutex::new(State {
                pending: Vec::with_capacity(config.capacity.min(1 << 20)),
                writing: false,
                closed: false,
            }),
            has_lines: Condvar::new(),
            has_room: Condvar::new(),
            config,
            dropped: AtomicU64::new(0),
            progress_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let writer = shared.clone();
        let writer = thread::Builder::new()
            .name(format!("tracewire-{name}"))
            .spawn(move || write_loop(&writer, sink))?;
        Ok(QueuedSink {
            shared,
            writer: Some(writer),
        })
    }
}

impl Drop for QueuedSink {
    /// Writes out what is queued (waiting as [`LineSink::flush`] does) and ends the writer
    /// thread. A writer stuck in a sink that never returns is left behind rather than waited
    /// for.
    fn drop(&mut self) {
        self.flush();
        let stuck = {
            let mut state = self.shared.lock();
            state.closed = true;
            state.writing
        };
        self.shared.has_lines.notify_one();
        if let (false, Some(writer)) = (stuck, self.writer.take()) {
            let _ = writer.join();
        }
    }
}

impl LineSink for QueuedSink {
    fn write_line(&self, line: &[u8]) {
        let shared = &*self.shared;
        let mut state = shared.lock();
        loop {
            let room = state.pending.len() + line.len() <= shared.config.capacity;
            if room || (state.pending.is_empty() && !state.writing) {
                let before = state.pending.len();
                state.pending.extend_from_slice(line);
                let wake = before < WAKE_AT && state.pending.len() >= WAKE_AT;
                drop(state);
                if wake {
                    shared.has_lines.notify_one();
                }
                return;
            }
            // Full: make sure the writer is draining before waiting or dropping.
            shared.has_lines.notify_one();
            let may_wait =
                shared.config.overflow == Overflow::Block && !IS_WRITER.get() && !shared.stalled();
            if !may_wait {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                shared.metrics.lines_dropped(1);
                return;
            }
            state = shared
                .has_room
                .wait_timeout(state, shared.config.stall)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until everything queued is written, at most 5 s (a sink that never drains, such as
    /// a pipe nobody reads, holds shutdown no longer than that).
    fn flush(&self) {
        let shared = &*self.shared;
        let deadline = Instant::now() + FLUSH_WAIT;
        let mut state = shared.lock();
        shared.has_lines.notify_one();
        while (!state.pending.is_empty() || state.writing) && Instant::now() < deadline {
            state = shared
                .has_room
                .wait_timeout(state, Duration::from_millis(20))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread: takes the whole queue, writes it, reports losses; ends once the sink is
/// dropped and nothing is pending.
fn write_loop(shared: &Shared, mut sink: impl Write) {
    IS_WRITER.set(true);
    let mut batch: Vec<u8> = Vec::with_capacity(shared.config.capacity.min(1 << 20));
    let (mut reported, mut last_report) = (0u64, Instant::now());
    loop {
        {
            let mut state = shared.lock();
            state.writing = false;
            shared.mark_progress();
            shared.has_room.notify_all();
            let mut wait = DRAIN_EVERY;
            while state.pending.is_empty() {
                if state.closed {
                    drop(state);
                    let _ = sink.flush();
                    // The last losses, without waiting for the next report.
                    report(shared, &mut reported, &mut last_report, true);
                    return;
                }
                state = shared
                    .has_lines
                    .wait_timeout(state, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                shared.mark_progress();
                if state.pending.is_empty() {
                    drop(state);
                    report(shared, &mut reported, &mut last_report, false);
                    state = shared.lock();
                    wait = (wait * 2).min(IDLE_WAIT);
                }
            }
            std::mem::swap(&mut state.pending, &mut batch);
            state.writing = true;
        }
        write_batch(shared, &mut sink, &batch);
        batch.clear();
        report(shared, &mut reported, &mut last_report, false);
    }
}

/// Writes a batch; a failing sink's lines are counted as dropped.
fn write_batch(shared: &Shared, sink: &mut impl Write, batch: &[u8]) {
    let mut rest = batch;
    while !rest.is_empty() {
        match sink.write(rest) {
            Ok(0) => break,
            Ok(n) => {
                rest = &rest[n..];
                shared.mark_progress();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                *shared
                    .last_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                break;
            }
        }
    }
    if !rest.is_empty() {
        let lost = rest.iter().filter(|&&b| b == b'\n').count() as u64;
        shared.dropped.fetch_add(lost, Ordering::Relaxed);
        shared.metrics.lines_dropped(lost);
    }
    let _ = sink.flush();
}

/// Logs newly dropped lines at WARN, at most once per second (or now, if `now`). The line goes
/// through the subscriber like any other; on this thread it never waits for room.
fn report(shared: &Shared, reported: &mut u64, last: &mut Instant, now: bool) {
    let dropped = shared.dropped.load(Ordering::Relaxed);
    if dropped > *reported && (now || last.elapsed() >= REPORT_EVERY) {
        let error = shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        tracing::warn!(
            output = shared.name,
            dropped = dropped - *reported,
            total = dropped,
            error,
            "log lines dropped: the log output could not keep up or failed"
        );
        *reported = dropped;
        *last = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A sink into shared memory, optionally gated (writes block until the gate opens).
    #[derive(Clone, Default)]
    struct Memory {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Option<Arc<(Mutex<bool>, Condvar)>>,
        fail: bool,
    }

    impl Write for Memory {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(gate) = &self.gate {
                let mut open = gate.0.lock().unwrap();
                while !*open {
                    open = gate.1.wait(open).unwrap();
                }
            }
            if self.fail {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn config(capacity: usize, overflow: Overflow) -> QueueConfig {
        QueueConfig {
            capacity,
            overflow,
            stall: Duration::from_millis(200),
        }
    }

    #[test]
    fn lossless_under_contention_and_never_interleaved() {
        let memory = Memory::default();
        let sink = Arc::new(
            QueuedSink::new("test", config(4096, Overflow::Block), memory.clone()).unwrap(),
        );
        thread::scope(|s| {
            for t in 0..4 {
                let sink = sink.clone();
                s.spawn(move || {
                    for i in 0..5000 {
                        sink.write_line(
                            format!(
                                "{{\"t\":{t},\"i\":{i},\"pad\":\"{}\"}}\n",
                                "x".repeat(i % 200)
                            )
                            .as_bytes(),
                        );
                    }
                });
            }
        });
        sink.flush();
        let text = String::from_utf8(memory.bytes.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000, "lossless");
        let mut seen = std::collections::HashSet::new();
        for line in lines {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(seen.insert((v["t"].as_u64().unwrap(), v["i"].as_u64().unwrap())));
        }
        assert_eq!(sink.dropped(), 0);
    }

    #[test]
    fn a_stalled_sink_makes_producers_drop_instead_of_waiting_and_recovery_follows() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let memory = Memory {
            gate: Some(gate.clone()),
            ..Memory::default()
        };
        let sink =
            Arc::new(QueuedSink::new("test", config(64, Overflow::Block), memory.clone()).unwrap());
        // The writer takes the first line and blocks in the sink; the queue fills behind it.
        let (done_tx, done_rx) = mpsc::channel();
        let producer = {
            let sink = sink.clone();
            thread::spawn(move || {
                for i in 0..50 {
                    sink.write_line(format!("line {i:>20}\n").as_bytes());
                }
                done_tx.send(()).unwrap();
            })
        };
        // The producer finishes although the sink never moves: it stopped waiting and dropped.
        done_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("producers are not held by a stalled sink");
        producer.join().unwrap();
        assert!(sink.dropped() > 0);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        // Once the sink has drained what was queued, lines get through again.
        sink.flush();
        let dropped = sink.dropped();
        sink.write_line(b"after recovery\n");
        sink.flush();
        assert_eq!(sink.dropped(), dropped, "nothing dropped after recovery");
        let text = String::from_utf8(memory.bytes.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("after recovery\n"), "{text}");
        assert_eq!(
            text.lines().count() as u64 + dropped,
            51,
            "every line written or counted"
        );
    }

    #[test]
    fn drop_mode_drops_when_full_and_counts() {
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let memory = Memory {
            gate: Some(gate.clone()),
            ..Memory::default()
        };
        let sink = QueuedSink::new("test", config(64, Overflow::Drop), memory.clone()).unwrap();
        for i in 0..100 {
            sink.write_line(format!("line {i:>20}\n").as_bytes());
        }
        let dropped = sink.dropped();
        assert!(dropped >= 90, "{dropped}");
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        sink.flush();
        let written = String::from_utf8(memory.bytes.lock().unwrap().clone())
            .unwrap()
            .lines()
            .count() as u64;
        assert_eq!(written + dropped, 100);
    }

    #[test]
    fn dropping_the_sink_writes_what_is_queued_and_ends_its_thread() {
        let memory = Memory::default();
        let sink =
            QueuedSink::new("test", config(1 << 16, Overflow::Block), memory.clone()).unwrap();
        for i in 0..100 {
            sink.write_line(format!("line {i}\n").as_bytes());
        }
        let writer = sink.writer.as_ref().unwrap().thread().id();
        // The thread's own copy of `shared` goes with it: once the sink is dropped, the only
        // other reference is the one kept here.
        let shared = Arc::downgrade(&sink.shared);
        drop(sink);
        assert_eq!(
            String::from_utf8(memory.bytes.lock().unwrap().clone())
                .unwrap()
                .lines()
                .count(),
            100,
            "nothing queued is lost"
        );
        assert!(
            shared.upgrade().is_none(),
            "the writer thread {writer:?} has ended"
        );
    }

    #[test]
    fn a_failing_sink_counts_its_lines_as_dropped() {
        let memory = Memory {
            fail: true,
            ..Memory::default()
        };
        let sink = QueuedSink::new("test", config(1 << 16, Overflow::Block), memory).unwrap();
        for _ in 0..10 {
            sink.write_line(b"{\"a\":1}\n");
        }
        sink.flush();
        assert_eq!(sink.dropped(), 10);
    }
}
