//! Propagation of trace identity across processes, written once against [`Extractor`] /
//! [`Injector`] carriers (an impl for `http::HeaderMap` and one for NATS headers; a transport of
//! its own adds one):
//! W3C Trace Context Level 2 (`traceparent`, `tracestate`), W3C Baggage (`baggage`) and the
//! request id (`x-request-id`).
//!
//! At a service's edges: [`continue_trace`] reads an incoming request's headers, opens its span
//! under the caller's trace and logs what was wrong with them; [`inject_current`] writes the
//! current span's context into an outgoing request.
//!
//! Written by hand rather than with the opentelemetry crate's propagators, which accept
//! malformed headers (upper-case hex, wrong lengths) and read only the first of several
//! headers; the W3C test suite's cases are the tests of `outgoing.rs`.

mod baggage;
mod carrier;
mod client_logs;
mod incoming;
mod outgoing;
mod request_id;
mod trace_context;

pub use baggage::{
    baggage_member, extract_baggage, validate_baggage, InvalidBaggage, BAGGAGE, MAX_BAGGAGE_BYTES,
    MAX_BAGGAGE_MEMBERS,
};
pub use carrier::{Extractor, Injector, Values};
pub use client_logs::{ask_client_logs, CLIENT_LOGS_HEADER, CLIENT_LOGS_TOKEN_HEADER};
pub use incoming::{continue_trace, Incoming};
pub use outgoing::{inject_context, inject_current, inject_into};
pub use request_id::{
    extract_request_id, new_request_id, validate_request_id, InvalidRequestId, MAX_REQUEST_ID_LEN,
    X_REQUEST_ID_HEADER,
};
pub use trace_context::{
    extract, format_traceparent, join_tracestate, parse_traceparent, validate_tracestate,
    InvalidTraceParent, TRACEPARENT, TRACERESPONSE, TRACESTATE,
};
