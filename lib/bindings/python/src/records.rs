//! A `logging.LogRecord` as a tracewire line: read in Rust, written by the runtime's formats
//! (`logging::foreign`), with the trace identity of the span current in its Python context.

use std::borrow::Cow;

use pyo3::{
    ffi, intern,
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
///
/// One pass over the record's `__dict__` reads everything: `LogRecord.__init__` sets each
/// attribute there under its interned name, so a key is told a standard attribute by identity
/// (a pointer compare) and only the `extra={...}` keys are read as text. A record whose class
/// is not `logging.LogRecord` itself (a record factory's subclass may compute attributes or
/// override `getMessage`) is read through `getattr` and `getMessage`, as `logging` would.
#[pyfunction]
#[pyo3(signature = (record, span=None))]
pub(crate) fn emit(record: &Bound<'_, PyAny>, span: Option<PyRef<'_, Span>>) -> PyResult<()> {
    let py = record.py();
    let names = Standard::get(py)?;
    let exact = record.get_type().is(names.record_class.bind(py));
    let dict = record.getattr(intern!(py, "__dict__"))?;
    let dict = dict.cast::<PyDict>()?;
    let mut parts: [Option<Bound<'_, PyAny>>; READ] = Default::default();
    let mut extras: Vec<(Bound<'_, PyString>, Bound<'_, PyAny>)> = Vec::new();
    let (mut pos, mut next): (ffi::Py_ssize_t, usize) = (0, 0);
    let (mut key, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
    // By hand over `PyDict_Next` rather than pyo3's dict iterator, which takes a reference to
    // every key and value and asks the dict's size at each step: about 20 entries per record,
    // of which this keeps a few (BENCHMARKS.md, the Python handler).
    // SAFETY: the GIL is held (`py`) and `dict` is a dict this function holds; the references
    // `PyDict_Next` lends stay valid while the dict is not changed, and nothing in the loop runs
    // Python code (identity compares, reading a `str`'s UTF-8): what is kept is referenced at
    // once, and the extra fields are converted after the loop.
    while unsafe { ffi::PyDict_Next(dict.as_ptr(), &mut pos, &mut key, &mut value) } != 0 {
        let at = match names.by_identity(key, next) {
            Some(at) => {
                next = at + 1;
                Some(at)
            }
            None => {
                let borrowed = unsafe { Borrowed::from_ptr(py, key) };
                let Ok(name) = borrowed.cast::<PyString>() else {
                    continue;
                };
                let at = standard_index(&name.to_cow()?);
                if at.is_none() {
                    let name = name.to_owned();
                    extras.push((name, unsafe { Bound::from_borrowed_ptr(py, value) }));
                }
                at
            }
        };
        if let Some(slot) = at.and_then(|at| parts.get_mut(at)) {
            *slot = Some(unsafe { Bound::from_borrowed_ptr(py, value) });
        }
    }
    let mut owned: Vec<(Cow<'_, str>, Owned<'_>)> = Vec::with_capacity(extras.len());
    for (name, value) in &extras {
        owned.push((name.to_cow()?, owned_value(value)?));
    }
    // What the dict did not hold (or all of it, for a subclass), as attributes.
    let part = |at: usize| -> PyResult<Bound<'_, PyAny>> {
        match (&parts[at], exact) {
            (Some(value), true) => Ok(value.clone()),
            _ => record.getattr(STANDARD[at]),
        }
    };
    let levelno: i64 = part(LEVELNO)?.extract()?;
    let level = tracing_level(levelno);
    let logger = part(NAME)?;
    let logger = text(&logger)?;
    let file = part(PATHNAME)?;
    let file = text(&file)?;
    let line: u32 = part(LINENO)?.extract().unwrap_or(0);
    // As `logging` formats it: `str(msg) % args`, or `str(msg)` when there are no args.
    let message = match exact {
        true if !part(ARGS)?.is_truthy()? => part(MSG)?,
        _ => record.call_method0(intern!(py, "getMessage"))?,
    };
    let message = text(&message)?;
    let exception = exception_text(record, &part(EXC_INFO)?, &part(EXC_TEXT)?)?;
    let stack = part(STACK_INFO)?;
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

/// The standard attributes' names, interned, and `logging.LogRecord`.
struct Standard {
    names: Vec<Py<PyString>>,
    record_class: Py<PyAny>,
}

impl Standard {
    fn get(py: Python<'_>) -> PyResult<&'static Standard> {
        static STANDARD_NAMES: PyOnceLock<Standard> = PyOnceLock::new();
        STANDARD_NAMES.get_or_try_init(py, || {
            Ok(Standard {
                names: STANDARD
                    .iter()
                    .map(|n| PyString::intern(py, n).unbind())
                    .collect(),
                record_class: py.import("logging")?.getattr("LogRecord")?.unbind(),
            })
        })
    }

    /// The index in [`STANDARD`] of the attribute named by this very (interned) string,
    /// looked for at `next` first (a record's dict has them in `STANDARD`'s order).
    fn by_identity(&self, key: *mut ffi::PyObject, next: usize) -> Option<usize> {
        match self.names.get(next) {
            Some(n) if n.as_ptr() == key => Some(next),
            _ => self.names.iter().position(|n| n.as_ptr() == key),
        }
    }
}
/// A Python object's text (`str()` of a non-string), borrowed from a string's own UTF-8.
fn text<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, str>> {
    match value.cast::<PyString>() {
        Ok(s) => s.to_cow(),
        Err(_) => Ok(Cow::Owned(value.str()?.to_cow()?.into_owned())),
    }
}

/// The record's traceback as `logging.Formatter.formatException` writes it (the record's
/// cached `exc_text` if a formatter already made it), without the last newline.
fn exception_text(
    record: &Bound<'_, PyAny>,
    info: &Bound<'_, PyAny>,
    cached: &Bound<'_, PyAny>,
) -> PyResult<Option<String>> {
    let py = record.py();
    if info.is_none() || !info.is_truthy()? {
        return Ok(None);
    }
    if !cached.is_none() && cached.is_truthy()? {
        return Ok(Some(text(cached)?.into_owned()));
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
    let mut formatted = text(&formatted)?.into_owned();
    if formatted.ends_with('\n') {
        formatted.pop();
    }
    Ok(Some(formatted))
}

/// The attributes every `LogRecord` has (Python 3.10 to 3.13), in the order
/// `LogRecord.__init__` sets them (its `__dict__`'s order), then those a formatter adds: the
/// rest are `extra={...}`. Those the line is read from are among the first [`READ`].
const STANDARD: [&str; 23] = [
    "name",
    "msg",
    "args",
    "levelname",
    "levelno",
    "pathname",
    "filename",
    "module",
    "exc_info",
    "exc_text",
    "stack_info",
    "lineno",
    "funcName",
    "created",
    "msecs",
    "relativeCreated",
    "thread",
    "threadName",
    "processName",
    "process",
    "taskName",
    "message",
    "asctime",
];
const NAME: usize = 0;
const MSG: usize = 1;
const ARGS: usize = 2;
const LEVELNO: usize = 4;
const PATHNAME: usize = 5;
const EXC_INFO: usize = 8;
const EXC_TEXT: usize = 9;
const STACK_INFO: usize = 10;
const LINENO: usize = 11;
/// How many of them the line may read.
const READ: usize = 12;

/// The index of a standard attribute, by its name.
fn standard_index(name: &str) -> Option<usize> {
    STANDARD.iter().position(|n| *n == name)
}
