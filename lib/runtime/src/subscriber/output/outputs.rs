//! The sinks a layer writes to, and the per-thread buffer each line is rendered into once per
//! colour setting.

use std::{cell::RefCell, sync::Arc};

use super::sink::LineSink;

/// The sinks a layer writes to, each with or without ANSI colour.
#[derive(Default)]
pub(crate) struct Outputs(Vec<Output>);

struct Output {
    sink: Arc<dyn LineSink>,
    ansi: bool,
}

impl Outputs {
    pub(crate) fn push(&mut self, sink: Arc<dyn LineSink>, ansi: bool) {
        self.0.push(Output { sink, ansi });
    }

    /// The sinks, for flushing at shutdown.
    pub(crate) fn sinks(&self) -> Vec<Arc<dyn LineSink>> {
        self.0.iter().map(|o| o.sink.clone()).collect()
    }

    /// Renders a line once per colour setting in use (`render(buf, ansi)`) and hands it to
    /// each sink, from this thread's reused buffer.
    pub(crate) fn emit(&self, render: impl Fn(&mut Vec<u8>, bool)) {
        with_buffer(|buf| {
            if let [only] = &self.0[..] {
                // The usual case: one output.
                render(buf, only.ansi);
                only.sink.write_line(buf);
                return;
            }
            for ansi in [false, true] {
                let mut targets = self.0.iter().filter(|o| o.ansi == ansi).peekable();
                if targets.peek().is_none() {
                    continue;
                }
                buf.clear();
                render(buf, ansi);
                for output in targets {
                    output.sink.write_line(buf);
                }
            }
        });
    }
}

impl Outputs {
    /// Hands `line`, already rendered (without colour), to every sink.
    pub(crate) fn write(&self, line: &[u8]) {
        for output in &self.0 {
            output.sink.write_line(line);
        }
    }
}

thread_local! {
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's line buffer; a fresh one if a `Debug` impl logs while a line is
/// being written on the same thread.
pub(crate) fn with_buffer(f: impl FnOnce(&mut Vec<u8>)) {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::with_capacity(1024);
            }
        }
        Err(_) => f(&mut Vec::new()),
    });
}
