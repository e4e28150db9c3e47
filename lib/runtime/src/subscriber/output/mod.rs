//! Where finished lines go: each [`LineSink`] receives whole lines; the stream and the `[file]`
//! each sit behind a [`QueuedSink`], a bounded queue written out by its own thread.
//!
//! | variable | TOML key | values | default |
//! |---|---|---|---|
//! | `DYN_LOG_OVERFLOW` | `overflow` | `block` (lossless) or `drop` | `block` |
//! | `DYN_LOG_BUFFER_BYTES` | `buffer_bytes` | output queue size, at least 64 KiB | 4 MiB |
//! | | `[file]` `path`, `max_bytes`, `max_files` | a log file with size rotation | none |

mod file;
mod outputs;
mod queue;
mod sink;

pub use file::{FileOutput, RotatingFile};
pub(crate) use outputs::{with_buffer, Outputs};
pub use queue::{Overflow, QueueConfig, QueuedSink};
pub use sink::{LineSink, MemorySink, StdStream};
