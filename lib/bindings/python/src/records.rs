//! A `logging.LogRecord` as a tracewire line: read in Rust, written by the runtime's formats
//! (`logging::foreign`), with the trace identity of the span current in its Python context.

use std::borrow::Cow;

use pyo3::{
    intern,
    prelude::*,
    sync::PyOnceLock,
    types::{PyDict, PyString},
};
use tracewire_runtime::logging::foreign::{self, FieldValue, Record};

use crate::{
    host::tracing_level,
    spans::Span,
    values::{owned_value, Owned},
};

/// Whether a record of `levelno` from `logger` would be written now.
#[pyfunction]
pub(crate) fn enabled(levelno: i64, logger: &str) -> bool {
    foreign::enabled(tracing_level(levelno), logger)
}

/// Writes `record` (a `logging.LogRecord`) inside `span` (the current span of the record's
/// Python context), or outside spans.
#[pyfunction]
#[pyo3(signature = (record, span=None))]
pub(crate) fn emit(record: &Bound<'_, PyAny>, span: Option<PyRef<'_, Span>>) -> PyResult<()> {
    let py = record.py();
    let levelno: i64 = record.getattr(intern!(py, "levelno"))?.extract()?;
    let level = tracing_level(levelno);
    let logger = record.getattr(intern!(py, "name"))?;
    let logger = text(&logger)?;
    let file = record.getattr(intern!(py, "pathname"))?;
    let file = text(&file)?;
    let line: u32 = record
        .getattr(intern!(py, "lineno"))?
        .extract()
        .unwrap_or(0);
    // As `logging` formats it: `msg % args`.
    let message = record.call_method0(intern!(py, "getMessage"))?;
    let message = text(&message)?;
    let exception = exception_text(record)?;
    let dict = record.getattr(intern!(py, "__dict__"))?;
    let dict = dict.cast::<PyDict>()?;
    let mut owned: Vec<(Cow<'_, str>, Owned<'_>)> = Vec::new();
    for (key, value) in dict.iter() {
        let Ok(key) = key.cast::<PyString>() else {
            continue;
        };
        let key = key.to_cow()?;
        if is_standard_attribute(&key) {
            continue;
        }
        let value = owned_value(&value)?;
        owned.push((Cow::Owned(key.into_owned()), value));
    }
    let stack = record.getattr(intern!(py, "stack_info"))?;
    let stack = if stack.is_none() {
        None
    } else {
        Some(text(&stack)?)
    };
    let mut fields: Vec<(&str, FieldValue<'_>)> =
        owned.iter().map(|(k, v)| (k.as_ref(), v.get())).collect();
    if let Some(stack) = &stack {
        fields.push(("stack", FieldValue::Str(stack)));
    }
    let record = Record {
        level,
        logger: &logger,
        file: &file,
        line,
        message: &message,
        exception: exception.as_deref(),
        fields: &fields,
    };
    let span = span.as_ref().and_then(|s| s.get());
    foreign::emit(&record, span.as_ref());
    Ok(())
}

/// A Python object's text (`str()` of a non-string).
fn text<'py>(value: &Bound<'py, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Ok(value.str()?.to_cow()?.into_owned()),
    }
}

/// The record's traceback as `logging.Formatter.formatException` writes it (the record's
/// cached `exc_text` if a formatter already made it), without the last newline.
fn exception_text(record: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    let py = record.py();
    let info = record.getattr(intern!(py, "exc_info"))?;
    if info.is_none() || !info.is_truthy()? {
        return Ok(None);
    }
    let cached = record.getattr(intern!(py, "exc_text"))?;
    if !cached.is_none() && cached.is_truthy()? {
        return Ok(Some(text(&cached)?));
    }
    static FORMATTER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let formatter = FORMATTER.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("logging")?
            .getattr("Formatter")?
            .call0()?
            .unbind())
    })?;
    let formatted = formatter
        .bind(py)
        .call_method1(intern!(py, "formatException"), (info,))?;
    let mut formatted = text(&formatted)?;
    if formatted.ends_with('\n') {
        formatted.pop();
    }
    Ok(Some(formatted))
}

/// The attributes every `LogRecord` has (Python 3.9 to 3.13): the rest are `extra={...}`.
fn is_standard_attribute(name: &str) -> bool {
    matches!(
        name,
        "name"
            | "msg"
            | "args"
            | "levelname"
            | "levelno"
            | "pathname"
            | "filename"
            | "module"
            | "exc_info"
            | "exc_text"
            | "stack_info"
            | "lineno"
            | "funcName"
            | "created"
            | "msecs"
            | "relativeCreated"
            | "thread"
            | "threadName"
            | "processName"
            | "process"
            | "taskName"
            | "message"
            | "asctime"
    )
}
