//! A request arriving from another process: its `traceparent`, `tracestate`, `x-request-id` and
//! `baggage` read through any [`Extractor`], the span that serves it opened under the caller's
//! trace, and what was wrong with the headers logged inside that span.

use std::sync::Arc;

use tracing::{debug, warn, Span};

use super::{
    baggage::{extract_baggage, InvalidBaggage},
    carrier::Extractor,
    request_id::{extract_request_id, InvalidRequestId},
    trace_context::{self, InvalidTraceParent},
};
use crate::trace::{RemoteContext, RemoteField};

/// What an incoming request's headers carried, and what was wrong with them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Incoming {
    /// What was valid.
    pub remote: RemoteContext,
    /// Why the `traceparent` was ignored, if it was.
    pub bad_traceparent: Option<InvalidTraceParent>,
    /// Why the `x-request-id` was ignored, if it was.
    pub bad_request_id: Option<InvalidRequestId>,
    /// Why the `baggage` was dropped, if it was.
    pub bad_baggage: Option<InvalidBaggage>,
}

impl Incoming {
    /// Reads `traceparent` (with `tracestate`), `x-request-id` and `baggage` from a carrier.
    pub fn extract(carrier: &(impl Extractor + ?Sized)) -> Self {
        let (parent, bad_traceparent) = split(trace_context::extract(carrier));
        let (x_request_id, bad_request_id) = split(extract_request_id(carrier));
        let (baggage, bad_baggage) = split(extract_baggage(carrier));
        Incoming {
            remote: RemoteContext {
                parent,
                x_request_id: x_request_id.map(Arc::from),
                baggage: baggage.map(Arc::from),
            },
            bad_traceparent,
            bad_request_id,
            bad_baggage,
        }
    }

    /// Logs, in the current span, a bad `traceparent` or `baggage` at DEBUG (a new trace
    /// starts; the baggage is not passed on) and a bad `x-request-id` at WARN, escaped.
    pub fn log_problems(&self) {
        if let Some(reason) = &self.bad_traceparent {
            debug!(%reason, "ignoring invalid traceparent; starting a new trace");
        }
        if let Some(reason) = &self.bad_baggage {
            debug!(%reason, "ignoring invalid baggage");
        }
        if let Some(invalid) = &self.bad_request_id {
            warn!(reason = invalid.reason, value = %invalid.escaped, "ignoring invalid x-request-id");
        }
    }
}

/// `Ok(Some(v))` to `(Some(v), None)`, `Err(e)` to `(None, Some(e))`.
fn split<T, E>(result: Result<Option<T>, E>) -> (Option<T>, Option<E>) {
    match result {
        Ok(value) => (value, None),
        Err(e) => (None, Some(e)),
    }
}

