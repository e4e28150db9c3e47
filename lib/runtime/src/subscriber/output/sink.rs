//! Where finished lines go. A sink receives one whole line (with its `\n`) per call and writes
//! it with one `write_all` under its own lock, so lines are never split or interleaved.

use std::{
    io::{self, Write},
    sync::{Arc, Mutex, PoisonError},
};

/// A destination for whole lines.
pub trait LineSink: Send + Sync + 'static {
    /// Writes one line, `\n` included. Failures are counted, never raised into the caller.
    fn write_line(&self, line: &[u8]);

    /// Writes out anything buffered.
    fn flush(&self) {}

    /// How many lines could not be written.
    fn dropped(&self) -> u64 {
        0
    }
}

impl<T: LineSink + ?Sized> LineSink for Arc<T> {
    fn write_line(&self, line: &[u8]) {
        (**self).write_line(line)
    }
    fn flush(&self) {
        (**self).flush()
    }
    fn dropped(&self) -> u64 {
        (**self).dropped()
    }
}

/// Standard error or output as an `io::Write` for the output queue: each batch is written under
/// the stream's lock, so lines from `eprintln!` elsewhere cannot land inside it.
#[derive(Debug, Clone, Copy)]
pub struct StdStream {
    stdout: bool,
}

impl StdStream {
    /// Standard error.
    pub fn stderr() -> Self {
        StdStream { stdout: false }
    }

    /// Standard output.
    pub fn stdout() -> Self {
        StdStream { stdout: true }
    }
}

impl Write for StdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stdout {
            io::stdout().lock().write(buf)
        } else {
            io::stderr().lock().write(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.stdout {
            io::stdout().flush()
        } else {
            io::stderr().flush()
        }
    }
}

/// Lines kept in memory, for tests and for programs that show their own logs.
#[derive(Debug, Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<u8>>>);

impl MemorySink {
    /// Everything written so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The lines written so far, without their `\n`.
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_owned).collect()
    }
}

impl LineSink for MemorySink {
    fn write_line(&self, line: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(line);
    }
}
