//! Trace identity: every span's trace id, span id, parent, flags, tracestate and x-request-id.
//!
//! The layer computes a [`SpanContext`] once, when a span is created, and keeps it in the span's
//! extensions: a root span starts a new trace; a child takes its real parent's trace (the
//! registry's parent, explicit or contextual, not whichever span is entered now); a span created
//! inside [`RemoteContext::in_scope`] continues the trace of another process.

use std::{cell::Cell, sync::Arc};

use tracing_subscriber::{registry::LookupSpan, Registry};

use super::{
    ids::{SpanId, TraceFlags, TraceId},
    layer::SpanData,
};

/// The trace identity of one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's own id.
    pub span_id: SpanId,
    /// The parent span's id, local or remote; `None` for a root span.
    pub parent_id: Option<SpanId>,
    /// W3C trace flags, inherited from the remote parent or set to sampled for a new trace.
    pub flags: TraceFlags,
    /// The W3C `tracestate` received with the remote parent, passed on unchanged.
    pub trace_state: Option<Arc<str>>,
    /// The request id of the request this span serves, inherited by every child.
    pub x_request_id: Option<Arc<str>>,
    /// Whether the parent is in another process.
    pub remote_parent: bool,
}

/// The parent span of another process, as a W3C `traceparent` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The caller's trace.
    pub trace_id: TraceId,
    /// The caller's span, which becomes the new span's `parent_id`.
    pub parent_id: SpanId,
    /// The caller's trace flags.
    pub flags: TraceFlags,
    /// The caller's `tracestate`, already validated.
    pub trace_state: Option<String>,
}

/// What a request brought from another process: a trace parent and an `x-request-id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteContext {
    /// The remote parent span, if the caller sent a valid one.
    pub parent: Option<TraceParent>,
    /// The caller's request id, if valid.
    pub x_request_id: Option<String>,
}

thread_local! {
    static PENDING: Cell<Option<RemoteContext>> = const { Cell::new(None) };
}

impl RemoteContext {
    /// Runs `f`; the first span created inside it on this thread continues this context: same
    /// trace id, `parent_id` = the remote span, flags and tracestate kept, `x_request_id` set.
    /// The remote parent wins over any local span that is current.
    ///
    /// ```
    /// use tracewire_runtime::logging::{RemoteContext, TraceParent, TraceId, SpanId, TraceFlags, span_context};
    /// # use tracing_subscriber::layer::SubscriberExt;
    /// # let layer = tracewire_runtime::logging::TracewireLayer::new(
    /// #     &Default::default(), tracewire_runtime::logging::MemorySink::default());
    /// # tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    /// let remote = RemoteContext {
    ///     parent: Some(TraceParent {
    ///         trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
    ///         parent_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
    ///         flags: TraceFlags::SAMPLED,
    ///         trace_state: None,
    ///     }),
    ///     x_request_id: Some("req-1".into()),
    /// };
    /// let span = remote.in_scope(|| tracing::info_span!("handle_payload"));
    /// let ctx = span_context(&span).unwrap();
    /// assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert_eq!(ctx.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
    /// assert_eq!(ctx.x_request_id.as_deref(), Some("req-1"));
    /// # });
    /// ```
    pub fn in_scope<T>(self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<RemoteContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                PENDING.set(self.0.take());
            }
        }
        let _restore = Restore(PENDING.replace(Some(self)));
        f()
    }
}

/// Takes the pending remote context of this thread, if a span is being created inside
/// [`RemoteContext::in_scope`].
pub(crate) fn take_pending() -> Option<RemoteContext> {
    PENDING.take()
}

impl SpanContext {
    /// The identity of a new span from its remote context, else its local parent, else fresh.
    /// `own_request_id` is the span's own `x_request_id` field, which wins over inherited ones.
    pub(crate) fn new(
        remote: Option<RemoteContext>,
        parent: Option<&SpanContext>,
        own_request_id: Option<Arc<str>>,
    ) -> Self {
        let span_id = SpanId::random();
        let (remote_parent, remote_request_id) = match remote {
            Some(r) => (r.parent, r.x_request_id.map(Arc::from)),
            None => (None, None),
        };
        let mut ctx = match (remote_parent, parent) {
            (Some(p), _) => SpanContext {
                trace_id: p.trace_id,
                span_id,
                parent_id: Some(p.parent_id),
                flags: p.flags,
                trace_state: p.trace_state.map(Arc::from),
                x_request_id: None,
                remote_parent: true,
            },
            (None, Some(p)) => SpanContext {
                trace_id: p.trace_id,
                span_id,
                parent_id: Some(p.span_id),
                flags: p.flags,
                trace_state: p.trace_state.clone(),
                x_request_id: p.x_request_id.clone(),
                remote_parent: false,
            },
            (None, None) => SpanContext {
                trace_id: TraceId::random(),
                span_id,
                parent_id: None,
                flags: TraceFlags::SAMPLED,
                trace_state: None,
                x_request_id: None,
                remote_parent: false,
            },
        };
        if let Some(id) = own_request_id.or(remote_request_id) {
            ctx.x_request_id = Some(id);
        }
        ctx
    }
}

/// The identity of `span`, if it is enabled and tracewire's layer runs on a [`Registry`].
pub fn span_context(span: &tracing::Span) -> Option<SpanContext> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let span = registry.span(id)?;
        let extensions = span.extensions();
        extensions
            .get::<SpanData>()
            .map(|data| data.context.clone())
    })
    .flatten()
}

/// The identity of the current span: what an outgoing call should propagate.
pub fn current_context() -> Option<SpanContext> {
    span_context(&tracing::Span::current())
}
