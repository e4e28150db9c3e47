//! The two calls a service makes at its edges: read the caller's context from incoming headers,
//! and write the current span's context into outgoing ones.

use tracing::{debug, warn};

use crate::logging::{current_context, RemoteContext};

use super::{
    carrier::Injector,
    request_id::{validate_request_id, InvalidRequestId, X_REQUEST_ID},
    trace_context::{self, format_traceparent, InvalidTraceParent, TRACEPARENT, TRACESTATE},
};

/// Reads `traceparent`, `tracestate` and `x-request-id` from an incoming request.
///
/// An invalid or repeated `traceparent` is logged at DEBUG and ignored (a new trace starts); an
/// invalid `x-request-id` is logged at WARN, escaped, and ignored.
///
/// ```
/// use tracewire_runtime::propagation::extract_remote;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.insert("x-request-id", "req-1".parse().unwrap());
/// let remote = extract_remote(&headers);
/// assert_eq!(remote.parent.unwrap().parent_id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(remote.x_request_id.as_deref(), Some("req-1"));
/// ```
pub fn extract_remote(headers: &http::HeaderMap) -> RemoteContext {
    let extracted = Extracted::from_headers(headers);
    extracted.log_problems();
    extracted.remote
}

/// An incoming request's context and what was wrong with its headers, so that a caller can log
/// the problems inside the span it opens for the request.
#[derive(Debug)]
pub struct Extracted {
    /// What was valid.
    pub remote: RemoteContext,
    /// Why the `traceparent` was ignored, if it was.
    pub bad_traceparent: Option<InvalidTraceParent>,
    /// Why the `x-request-id` was ignored, if it was.
    pub bad_request_id: Option<InvalidRequestId>,
}

impl Extracted {
    /// Reads `traceparent`, `tracestate` and `x-request-id`.
    pub fn from_headers(headers: &http::HeaderMap) -> Self {
        let (parent, bad_traceparent) = match trace_context::extract(headers) {
            Ok(parent) => (parent, None),
            Err(reason) => (None, Some(reason)),
        };
        let mut ids = headers.get_all(X_REQUEST_ID).iter();
        let (x_request_id, bad_request_id) = match (ids.next(), ids.next()) {
            (None, _) => (None, None),
            (Some(_), Some(_)) => (
                None,
                Some(InvalidRequestId {
                    escaped: "(several headers)".to_owned(),
                    reason: "more than one x-request-id header",
                }),
            ),
            (Some(raw), None) => match validate_request_id(raw.as_bytes()) {
                Ok(id) => (Some(id.to_owned()), None),
                Err(invalid) => (None, Some(invalid)),
            },
        };
        Extracted {
            remote: RemoteContext {
                parent,
                x_request_id,
            },
            bad_traceparent,
            bad_request_id,
        }
    }

    /// Logs a bad `traceparent` at DEBUG and a bad `x-request-id` at WARN (escaped).
    pub fn log_problems(&self) {
        if let Some(reason) = &self.bad_traceparent {
            debug!(%reason, "ignoring invalid traceparent; starting a new trace");
        }
        if let Some(invalid) = &self.bad_request_id {
            warn!(reason = invalid.reason, value = %invalid.escaped, "ignoring invalid x-request-id");
        }
    }
}

/// Writes the current span's `traceparent`, `tracestate` and `x-request-id` into `headers` (an
/// outgoing request's). Writes nothing outside a span.
///
/// ```
/// # use tracing_subscriber::layer::SubscriberExt;
/// # let layer = tracewire_runtime::logging::TracewireLayer::new(&Default::default(), tracewire_runtime::logging::MemorySink::default());
/// # tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
/// let span = tracing::info_span!("http-request", x_request_id = "req-1");
/// let mut outgoing = http::HeaderMap::new();
/// span.in_scope(|| tracewire_runtime::propagation::inject_current(&mut outgoing));
/// assert!(outgoing["traceparent"].to_str().unwrap().starts_with("00-"));
/// assert_eq!(outgoing["x-request-id"], "req-1");
/// # });
/// ```
pub fn inject_current(headers: &mut http::HeaderMap) {
    inject_into(headers);
}

/// [`inject_current`] for any carrier.
pub fn inject_into(carrier: &mut impl Injector) {
    let Some(ctx) = current_context() else { return };
    carrier.set(
        TRACEPARENT,
        format_traceparent(ctx.trace_id, ctx.span_id, ctx.flags),
    );
    if let Some(state) = &ctx.trace_state {
        carrier.set(TRACESTATE, state.to_string());
    }
    if let Some(id) = &ctx.x_request_id {
        carrier.set(X_REQUEST_ID, id.to_string());
    }
}
