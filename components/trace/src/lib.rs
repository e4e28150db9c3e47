//! `tracewire-trace`: the JSONL of any number of tracewire processes read back into traces a
//! person can look at, with no tracing backend (SPEC §12).
//!
//! The model is lines → spans → traces:
//!
//! - [`input`] opens files (`-`, gzip, rotated files of one process) and streams their lines in
//!   fixed memory; [`read`] reads every input once and accounts for what it skipped;
//! - [`record`] parses one line's fixed keys (SPEC §3-4), by the runtime's key constants;
//! - [`summary`] makes `list`'s one summary per trace in one pass, holding no lines;
//! - [`model`] joins the lines of the asked-for traces into spans and a tree across processes,
//!   marking what is unusual (never closed, parent not in the input, clock skew);
//! - [`render`] writes the terminal waterfall, the HTML page, Chrome trace JSON and OTLP/JSON;
//! - [`commands`] is what the binary runs: `list` and `show`, their output and exit status.
//!
//! ```text
//! $ tracewire-trace list frontend.jsonl worker.jsonl
//! $ tracewire-trace show abc-1 frontend.jsonl worker.jsonl --html trace.html
//! ```

pub mod commands;
pub mod input;
pub mod model;
pub mod read;
pub mod record;
pub mod render;
pub mod summary;
pub mod time;

pub use commands::{list, show, ListOptions, ShowOptions};
pub use input::Inputs;
pub use model::{Line, Marks, Span, Trace};
pub use record::{Level, Record, Skip};
pub use summary::TraceSummary;
