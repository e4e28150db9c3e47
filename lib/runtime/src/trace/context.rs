//! Trace identity: every span's trace id, span id, parent, flags, `tracestate`, `baggage` and
//! request id, and the context a request brings from another process.
//!
//! The identity of a span is decided once, when it is created ([`SpanContext::new`]): a remote
//! parent given with the span wins; else its real parent span's trace (the registry's parent,
//! explicit or contextual, not whichever span is entered now); else a new trace. The request id
//! has one owner, the identity: it comes from the remote context, else from the span's own
//! `x_request_id` field, else from the parent, and every format and exporter reads it from here.

use std::{fmt, sync::Arc};

use super::ids::{SpanId, TraceFlags, TraceId};

/// The trace identity of one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// This span's own id.
    pub span_id: SpanId,
    /// The parent span's id, local or remote; `None` for a root span.
    pub parent_id: Option<SpanId>,
    /// W3C trace flags, inherited from the parent or set to sampled for a new trace.
    pub flags: TraceFlags,
    /// The W3C `tracestate` received with the remote parent, passed on unchanged.
    pub trace_state: Option<Arc<str>>,
    /// The W3C `baggage` received with the request, passed on unchanged.
    pub baggage: Option<Arc<str>>,
    /// The id of the request this span serves, inherited by every child.
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
    pub trace_state: Option<Arc<str>>,
}

/// The name of the span field that carries a [`RemoteContext`] to the layer (see
/// [`RemoteContext::field`]).
pub const REMOTE_PARENT: &str = "remote_parent";

/// The value of a [`REMOTE_PARENT`] field.
pub type RemoteField<'a> = &'a (dyn std::error::Error + 'static);

/// What a request brought from another process: a trace parent, a request id and baggage, each
/// already validated (see `propagation`).
///
/// A span continues it when it is created with the context as its [`REMOTE_PARENT`] field:
///
/// ```
/// use tracewire_runtime::trace::{RemoteContext, TraceParent, TraceId, SpanId, TraceFlags};
/// use tracewire_runtime::logging::span_context;
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
///     baggage: None,
/// };
/// let span = tracing::info_span!("handle_payload", remote_parent = remote.field());
/// let ctx = span_context(&span).unwrap();
/// assert_eq!(ctx.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(ctx.parent_id.unwrap().to_string(), "00f067aa0ba902b7");
/// assert_eq!(ctx.x_request_id.as_deref(), Some("req-1"));
/// # });
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteContext {
    /// The remote parent span, if the caller sent a valid one.
    pub parent: Option<TraceParent>,
    /// The caller's request id, if valid.
    pub x_request_id: Option<Arc<str>>,
    /// The caller's `baggage`, if valid.
    pub baggage: Option<Arc<str>>,
}

impl RemoteContext {
    /// This context as the value of a span's [`REMOTE_PARENT`] field.
    ///
    /// tracing hands a span's values to its subscriber only as fields, and the one field type
    /// that arrives typed is an error (`Visit::record_error` gets a `&dyn Error`, which the
    /// layer downcasts): that is why a remote context implements `Error`. It is the explicit
    /// way to give one span a remote parent; nothing is kept aside for spans created later.
    pub fn field(&self) -> RemoteField<'_> {
        self
    }
}

