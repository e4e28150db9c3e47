//! Span fields: the identity fields taken out of a span's values ([`Split`]), and the others as
//! typed values ([`SpanFields`]) for the outputs that keep them (readable text, OTLP
//! attributes), updated in place by `Span::record`.

use std::{fmt, sync::Arc};

use tracing::field::{Field, Visit};

use super::{context::RemoteContext, limit::ValueLimit};

/// The span field that sets a request's id; it belongs to the span's identity
/// ([`SpanContext::x_request_id`](super::SpanContext::x_request_id)), never to its fields.
pub const X_REQUEST_ID: &str = "x_request_id";

/// A recorded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A wide signed integer.
    I128(i128),
    /// A wide unsigned integer.
    U128(u128),
    /// A float.
    F64(f64),
    /// A boolean.
    Bool(bool),
    /// Recorded as `&str`: quoted in readable output.
    Str(Box<str>),
    /// Recorded through `Debug` or `Display` (`?x`, `%x`, errors): written as text.
    Text(Box<str>),
    /// Named in the `redact` list.
    Redacted,
}

impl FieldValue {
    /// The text of a `Str` or `Text` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) | FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Field names whose values are never written, in any output.
#[derive(Debug, Clone, Default)]
pub struct Redactions(Box<[Box<str>]>);

impl Redactions {
    /// Redacts the fields of these names.
    pub fn new(names: &[String]) -> Self {
        Redactions(names.iter().map(|n| n.as_str().into()).collect())
    }

    /// Whether a field of this name is redacted.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|n| &**n == name)
    }
}

/// A span's fields in the order they were first recorded.
#[derive(Debug, Default)]
pub struct SpanFields(Vec<(&'static str, FieldValue)>);

impl SpanFields {
    /// The fields, first recorded first.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &FieldValue)> {
        self.0.iter().map(|(name, value)| (*name, value))
    }

    /// The value of the field of this name.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }
}

impl FromIterator<(&'static str, FieldValue)> for SpanFields {
    /// Fields as given, a later value of a name replacing the earlier (as recording does).
    fn from_iter<I: IntoIterator<Item = (&'static str, FieldValue)>>(iter: I) -> Self {
        let mut fields = SpanFields::default();
        for (name, value) in iter {
            fields.set(name, value);
        }
        fields
    }
}

/// Records a span's values into [`SpanFields`], redacting and bounding text as asked.
pub(crate) struct Recorder<'a> {
    pub(crate) fields: &'a mut SpanFields,
    pub(crate) redact: &'a Redactions,
    pub(crate) limit: ValueLimit,
}

impl Recorder<'_> {
    fn put(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
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
        self.put(field, FieldValue::Str(self.limit.bound(value).into()));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, FieldValue::Text(self.limit.format(value)));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(
            field,
            FieldValue::Text(self.limit.format(format_args!("{value:?}"))),
        );
    }
}

/// The values of a span that make its identity rather than its fields: its `x_request_id`
/// (as text, whatever type it was recorded with) and its remote parent.
#[derive(Debug, Default)]
pub(crate) struct IdentityFields {
    pub(crate) x_request_id: Option<Arc<str>>,
    pub(crate) remote: Option<RemoteContext>,
}

/// Takes the identity fields out of a span's values and passes every other field on to `rest`:
/// the one place where they are told apart, for every format and exporter.
pub(crate) struct Split<'a, V: ?Sized> {
    pub(crate) identity: &'a mut IdentityFields,
    pub(crate) rest: &'a mut V,
}

impl<V: Visit + ?Sized> Split<'_, V> {
    /// Whether `field` is the request id, which then takes `text()`.
    #[inline]
    fn request_id(&mut self, field: &Field, text: impl FnOnce() -> Arc<str>) -> bool {
        if field.name() != X_REQUEST_ID {
            return false;
        }
        self.identity.x_request_id = Some(text());
        true
    }
}

impl<V: Visit + ?Sized> Visit for Split<'_, V> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_f64(field, value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_i64(field, value);
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_u64(field, value);
        }
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_i128(field, value);
        }
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_u128(field, value);
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_bool(field, value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.request_id(field, || value.into()) {
            self.rest.record_str(field, value);
        }
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if let Some(remote) = value.downcast_ref::<RemoteContext>() {
            self.identity.remote = Some(remote.clone());
        } else if !self.request_id(field, || value.to_string().into()) {
            self.rest.record_error(field, value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.request_id(field, || format!("{value:?}").into()) {
            self.rest.record_debug(field, value);
        }
    }
}
