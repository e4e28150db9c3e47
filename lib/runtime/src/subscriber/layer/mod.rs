//! [`TracewireLayer`]: filtering, trace identity, span timing and line output in one
//! `tracing_subscriber::Layer`, on top of the formats, the outputs and the exporter seam.
//!
//! Filtering policy. `DYN_LOG` decides which lines are written, not which spans exist: spans at
//! INFO or above always exist (they carry a request's trace identity even with `DYN_LOG=warn` or
//! `off`); DEBUG and TRACE spans exist when the filter enables them, so chatty dependency spans
//! cost nothing. Events follow the filter through tracing's callsite interest, so a disabled
//! event costs what tracing's callsite cache costs. `SPAN_CREATED` / `SPAN_CLOSED` lines are
//! written only for spans the filter enables.
//!
//! Request-scoped logging ([`scope`](super::scope)) adds to the filter: a request's own level,
//! lines held for a request until it fails, the rate limit per callsite.
//!
//! Inside: `build.rs` (the layer and its builder), `callbacks.rs` (the `Layer` callbacks, which
//! delegate), `filtering.rs` (what the filter shows), `scoping.rs` (request-scoped logging of
//! an event), `export.rs` (the optional exporters).

mod build;
mod callbacks;
mod export;
mod filtering;
mod scoping;
#[cfg(test)]
mod tests;

pub use build::TracewireLayer;
