//! HTTP server support: [`TraceLayer`] opens the request's span for every request of an axum
//! `Router` (or any tower service over `http` types), continuing the caller's trace; a
//! [`MakeSpan`] of your own adds fields to it.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tracewire_runtime::http::TraceLayer;
//!
//! let app: Router = Router::new().route("/health", get(|| async { "ok" })).layer(TraceLayer::new());
//! ```

mod body;
mod channel_body;
mod make_span;
pub mod metrics;
mod trace_layer;

pub use body::{read_body, BodyError};
pub use channel_body::ChannelBody;
pub use make_span::{DefaultMakeSpan, MakeSpan, SPAN_TARGET};
pub use trace_layer::{
    ResponseFuture, StreamOutcome, TraceLayer, TraceService, TracedBody, WorkerInstance,
};