/// The one call a service makes for each incoming request: reads the caller's context from
/// `carrier`, opens the request's span with `make_span` under it, logs inside that span what
/// was wrong with the headers, and returns the span and the context (whose valid request id a
/// server echoes).
///
/// `make_span` creates the span with the remote context it is given as its `remote_parent`
/// field ([`REMOTE_PARENT`](crate::trace::REMOTE_PARENT)): that field is how the context reaches
/// the span, and only that span.
///
/// ```
/// use tracewire_runtime::propagation::continue_trace;
/// # use tracing_subscriber::layer::SubscriberExt;
/// # let layer = tracewire_runtime::logging::TracewireLayer::new(&Default::default(), tracewire_runtime::logging::MemorySink::default());
/// # tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.insert("x-request-id", "req-1".parse().unwrap());
/// let (span, remote) = continue_trace(&headers, |remote| {
///     tracing::info_span!("handle_payload", remote_parent = remote, component = "backend")
/// });
/// let ctx = tracewire_runtime::logging::span_context(&span).unwrap();
/// assert_eq!(ctx.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
/// assert_eq!(remote.x_request_id.as_deref(), Some("req-1"));
/// # });
/// ```
pub fn continue_trace(
    carrier: &(impl Extractor + ?Sized),
    make_span: impl FnOnce(RemoteField<'_>) -> Span,
) -> (Span, RemoteContext) {
    Incoming::extract(carrier).open(make_span)
}

impl Incoming {
    /// Gives a request without a valid `x-request-id` a new one ([`new_request_id`], a UUID v4),
    /// which is then the request's as a caller's would be: recorded on its spans, passed on,
    /// echoed. An invalid one given is still warned about.
    ///
    /// [`new_request_id`]: super::new_request_id
    pub fn or_new_request_id(mut self) -> Self {
        if self.remote.x_request_id.is_none() {
            self.remote.x_request_id = Some(Arc::from(super::request_id::new_request_id()));
        }
        self
    }

    /// Opens the request's span with `make_span` under this context and logs inside it what
    /// was wrong with the headers (see [`continue_trace`]).
    pub fn open(self, make_span: impl FnOnce(RemoteField<'_>) -> Span) -> (Span, RemoteContext) {
        let span = make_span(self.remote.field());
        span.in_scope(|| self.log_problems());
        (span, self.remote)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        logging::testing::{json, jsonl},
        trace::TraceFlags,
    };

    /// A carrier of another transport: name-value pairs, as a message queue's headers are.
    struct Pairs(Vec<(&'static str, &'static [u8])>);

    impl Extractor for Pairs {
        fn get_all(&self, name: &str) -> crate::propagation::Values<'_> {
            self.0
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .collect()
        }

        fn each(&self, visit: &mut dyn FnMut(&str, &[u8])) {
            self.0.iter().for_each(|(n, v)| visit(n, v));
        }
    }

    #[test]
    fn any_carrier_gives_every_header() {
        let incoming = Incoming::extract(&Pairs(vec![
            (
                "traceparent",
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            ),
            ("tracestate", b"rojo=1"),
            ("x-request-id", b"req-7"),
            ("baggage", b"tracewire.log=debug"),
        ]));
        let parent = incoming.remote.parent.as_ref().unwrap();
        assert_eq!(
            (
                parent.parent_id.to_string(),
                parent.flags,
                parent.trace_state.as_deref()
            ),
            (
                "00f067aa0ba902b7".to_owned(),
                TraceFlags(0x03),
                Some("rojo=1")
            )
        );
        assert_eq!(incoming.remote.x_request_id.as_deref(), Some("req-7"));
        assert_eq!(
            incoming.remote.baggage.as_deref(),
            Some("tracewire.log=debug")
        );
        assert_eq!(
            (
                incoming.bad_traceparent,
                incoming.bad_request_id,
                incoming.bad_baggage
            ),
            (None, None, None)
        );
    }

    #[test]
    fn what_was_wrong_is_logged_inside_the_span_and_dropped() {
        let carrier = Pairs(vec![
            ("traceparent", b"00-XYZ"),
            ("x-request-id", b"a\xffb"),
            ("baggage", b"no value"),
        ]);
        let mut remote = None;
        let out = json(&jsonl(), || {
            let (span, r) = continue_trace(&carrier, |remote| {
                tracing::info_span!("request", remote_parent = remote)
            });
            remote = Some(r);
            drop(span);
        });
        assert_eq!(
            remote,
            Some(RemoteContext::default()),
            "nothing invalid is kept"
        );
        let messages: Vec<_> = out
            .iter()
            .map(|l| (l.level.as_str(), l.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                ("INFO", "SPAN_CREATED"),
                ("WARN", "ignoring invalid x-request-id"),
                ("INFO", "SPAN_CLOSED"),
            ],
            "the DEBUG lines are hidden at info"
        );
        assert_eq!(
            out[1].span_id, out[0].span_id,
            "logged inside the request's span"
        );
        assert_eq!(out[1]["value"], "\"a\\xffb\"", "escaped");
        let out = json(
            &crate::logging::testing::with_dyn_log(jsonl(), "debug"),
            || {
                drop(continue_trace(&carrier, |remote| {
                    tracing::info_span!("request", remote_parent = remote)
                }));
            },
        );
        let debug: Vec<_> = out
            .iter()
            .filter(|l| l.level == "DEBUG")
            .map(|l| l.message.as_str())
            .collect();
        assert_eq!(
            debug,
            [
                "ignoring invalid traceparent; starting a new trace",
                "ignoring invalid baggage"
            ]
        );
    }
}
