//! Propagation of trace identity across processes: W3C Trace Context (`traceparent`,
//! `tracestate`), written once against [`Extractor`] / [`Injector`] carriers with an impl for
//! `http::HeaderMap`.
//!
//! At a service's edges: [`extract_remote`] reads an incoming request's context (use it with
//! [`RemoteContext::in_scope`](crate::logging::RemoteContext::in_scope)), and [`inject_current`]
//! writes the current span's into an outgoing request.

mod carrier;
mod http_headers;
mod request_id;
mod trace_context;

pub use carrier::{Extractor, Injector};
pub use http_headers::{extract_remote, inject_current, inject_into, Extracted};
pub use request_id::{validate_request_id, InvalidRequestId, MAX_REQUEST_ID_LEN, X_REQUEST_ID};
pub use trace_context::{
    extract, format_traceparent, join_tracestate, parse_traceparent, validate_tracestate,
    InvalidTraceParent, TRACEPARENT, TRACESTATE,
};
