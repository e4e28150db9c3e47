//! What the layer keeps in each span's extensions, and how the rest of the program reads a
//! span's identity from there ([`span_context`], [`current_context`]).

use std::{sync::Arc, time::SystemTime};

use tracing_subscriber::{registry::LookupSpan, Registry};

use super::{
    format::{SpanLines, SpanView},
    scope::RequestScope,
    timing::Timing,
};
use crate::trace::{SpanContext, SpanFields};

/// A span's record in the registry.
#[derive(Debug)]
pub(crate) struct SpanData {
    pub(crate) context: SpanContext,
    /// The typed values, kept only where they are needed (readable text, export).
    pub(crate) fields: SpanFields,
    /// What the format renders once per span.
    pub(crate) lines: SpanLines,
    /// Whether this span writes span events: they are on and the filter enables the span.
    pub(crate) visible: bool,
    pub(crate) timing: Timing,
    /// When the span started, if it is sampled for export.
    pub(crate) export_start: Option<SystemTime>,
    /// The request the span belongs to, if request-scoped logging needs one.
    pub(crate) request: Option<Arc<RequestScope>>,
    /// Whether the span starts that request (it is the outermost of it in this process).
    pub(crate) starts_request: bool,
}

impl SpanView for SpanData {
    fn context(&self) -> &SpanContext {
        &self.context
    }

    fn lines(&self) -> &SpanLines {
        &self.lines
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
