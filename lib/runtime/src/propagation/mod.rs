//! Propagation of trace identity across processes: W3C Trace Context (`traceparent`,
//! `tracestate`), written once against [`Extractor`] / [`Injector`] carriers with an impl for
//! `http::HeaderMap`.
//!
//! The HTTP layer and `inject_current` that use it arrive with the frontend and worker.

mod carrier;
mod request_id;
mod trace_context;

pub use carrier::{Extractor, Injector};
pub use request_id::{validate_request_id, InvalidRequestId, MAX_REQUEST_ID_LEN, X_REQUEST_ID};
pub use trace_context::{
    extract, format_traceparent, join_tracestate, parse_traceparent, validate_tracestate,
    InvalidTraceParent, TRACEPARENT, TRACESTATE,
};
