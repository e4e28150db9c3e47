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
#[derive(Debug)]
pub(crate) struct Captured {
    bytes: Vec<u8>,
    /// Where the oldest held line starts in `bytes`.
    start: usize,
    /// Each held line's length and level, oldest first.
    lens: VecDeque<(u32, Level)>,
    /// Lines dropped so far.
    dropped: u64,
    config: CaptureConfig,
    held: Arc<AtomicUsize>,
}

impl Captured {
    /// Holds `line`, dropping the oldest lines to make room; returns how many lines it dropped
    /// (`line` itself is dropped when it alone exceeds a limit).
    pub(crate) fn push(&mut self, line: &[u8], level: Level) -> u64 {
        let before = self.dropped;
        let len = line.len();
        let fits = self.config.max_lines > 0
            && len <= self.config.max_bytes
            && len <= self.config.total_bytes;
        if !fits {
            self.dropped += 1;
            return 1;
        }
        while self.lens.len() >= self.config.max_lines
            || self.bytes.len() - self.start + len > self.config.max_bytes
        {
            self.drop_oldest();
        }
        // The process's total: reserve, then give back this request's oldest until it fits
        // (other requests may reserve at the same moment: the total is exceeded by at most one
        // line per thread, never without bound).
        let total = self.held.fetch_add(len, Ordering::Relaxed) + len;
        let mut over = total.saturating_sub(self.config.total_bytes);
        while over > 0 {
            let Some(freed) = self.drop_oldest() else {
                self.held.fetch_sub(len, Ordering::Relaxed);
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
        self.lens.push_back((len as u32, level));
        self.dropped - before
    }

    /// Drops the oldest line; returns its length, or `None` if nothing is held.
    fn drop_oldest(&mut self) -> Option<usize> {
        let len = self.lens.pop_front()?.0 as usize;
        self.start += len;
        self.held.fetch_sub(len, Ordering::Relaxed);
        self.dropped += 1;
        Some(len)
    }

    /// Lines dropped so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The held lines, oldest first; they are released (and the drop count kept).
    pub(crate) fn take(&mut self) -> Vec<(Vec<u8>, Level)> {
        let mut at = self.start;
        let lines = self
            .lens
            .drain(..)
            .map(|(len, level)| {
                let line = self.bytes[at..at + len as usize].to_vec();
                at += len as usize;
                (line, level)
            })
            .collect();
        self.held
            .fetch_sub(self.bytes.len() - self.start, Ordering::Relaxed);
        self.bytes = Vec::new();
        self.start = 0;
        lines
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        self.held
            .fetch_sub(self.bytes.len() - self.start, Ordering::Relaxed);
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

    fn numbers(lines: Vec<(Vec<u8>, Level)>) -> Vec<usize> {
        lines
            .iter()
            .map(|(l, _)| std::str::from_utf8(&l[5..9]).unwrap().parse().unwrap())
            .collect()
    }

    const D: Level = Level::DEBUG;

    #[test]
    fn beyond_max_lines_the_oldest_go_and_are_counted() {
        let limits = limits(256, 1 << 20, 1 << 30);
        let mut held = limits.buffer();
        let dropped: u64 = (0..300).map(|i| held.push(&line(i), D)).sum();
        assert_eq!((dropped, held.dropped()), (44, 44));
        assert_eq!(numbers(held.take()), (44..300).collect::<Vec<_>>());
        assert_eq!(limits.held(), 0, "taking releases the bytes");
    }

    #[test]
    fn beyond_max_bytes_the_oldest_go() {
        let limits = limits(1000, 55, 1 << 30);
        let mut held = limits.buffer();
        for i in 0..20 {
            held.push(&line(i), D);
            assert!(limits.held() <= 55);
        }
        assert_eq!(numbers(held.take()), (15..20).collect::<Vec<_>>());
        assert_eq!(held.dropped(), 15);
    }

    #[test]
    fn a_line_bigger_than_a_request_may_hold_is_dropped_alone() {
        let limits = limits(10, 20, 1 << 30);
        let mut held = limits.buffer();
        held.push(&line(1), D);
        assert_eq!(held.push(&[b'x'; 21], D), 1);
        assert_eq!(numbers(held.take()), [1], "what was held stays");
    }

    #[test]
    fn the_process_total_is_shared_by_every_request() {
        let limits = limits(1000, 1000, 44); // 4 lines in all
        let mut a = limits.buffer();
        let mut b = limits.buffer();
        for i in 0..3 {
            a.push(&line(i), D);
        }
        for i in 10..13 {
            b.push(&line(i), D);
        }
        assert!(limits.held() <= 44, "{}", limits.held());
        assert_eq!(
            numbers(b.take()),
            [12],
            "the request over the total gives up its own oldest (a holds 3 of the 4)"
        );
        assert_eq!(b.dropped(), 2);
        // b holds nothing now; a full total and an empty request: the new line is dropped.
        a.push(&line(3), D);
        assert_eq!(limits.held(), 44);
        let mut c = limits.buffer();
        assert_eq!(c.push(&line(20), D), 1);
        assert!(c.take().is_empty());
        drop(a);
        assert_eq!(limits.held(), 0, "a request that ends gives its bytes back");
    }

    #[test]
    fn compaction_keeps_order_and_bounds_the_buffer() {
        let limits = limits(4, 1 << 20, 1 << 30);
        let mut held = limits.buffer();
        for i in 0..10_000 {
            held.push(&line(i), D);
            assert!(held.bytes.len() <= 2 * 4 * 11, "{}", held.bytes.len());
        }
        assert_eq!(numbers(held.take()), [9996, 9997, 9998, 9999]);
    }
}
