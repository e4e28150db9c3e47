//! The JSONL format (SPEC §3 of docs/SPEC.md): one object per line, fixed keys first in a fixed order, then the
//! event's fields, then the current span's fields, every value in its native JSON type.
//!
//! ```text
//! {"time":"2025-09-02T16:38:06.656503Z","level":"INFO","file":"src/main.rs","line":12,"target":"app","message":"SPAN_CREATED","span_name":"http-request","trace_id":"425ef761ca5b44c795b4c912f1d84b39","span_id":"6959a1b2d1ee41a5","method":"POST"}
//! ```
//!
//! Written by hand into a reused buffer rather than through serde: no map per event, no `String`
//! per value, and escaping done over runs of bytes.
//!
//! No key appears twice. A user field named like a fixed key (`level`, `time`, ...) or starting
//! with `fields.` is written as `fields.<name>`, which keeps the renaming one-to-one; a second
//! field of the same name is dropped, and an event field hides the span field of the same name.

//!
//! A span's fields and identity are rendered to JSON once, when recorded ([`SpanJson`]), and
//! copied into each of its lines; what every line of a callsite repeats is rendered once per
//! thread (`callsite.rs`).

mod callsite;
mod event;
mod span;
mod value;

pub(crate) use event::write_event;
pub(crate) use span::{write_span_event, SpanJson};
