//! tracewire's runtime crate: logging, span events and trace identity for an HTTP frontend and
//! its workers.
//!
//! Start with [`logging`]: `logging::init()` configures everything from `DYN_LOG`,
//! `DYN_LOGGING_JSONL` and the TOML file named by `DYN_LOGGING_CONFIG_PATH`; then
//! [`http::TraceLayer`] on your router and [`propagation::inject_current`] on your outgoing
//! calls carry each request's trace across processes.
//!
//! # Layers
//!
//! The crate is built bottom up; a module imports only from the layers below it:
//!
//! ```text
//!  3  propagation ──► http (TraceLayer)   plane (request plane)   serve   wire
//!        │  carriers, W3C traceparent / tracestate / baggage, x-request-id
//!        ▼
//!  2  logging ───────────────────────────► otlp
//!        line pieces → format (jsonl | readable)     config and exporters
//!        output (queue, sinks) · directives · config  (implements the
//!        layer · install                               trace exporter seam)
//!        ▼                                             ▼
//!  1  trace: ids, SpanContext, RemoteContext,     settings: ConfigError, every
//!     field values, the exporter seam              variable name, value parsers
//! ```
//!
//! - [`trace`] and [`settings`] import nothing from the crate. Every span's identity
//!   ([`trace::SpanContext`]) is decided in `trace` and only read elsewhere.
//! - [`logging`] and [`otlp`] are siblings that meet through `trace`: the layer hands spans and
//!   events to a [`trace::SpanExporter`] / [`trace::LogExporter`] without knowing OTLP; only
//!   logging's configuration and install code name `otlp`, to read `[otlp]` and start it.
//! - [`propagation`] reads and writes identities at a process's edges, through carrier traits
//!   (one impl per transport); [`http`], [`plane`] and [`serve`] build on it.
//!
//! Where a new thing goes: a new header or transport in `propagation`; a new output format
//! beside the two in `logging/format`; a new exporter beside `otlp`, implementing the `trace`
//! seam; a new server (a system server, a request plane) in layer 3.

pub mod http;
pub mod logging;
pub mod metrics;
pub mod otlp;
pub mod plane;
pub mod propagation;
pub mod serve;
pub mod settings;
pub mod subscriber;
pub mod trace;
pub mod wire;

/// What the crate's macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use tracing;
}
