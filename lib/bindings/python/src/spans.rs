//! Spans made from Python (`tracewire.span`), the current span's identity, and the headers a
//! call made on its behalf carries.

use std::{
    borrow::Cow,
    sync::{Mutex, PoisonError},
};

use pyo3::{
    prelude::*,
    types::{PyDict, PyString},
};
use tracewire_runtime::{
    logging::{foreign, span_context},
    propagation::{inject_context, Injector},
};

use crate::values::{owned_value, Owned};

/// A tracewire span: `SPAN_CREATED` when made, `SPAN_CLOSED` when closed (or collected). The
/// current one lives in a `contextvars.ContextVar` on the Python side.
#[pyclass(module = "tracewire", frozen)]
pub(crate) struct Span {
    span: Mutex<Option<tracing::Span>>,
}

impl Span {
    pub(crate) fn new(span: tracing::Span) -> Self {
        Span {
            span: Mutex::new(Some(span)),
        }
    }

    /// Lets go of the span: it closes once no other handle holds it.
    pub(crate) fn release(&self) -> Option<tracing::Span> {
        self.span
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The span, unless closed.
    pub(crate) fn get(&self) -> Option<tracing::Span> {
        self.span
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[pymethods]
impl Span {
    /// Marks the span entered on this thread (its time counts as busy): for a `with` block,
    /// which no other task can interleave with.
    fn enter(&self) {
        if let Some(span) = self.get() {
            span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        }
    }

    /// Marks the span exited on this thread.
    fn exit(&self) {
        if let Some(span) = self.get() {
            span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }

    /// Closes the span (`SPAN_CLOSED` once its children are closed too).
    fn close(&self, py: Python<'_>) {
        let span = self
            .span
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        py.detach(|| drop(span));
    }

    /// `{"trace_id", "span_id", "x_request_id"}` of the span, or `None` once closed.
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        context_dict(py, self.get().as_ref())
    }

    fn __repr__(&self) -> String {
        match self.get().as_ref().and_then(span_context) {
            Some(ctx) => format!(
                "<tracewire.Span trace_id={} span_id={}>",
                ctx.trace_id, ctx.span_id
            ),
            None => "<tracewire.Span closed>".to_owned(),
        }
    }
}

/// A span named `name` at INFO with target `target` and `fields`, child of `parent` (or a root).
#[pyfunction]
#[pyo3(signature = (name, target, fields=None, parent=None))]
pub(crate) fn new_span(
    name: &str,
    target: &str,
    fields: Option<&Bound<'_, PyDict>>,
    parent: Option<PyRef<'_, Span>>,
) -> PyResult<Span> {
    let items: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> =
        fields.map_or_else(Vec::new, |f| f.iter().collect());
    let mut owned: Vec<(Cow<'_, str>, Owned<'_>)> = Vec::with_capacity(items.len());
    for (key, value) in &items {
        owned.push((key.cast::<PyString>()?.to_cow()?, owned_value(value)?));
    }
    let values: Vec<(&str, foreign::FieldValue<'_>)> =
        owned.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
    let parent = parent.as_ref().and_then(|p| p.get());
    // Without a parent: a new trace, whatever span this thread is in.
    let parent = parent.unwrap_or_else(tracing::Span::none);
    Ok(Span::new(foreign::span(
        name,
        target,
        &values,
        Some(&parent),
    )))
}

/// [`Span::context`] of `span`, `None` for none.
#[pyfunction]
#[pyo3(signature = (span=None))]
pub(crate) fn context_of<'py>(
    py: Python<'py>,
    span: Option<PyRef<'py, Span>>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    context_dict(py, span.and_then(|s| s.get()).as_ref())
}

fn context_dict<'py>(
    py: Python<'py>,
    span: Option<&tracing::Span>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(ctx) = span.and_then(span_context) else {
        return Ok(None);
    };
    let dict = PyDict::new(py);
    dict.set_item("trace_id", ctx.trace_id.to_string())?;
    dict.set_item("span_id", ctx.span_id.to_string())?;
    dict.set_item("x_request_id", ctx.x_request_id.as_deref())?;
    Ok(Some(dict))
}

/// Writes `span`'s `traceparent`, `tracestate`, `x-request-id` and `baggage` into `headers`
/// (nothing without a span); returns `headers`.
#[pyfunction]
#[pyo3(signature = (headers, span=None))]
pub(crate) fn inject<'py>(
    headers: Bound<'py, PyDict>,
    span: Option<PyRef<'py, Span>>,
) -> PyResult<Bound<'py, PyDict>> {
    let Some(ctx) = span.and_then(|s| s.get()).as_ref().and_then(span_context) else {
        return Ok(headers);
    };
    let mut carrier = Headers(Vec::new());
    inject_context(&ctx, &mut carrier);
    for (name, value) in carrier.0 {
        headers.set_item(name, value)?;
    }
    Ok(headers)
}

/// The headers to set, in order.
struct Headers(Vec<(&'static str, String)>);

impl Injector for Headers {
    fn set(&mut self, name: &'static str, value: String) {
        self.0.retain(|(n, _)| *n != name);
        self.0.push((name, value));
    }
}
