//! The lines one request holds back until it ends ([`Captured`]), within the limits of SPEC §9:
//! at most `max_lines` and `max_bytes` per request, `total_bytes` over the whole process; beyond
//! any of them the request's oldest lines go first, and every line dropped is counted.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use tracing::Level;

use crate::trace::HeldRecord;

/// `[capture]` / `DYN_LOG_CAPTURE`: what is held per request, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Hidden lines at this level or above are held.
    pub level: Level,
    /// The most lines held per request.
    pub max_lines: usize,
    /// The most bytes held per request.
    pub max_bytes: usize,
    /// The most bytes held by all requests of the process together.
    pub total_bytes: usize,
}

impl CaptureConfig {
    /// `max_lines` unless configured.
    pub const DEFAULT_MAX_LINES: usize = 256;
    /// `max_bytes` unless configured.
    pub const DEFAULT_MAX_BYTES: usize = 64 << 10;
    /// `total_bytes` unless configured.
    pub const DEFAULT_TOTAL_BYTES: usize = 16 << 20;

    /// Capture at `level` with the default limits.
    pub fn at(level: Level) -> Self {
        CaptureConfig {
            level,
            max_lines: Self::DEFAULT_MAX_LINES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            total_bytes: Self::DEFAULT_TOTAL_BYTES,
        }
    }
}

/// The limits, with the bytes held by the whole process.
#[derive(Debug)]
pub(crate) struct CaptureLimits {
    pub(crate) config: CaptureConfig,
    /// Bytes held now by every request's [`Captured`].
    held: Arc<AtomicUsize>,
}

impl CaptureLimits {
    pub(crate) fn new(config: CaptureConfig) -> Self {
        CaptureLimits {
            config,
            held: Arc::default(),
        }
    }

