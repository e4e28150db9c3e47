//! Span fields as recorded values: kept typed so that each format writes them natively, and
//! updated in place by `Span::record`.

use std::{fmt, sync::Arc};

use tracing::field::{Field, Visit};

/// The field that carries a request's id; the layer also keeps it in the span's identity.
pub(crate) const X_REQUEST_ID: &str = "x_request_id";

/// A recorded field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    /// Recorded as `&str`: quoted in readable output.
    Str(Box<str>),
    /// Recorded through `Debug` or `Display` (`?x`, `%x`, errors): written as text.
    Text(Box<str>),
    /// Named in the `redact` list.
    Redacted,
}

/// Field names whose values are never written.
#[derive(Debug, Clone, Default)]
pub(crate) struct Redactions(Box<[Box<str>]>);

impl Redactions {
    pub(crate) fn new(names: &[String]) -> Self {
        Redactions(names.iter().map(|n| n.as_str().into()).collect())
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| &**n == name)
    }
}

/// A span's fields in the order they were first recorded.
#[derive(Debug, Default)]
pub(crate) struct SpanFields(Vec<(&'static str, FieldValue)>);

impl SpanFields {
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &FieldValue)> {
        self.0.iter().map(|(name, value)| (*name, value))
    }

    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

/// Records attribute or `record` values into [`SpanFields`], noticing `x_request_id`.
pub(crate) struct Recorder<'a> {
    pub(crate) fields: &'a mut SpanFields,
    pub(crate) redact: &'a Redactions,
    pub(crate) x_request_id: Option<Arc<str>>,
}

impl Recorder<'_> {
    fn put(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        if name == X_REQUEST_ID {
            self.x_request_id = match &value {
                FieldValue::Str(s) | FieldValue::Text(s) => Some(Arc::from(&**s)),
                _ => None,
            };
        }
        let value = if self.redact.contains(name) {
            FieldValue::Redacted
        } else {
            value
        };
        self.fields.set(name, value);
    }
}

impl Visit for Recorder<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, FieldValue::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, FieldValue::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, FieldValue::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, FieldValue::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, FieldValue::U128(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, FieldValue::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, FieldValue::Str(value.into()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, FieldValue::Text(value.to_string().into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, FieldValue::Text(format!("{value:?}").into()));
    }
}