/// What another subscriber shows of the field: the W3C headers it came from.
impl fmt::Display for RemoteContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(p) = &self.parent {
            write!(
                f,
                "traceparent=00-{}-{}-{:02x}",
                p.trace_id, p.parent_id, p.flags.0
            )?;
            sep = " ";
        }
        if let Some(id) = &self.x_request_id {
            write!(f, "{sep}x-request-id={id}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteContext {}

impl SpanContext {
    /// The identity of a new span: from its remote context, else its local parent, else fresh.
    /// `own_request_id` is the span's own `x_request_id` field, which wins over an inherited
    /// one.
    pub(crate) fn new(
        remote: Option<RemoteContext>,
        parent: Option<&SpanContext>,
        own_request_id: Option<Arc<str>>,
    ) -> Self {
        let span_id = SpanId::random();
        let mut ctx = match (remote, parent) {
            (Some(remote), parent) => {
                let inherited = parent.filter(|_| remote.parent.is_none());
                let mut ctx = match (remote.parent, inherited) {
                    (Some(p), _) => SpanContext {
                        trace_id: p.trace_id,
                        span_id,
                        parent_id: Some(p.parent_id),
                        flags: p.flags,
                        trace_state: p.trace_state,
                        baggage: None,
                        x_request_id: None,
                        remote_parent: true,
                    },
                    (None, Some(p)) => p.child(span_id),
                    (None, None) => SpanContext::root(span_id),
                };
                if remote.x_request_id.is_some() {
                    ctx.x_request_id = remote.x_request_id;
                }
                if remote.baggage.is_some() {
                    ctx.baggage = remote.baggage;
                }
                ctx
            }
            (None, Some(p)) => p.child(span_id),
            (None, None) => SpanContext::root(span_id),
        };
        if own_request_id.is_some() {
            ctx.x_request_id = own_request_id;
        }
        ctx
    }

    fn root(span_id: SpanId) -> Self {
        SpanContext {
            trace_id: TraceId::random(),
            span_id,
            parent_id: None,
            flags: TraceFlags::SAMPLED,
            trace_state: None,
            baggage: None,
            x_request_id: None,
            remote_parent: false,
        }
    }

    fn child(&self, span_id: SpanId) -> Self {
        SpanContext {
            trace_id: self.trace_id,
            span_id,
            parent_id: Some(self.span_id),
            flags: self.flags,
            trace_state: self.trace_state.clone(),
            baggage: self.baggage.clone(),
            x_request_id: self.x_request_id.clone(),
            remote_parent: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(parent: bool, id: Option<&str>) -> RemoteContext {
        RemoteContext {
            parent: parent.then(|| TraceParent {
                trace_id: TraceId::from_u128(7).unwrap(),
                parent_id: SpanId::from_u64(8).unwrap(),
                flags: TraceFlags(0x02),
                trace_state: Some("k=v".into()),
            }),
            x_request_id: id.map(Arc::from),
            baggage: Some("user=ann".into()),
        }
    }

    #[test]
    fn identity_rules() {
        let root = SpanContext::new(None, None, None);
        assert_eq!((root.parent_id, root.flags), (None, TraceFlags::SAMPLED));

        let local = SpanContext::new(None, Some(&root), None);
        assert_eq!(
            (local.trace_id, local.parent_id),
            (root.trace_id, Some(root.span_id))
        );

        let continued = SpanContext::new(Some(remote(true, Some("r"))), Some(&root), None);
        assert_eq!(continued.trace_id, TraceId::from_u128(7).unwrap());
        assert_eq!(continued.parent_id, SpanId::from_u64(8));
        assert!(
            continued.remote_parent,
            "the remote parent wins over the local one"
        );
        assert_eq!(
            (
                continued.flags,
                continued.trace_state.as_deref(),
                continued.baggage.as_deref(),
                continued.x_request_id.as_deref()
            ),
            (TraceFlags(0x02), Some("k=v"), Some("user=ann"), Some("r"))
        );

        let without_parent = SpanContext::new(Some(remote(false, Some("r"))), Some(&root), None);
        assert_eq!(
            (
                without_parent.trace_id,
                without_parent.x_request_id.as_deref()
            ),
            (root.trace_id, Some("r")),
            "a remote request id without traceparent keeps the local trace"
        );

        let own = SpanContext::new(Some(remote(true, Some("r"))), None, Some("mine".into()));
        assert_eq!(
            own.x_request_id.as_deref(),
            Some("mine"),
            "a span's own field wins"
        );
        let inherited = SpanContext::new(None, Some(&continued), None);
        assert_eq!(inherited.x_request_id.as_deref(), Some("r"));
        assert_eq!(inherited.baggage.as_deref(), Some("user=ann"));
    }

    #[test]
    fn another_subscriber_sees_the_headers() {
        assert_eq!(
            remote(true, Some("req-1")).to_string(),
            "traceparent=00-00000000000000000000000000000007-0000000000000008-02 x-request-id=req-1"
        );
    }
}
