//! The hook that makes a request's span, as tower-http's `MakeSpan`: [`DefaultMakeSpan`] opens
//! `http-request` with the HTTP fields; a service that records more on the span (the
//! frontend's `model` and token counts) passes its own, built with [`http_request_span!`].
//!
//! [`http_request_span!`]: crate::http_request_span

use http::Request;
use tracing::Span;

use crate::trace::RemoteField;

/// The target of the `http-request` span and of the `request completed` event, whoever makes
/// the span: `DYN_LOG=tracewire_runtime::http=debug` reaches both. It names the module
/// `TraceLayer` lives in, as it always has (a log pipeline may filter on it).
pub const SPAN_TARGET: &str = "tracewire_runtime::http::trace_layer";

/// Makes the span a request is served in. `remote` is the caller's context: put it among the
/// span's fields as `remote_parent = remote`, so that the span continues the caller's trace.
///
/// The span must declare a `status` field (left empty) for [`TraceLayer`](super::TraceLayer) to
/// record the response's status on it; [`http_request_span!`](crate::http_request_span) does.
/// A closure needs its argument types written out (`remote: RemoteField<'_>`) to be a hook for
/// any request; a `fn` item is simplest.
pub trait MakeSpan<B> {
    /// The span for `request`.
    fn make_span(&mut self, request: &Request<B>, remote: RemoteField<'_>) -> Span;
}

impl<B, F> MakeSpan<B> for F
where
    F: FnMut(&Request<B>, RemoteField<'_>) -> Span,
{
    fn make_span(&mut self, request: &Request<B>, remote: RemoteField<'_>) -> Span {
        self(request, remote)
    }
}

/// The `http-request` span at INFO with the fields `method`, `uri`, `version` and `status`
/// (recorded with the response), continuing the caller's trace. Defaults of
/// [`TraceLayer::new`](super::TraceLayer::new).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultMakeSpan;

impl<B> MakeSpan<B> for DefaultMakeSpan {
    fn make_span(&mut self, request: &Request<B>, remote: RemoteField<'_>) -> Span {
        crate::http_request_span!(request, remote)
    }
}

/// The `http-request` span of `$request` under the caller's context `$remote`, with the HTTP
/// fields (`method`, `uri`, `version`, an empty `status`, `otel.kind = "server"`) and, after
/// them, any fields of your own: what a [`MakeSpan`] of yours writes.
///
/// ```
/// use axum::body::Body;
/// use tracewire_runtime::{http::TraceLayer, http_request_span, trace::RemoteField};
/// use tracing::{field::Empty, Span};
///
/// fn chat_span(request: &http::Request<Body>, remote: RemoteField<'_>) -> Span {
///     http_request_span!(request, remote, model = Empty, prompt_tokens = Empty)
/// }
/// let app: axum::Router = axum::Router::new().layer(TraceLayer::new().make_span_with(chat_span));
/// ```
///
/// `level: tracing::Level::DEBUG,` first makes it at another level than INFO (probes are DEBUG).
#[macro_export]
macro_rules! http_request_span {
    (level: $level:expr, $request:expr, $remote:expr $(, $($fields:tt)+)?) => {
        $crate::__private::tracing::span!(
            target: $crate::http::SPAN_TARGET,
            $level,
            "http-request",
            remote_parent = $remote,
            method = %$request.method(),
            uri = %$request.uri(),
            version = ?$request.version(),
            status = $crate::__private::tracing::field::Empty,
            otel.kind = "server",
            $($($fields)+)?
        )
    };
    ($request:expr, $remote:expr $(, $($fields:tt)+)?) => {
        $crate::http_request_span!(level: $crate::__private::tracing::Level::INFO, $request, $remote $(, $($fields)+)?)
    };
}
