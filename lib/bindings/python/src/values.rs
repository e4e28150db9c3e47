//! Python values as the fields of a record or span.

use std::borrow::Cow;

use pyo3::{
    prelude::*,
    sync::PyOnceLock,
    types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple},
};
use tracewire_runtime::logging::foreign::FieldValue;

/// A field value read from Python, kept while the record is written.
pub(crate) enum Owned<'a> {
    Str(Cow<'a, str>),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl Owned<'_> {
    pub(crate) fn get(&self) -> FieldValue<'_> {
        match self {
            Owned::Str(s) => FieldValue::Str(s),
            Owned::I64(v) => FieldValue::I64(*v),
            Owned::U64(v) => FieldValue::U64(*v),
            Owned::F64(v) => FieldValue::F64(*v),
            Owned::Bool(v) => FieldValue::Bool(*v),
        }
    }
}

/// `str`, `int`, `float` and `bool` keep their JSON types; lists, tuples and dicts are their JSON
/// text; anything else is its `repr()`.
pub(crate) fn owned_value<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Owned<'a>> {
    // bool before int: `True` is an int too.
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Owned::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(v) = value.extract::<i64>() {
            return Ok(Owned::I64(v));
        }
        if let Ok(v) = value.extract::<u64>() {
            return Ok(Owned::U64(v));
        }
        // Beyond 64 bits: its digits.
        return Ok(Owned::Str(Cow::Owned(value.str()?.to_cow()?.into_owned())));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Ok(Owned::F64(f.value()));
    }
    if let Ok(s) = value.cast::<PyString>() {
        // In place: the record's value lives while its line is written.
        return Ok(Owned::Str(s.to_cow()?));
    }
    // Lists, tuples and dicts: their JSON text (a string a log pipeline can parse again), as
    // `json.dumps` writes it, anything inside it that is not JSON as its `repr()`.
    if value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
        || value.is_instance_of::<PyDict>()
    {
        if let Ok(text) = json_text(value) {
            return Ok(Owned::Str(Cow::Owned(text)));
        }
    }
    Ok(Owned::Str(Cow::Owned(value.repr()?.to_cow()?.into_owned())))
}

/// `json.dumps(value, default=repr)`.
fn json_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let dumps = DUMPS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("json")?.getattr("dumps")?.unbind())
    })?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("default", py.import("builtins")?.getattr("repr")?)?;
    let text = dumps.bind(py).call((value,), Some(&kwargs))?;
    Ok(text.cast::<PyString>()?.to_cow()?.into_owned())
}
