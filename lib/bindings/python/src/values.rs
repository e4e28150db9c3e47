//! Python values as the fields of a record or span.

use std::borrow::Cow;

use pyo3::{
    prelude::*,
    types::{PyBool, PyFloat, PyInt, PyString},
};
use tracewire_runtime::logging::foreign::FieldValue;

/// A field value read from Python, kept while the record is written.
pub(crate) enum Owned<'py> {
    Str(Cow<'py, str>),
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

/// `str`, `int`, `float` and `bool` keep their JSON types; anything else is its `repr()`.
pub(crate) fn owned_value<'py>(value: &Bound<'py, PyAny>) -> PyResult<Owned<'py>> {
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
        return Ok(Owned::Str(Cow::Owned(s.to_cow()?.into_owned())));
    }
    Ok(Owned::Str(Cow::Owned(value.repr()?.to_cow()?.into_owned())))
}