    /// A new request's empty buffer, counted against these limits.
    pub(crate) fn buffer(&self) -> Captured {
        Captured {
            bytes: Vec::new(),
            start: 0,
            lens: VecDeque::new(),
            size: 0,
            dropped: 0,
            config: self.config,
            held: self.held.clone(),
        }
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// One request's held lines, oldest first, as whole rendered lines in one byte buffer: holding
/// a line is a copy into it, and dropping the oldest moves a start offset (the buffer is
/// compacted when half of it is dead), so a request that succeeds never allocated per line.
/// Beside a line may be its OTLP log record (when log export is on), counted in its size.
#[derive(Debug)]
pub(crate) struct Captured {
    bytes: Vec<u8>,
    /// Where the oldest held line starts in `bytes`.
    start: usize,
    /// Each held line, oldest first.
    lens: VecDeque<Entry>,
    /// The bytes held: the lines' and their records'.
    size: usize,
    /// Lines dropped so far.
    dropped: u64,
    config: CaptureConfig,
    held: Arc<AtomicUsize>,
}

/// One held line: its length in `bytes`, its level, its record.
#[derive(Debug)]
struct Entry {
    len: u32,
    level: Level,
    record: Option<HeldRecord>,
}

impl Entry {
    /// What it counts against the limits.
    fn size(&self) -> usize {
        self.len as usize + self.record.as_ref().map_or(0, HeldRecord::bytes)
    }
}

/// A line taken from a request's buffer to be written.
#[derive(Debug)]
pub(crate) struct HeldLine {
    pub(crate) line: Vec<u8>,
    pub(crate) level: Level,
    pub(crate) record: Option<HeldRecord>,
}

impl Captured {
    /// Holds `line` (with its `record`), dropping the oldest lines to make room; returns how
    /// many lines it dropped (`line` itself is dropped when it alone exceeds a limit).
    pub(crate) fn push(&mut self, line: &[u8], level: Level, record: Option<HeldRecord>) -> u64 {
        let before = self.dropped;
        let entry = Entry {
            len: line.len() as u32,
            level,
            record,
        };
        let size = entry.size();
        let fits = self.config.max_lines > 0
            && size <= self.config.max_bytes
            && size <= self.config.total_bytes
            && line.len() <= u32::MAX as usize;
        if !fits {
            self.dropped += 1;
            return 1;
        }
        while self.lens.len() >= self.config.max_lines || self.size + size > self.config.max_bytes {
            self.drop_oldest();
        }
        // The process's total: reserve, then give back this request's oldest until it fits
        // (other requests may reserve at the same moment: the total is exceeded by at most one
        // line per thread, never without bound).
        let total = self.held.fetch_add(size, Ordering::Relaxed) + size;
        let mut over = total.saturating_sub(self.config.total_bytes);
        while over > 0 {
            let Some(freed) = self.drop_oldest() else {
                self.held.fetch_sub(size, Ordering::Relaxed);
                self.dropped += 1;
                return self.dropped - before;
            };
            over = over.saturating_sub(freed);
        }
        if self.start > 0 && self.start >= self.bytes.len() / 2 {
            self.bytes.drain(..self.start);
            self.start = 0;
        }
        self.bytes.extend_from_slice(line);
        self.size += size;
        self.lens.push_back(entry);
        self.dropped - before
    }

    /// Drops the oldest line; returns its size, or `None` if nothing is held.
    fn drop_oldest(&mut self) -> Option<usize> {
        let entry = self.lens.pop_front()?;
        let size = entry.size();
        self.start += entry.len as usize;
        self.size -= size;
        self.held.fetch_sub(size, Ordering::Relaxed);
        self.dropped += 1;
        Some(size)
    }

    /// Lines dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The held lines, oldest first; they are released (and the drop count kept).
    pub(crate) fn take(&mut self) -> Vec<HeldLine> {
        let mut at = self.start;
        let lines = self
            .lens
            .drain(..)
            .map(|entry| {
                let line = self.bytes[at..at + entry.len as usize].to_vec();
                at += entry.len as usize;
                HeldLine {
                    line,
                    level: entry.level,
                    record: entry.record,
                }
            })
            .collect();
        self.held.fetch_sub(self.size, Ordering::Relaxed);
        self.size = 0;
        self.bytes = Vec::new();
        self.start = 0;
        lines
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        self.held.fetch_sub(self.size, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_lines: usize, max_bytes: usize, total_bytes: usize) -> CaptureLimits {
        CaptureLimits::new(CaptureConfig {
            level: Level::DEBUG,
            max_lines,
            max_bytes,
            total_bytes,
        })
    }

    fn line(i: usize) -> Vec<u8> {
        format!("{{\"n\":{i:04}}}\n").into_bytes() // 11 bytes
    }

    fn numbers(lines: Vec<HeldLine>) -> Vec<usize> {
        lines
            .iter()
            .map(|l| std::str::from_utf8(&l.line[5..9]).unwrap().parse().unwrap())
            .collect()
    }

    const D: Level = Level::DEBUG;

    #[test]
    fn beyond_max_lines_the_oldest_go_and_are_counted() {
        let limits = limits(256, 1 << 20, 1 << 30);
        let mut held = limits.buffer();
        let dropped: u64 = (0..300).map(|i| held.push(&line(i), D, None)).sum();
        assert_eq!((dropped, held.dropped()), (44, 44));
        assert_eq!(numbers(held.take()), (44..300).collect::<Vec<_>>());
        assert_eq!(limits.held(), 0, "taking releases the bytes");
    }

    #[test]
    fn beyond_max_bytes_the_oldest_go() {
        let limits = limits(1000, 55, 1 << 30);
        let mut held = limits.buffer();
        for i in 0..20 {
            held.push(&line(i), D, None);
            assert!(limits.held() <= 55);
        }
        assert_eq!(numbers(held.take()), (15..20).collect::<Vec<_>>());
        assert_eq!(held.dropped(), 15);
    }

    #[test]
    fn a_line_bigger_than_a_request_may_hold_is_dropped_alone() {
        let limits = limits(10, 20, 1 << 30);
        let mut held = limits.buffer();
        held.push(&line(1), D, None);
        assert_eq!(held.push(&[b'x'; 21], D, None), 1);
        assert_eq!(numbers(held.take()), [1], "what was held stays");
    }

    #[test]
    fn the_process_total_is_shared_by_every_request() {
        let limits = limits(1000, 1000, 44); // 4 lines in all
        let mut a = limits.buffer();
        let mut b = limits.buffer();
        for i in 0..3 {
            a.push(&line(i), D, None);
        }
        for i in 10..13 {
            b.push(&line(i), D, None);
        }
        assert!(limits.held() <= 44, "{}", limits.held());
        assert_eq!(
            numbers(b.take()),
            [12],
            "the request over the total gives up its own oldest (a holds 3 of the 4)"
        );
        assert_eq!(b.dropped(), 2);
        // b holds nothing now; a full total and an empty request: the new line is dropped.
        a.push(&line(3), D, None);
        assert_eq!(limits.held(), 44);
        let mut c = limits.buffer();
        assert_eq!(c.push(&line(20), D, None), 1);
        assert!(c.take().is_empty());
        drop(a);
        assert_eq!(limits.held(), 0, "a request that ends gives its bytes back");
    }

    #[test]
    fn compaction_keeps_order_and_bounds_the_buffer() {
        let limits = limits(4, 1 << 20, 1 << 30);
        let mut held = limits.buffer();
        for i in 0..10_000 {
            held.push(&line(i), D, None);
            assert!(held.bytes.len() <= 2 * 4 * 11, "{}", held.bytes.len());
        }
        assert_eq!(numbers(held.take()), [9996, 9997, 9998, 9999]);
    }

    #[test]
    fn a_record_beside_a_line_counts_against_the_limits_and_comes_back_with_it() {
        let limits = limits(1000, 60, 1 << 30);
        let mut held = limits.buffer();
        let record = |n: u32| Some(HeldRecord::new(n, 19)); // 11 + 19: a line and record are 30
        held.push(&line(0), D, record(0));
        held.push(&line(1), D, record(1));
        assert_eq!(limits.held(), 60);
        assert_eq!(
            held.push(&line(2), D, record(2)),
            1,
            "the oldest goes for room"
        );
        held.push(&line(3), D, None);
        assert_eq!(limits.held(), 30 + 30 + 11 - 30, "the line of 1 went too");
        let taken = held.take();
        assert_eq!(numbers(held.take()), Vec::<usize>::new());
        let records: Vec<Option<u32>> = taken
            .into_iter()
            .map(|l| l.record.and_then(HeldRecord::into_inner::<u32>))
            .collect();
        assert_eq!(records, [Some(2), None]);
        assert_eq!(limits.held(), 0);
        assert_eq!(held.dropped(), 2);
    }
}
