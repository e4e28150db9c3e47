//! Where finished lines go: each [`LineSink`] receives whole lines; the stream and the `[file]`
//! each sit behind a [`QueuedSink`], a bounded queue written out by its own thread.
//! Configured by [`QueueConfig`] (`DYN_LOG_OVERFLOW`, `DYN_LOG_BUFFER_BYTES`) and
//! [`FileOutput`] (`[file]`): `docs/configuration.md` has their values and defaults.

mod file;
mod outputs;
mod queue;
mod sink;

pub use file::{FileOutput, RotatingFile};
pub(crate) use outputs::{with_buffer, Outputs};
pub use queue::{Overflow, QueueConfig, QueuedSink};
pub use sink::{LineSink, MemorySink, StdStream};
