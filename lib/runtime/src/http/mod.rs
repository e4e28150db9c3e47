//! HTTP server support: [`TraceLayer`] opens the `http-request` span for every request of an
//! axum `Router` (or any tower service over `http` types).
//!
//! ```
//! use axum::{routing::get, Router};
//! use tracewire_runtime::http::TraceLayer;
//!
//! let app: Router = Router::new().route("/health", get(|| async { "ok" })).layer(TraceLayer::new());
//! ```

mod channel_body;
mod trace_layer;

pub use channel_body::ChannelBody;
pub use trace_layer::{ResponseFuture, StreamOutcome, TraceLayer, TraceService, TracedBody};
