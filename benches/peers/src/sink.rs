//! The one in-memory sink every peer writes to: a reused buffer per thread (cleared past 1 MiB,
//! never growing without bound) and a count of every byte. `capture` keeps what one operation
//! writes, for the report's sample lines and the keys they carry.

use std::{
    cell::RefCell,
    io,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Mutex, PoisonError,
    },
};

static WRITTEN: AtomicU64 = AtomicU64::new(0);
static CAPTURING: AtomicBool = AtomicBool::new(false);
static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1 << 20));
}

/// Takes `bytes` in, as any peer's output.
pub(crate) fn keep(bytes: &[u8]) {
    BUFFER.with(|b| {
        let mut b = b.borrow_mut();
        if b.len() > 1 << 20 {
            b.clear();
        }
        b.extend_from_slice(bytes);
    });
    WRITTEN.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    if CAPTURING.load(Ordering::Relaxed) {
        CAPTURED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
    }
}

/// Bytes written so far, by every peer on every thread.
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

/// The sink as an `io::Write`, for the peers that write to one.
#[derive(Clone, Copy, Default)]
pub(crate) struct Writer;

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        keep(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The sink for tracewire's layer.
pub(crate) struct Lines;

impl tracewire_runtime::logging::LineSink for Lines {
    fn write_line(&self, line: &[u8]) {
        keep(line);
    }
}
