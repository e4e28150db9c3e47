//! The two line formats, side by side behind one seam: [`Formatter`] is the only place that
//! tells them apart, and each format owns what it keeps per span ([`SpanLines`]) and how it
//! reads a span's ancestors.
//!
//! - [`jsonl`]: one JSON object per line (SPEC §3), a span's fields and identity rendered to
//!   JSON once, when recorded, and copied into each of its lines.
//! - [`readable`]: tracing-subscriber's full format (SPEC §2), a span's `name{fields}` rendered
//!   once and chained from the root at each line.
//!
//! The layer calls the seam with what it knows (the event, the span, the identity); it does
//! not name a format.

mod jsonl;
mod readable;
mod seam;
mod style;

pub use seam::Format;
pub(crate) use seam::{Formatter, SpanLines, SpanView};
pub(crate) use style::{SpanEvent, Style, Timings};
