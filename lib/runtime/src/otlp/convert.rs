//! A closed tracewire span as the SDK's `SpanData`: the same ids, parent, flags and tracestate
//! as the log lines, the span's fields as attributes.
//!
//! Fields named `otel.*` steer the export and are not written to log lines: `otel.kind`
//! (`server`, `client`, `producer`, `consumer`, `internal`) and `otel.status_code` (`ERROR`).
//! A server span's SPEC field names are also given their OpenTelemetry semantic-convention
//! names: `method` → `http.request.method`, `uri` → `url.path` and `url.query`, `version` →
//! `network.protocol.version`, `status` → `http.response.status_code` (a 5xx is an error status).
//! A field named as a string-array convention (`gen_ai.response.finish_reasons`) holds its items
//! separated by commas and is exported as an array.

use std::{borrow::Cow, str::FromStr};

use opentelemetry::InstrumentationScope;
use opentelemetry::{
    trace::{SpanKind, Status, TraceState},
    KeyValue, Value,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::trace::{EndedSpan, FieldValue, SpanFields, SpanId, TraceId, X_REQUEST_ID};

/// The span kind its `otel.kind` field asks for; internal by default.
pub(crate) fn span_kind(fields: &SpanFields) -> SpanKind {
    let kind = fields
        .get("otel.kind")
        .and_then(FieldValue::as_text)
        .map(str::to_ascii_lowercase);
    match kind.as_deref() {
        Some("server") => SpanKind::Server,
        Some("client") => SpanKind::Client,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

pub(crate) fn value(v: &FieldValue) -> Value {
    match v {
        FieldValue::I64(n) => Value::I64(*n),
        FieldValue::U64(n) => {
            i64::try_from(*n).map_or_else(|_| Value::String(n.to_string().into()), Value::I64)
        }
        FieldValue::I128(n) => {
            i64::try_from(*n).map_or_else(|_| Value::String(n.to_string().into()), Value::I64)
        }
        FieldValue::U128(n) => {
            i64::try_from(*n).map_or_else(|_| Value::String(n.to_string().into()), Value::I64)
        }
        FieldValue::F64(n) => Value::F64(*n),
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Str(s) | FieldValue::Text(s) => Value::String(s.to_string().into()),
        FieldValue::Redacted => Value::String("[REDACTED]".into()),
    }
}

/// Semantic-convention attributes whose type is a string array: a field of one of these names
/// holds the items separated by commas (`"stop"`, `"stop,length"`) and is exported as an array.
const STRING_ARRAYS: &[&str] = &["gen_ai.response.finish_reasons"];

/// A span field as an attribute.
fn attribute(name: &str, v: &FieldValue) -> Value {
    match v.as_text() {
        Some(text) if STRING_ARRAYS.contains(&name) => Value::Array(
            text.split(',')
                .map(|item| opentelemetry::StringValue::from(item.trim().to_owned()))
                .collect::<Vec<_>>()
                .into(),
        ),
        _ => value(v),
    }
}

/// Builds the exported span.
pub(crate) fn span_data(span: EndedSpan<'_>, scope: &InstrumentationScope) -> SpanData {
    let EndedSpan {
        meta,
        context: ctx,
        fields,
        start,
        end,
    } = span;
    let kind = span_kind(fields);
    let mut attributes = Vec::with_capacity(8);
    let mut status = Status::Unset;
    for (name, v) in fields.iter() {
        if name == "otel.status_code" {
            if v.as_text().is_some_and(|s| s.eq_ignore_ascii_case("error")) {
                status = Status::error("");
            }
            continue;
        }
        if name.starts_with("otel.") {
            continue;
        }
        attributes.push(KeyValue::new(name, attribute(name, v)));
        if kind == SpanKind::Server {
            server_conventions(name, v, &mut attributes, &mut status);
        }
    }
    if let Some(id) = &ctx.x_request_id {
        attributes.push(KeyValue::new(X_REQUEST_ID, id.to_string()));
    }
    if let Some(file) = meta.file() {
        attributes.push(KeyValue::new("code.file.path", file));
    }
    if let Some(line) = meta.line() {
        attributes.push(KeyValue::new("code.line.number", i64::from(line)));
    }
    attributes.push(KeyValue::new("code.namespace", meta.target()));
    let trace_state = ctx
        .trace_state
        .as_deref()
        .and_then(|s| TraceState::from_str(s).ok())
        .unwrap_or_default();
    SpanData {
        span_context: opentelemetry::trace::SpanContext::new(
            to_otel_trace_id(ctx.trace_id),
            to_otel_span_id(ctx.span_id),
            opentelemetry::trace::TraceFlags::new(ctx.flags.0),
            false,
            trace_state,
        ),
        parent_span_id: ctx
            .parent_id
            .map_or(opentelemetry::trace::SpanId::INVALID, to_otel_span_id),
        parent_span_is_remote: ctx.remote_parent,
        span_kind: kind,
        name: Cow::Borrowed(meta.name()),
        start_time: start,
        end_time: end,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope.clone(),
    }
}

fn server_conventions(
    name: &str,
    v: &FieldValue,
    attributes: &mut Vec<KeyValue>,
    status: &mut Status,
) {
    match (name, v.as_text()) {
        ("method", Some(m)) => attributes.push(KeyValue::new("http.request.method", m.to_owned())),
        ("uri", Some(uri)) => {
            let (path, query) = uri
                .split_once('?')
                .map_or((uri, None), |(p, q)| (p, Some(q)));
            attributes.push(KeyValue::new("url.path", path.to_owned()));
            if let Some(q) = query {
                attributes.push(KeyValue::new("url.query", q.to_owned()));
            }
        }
        ("version", Some(version)) => attributes.push(KeyValue::new(
            "network.protocol.version",
            version.trim_start_matches("HTTP/").to_owned(),
        )),
        ("status", _) => {
            if let Value::I64(code) = value(v) {
                attributes.push(KeyValue::new("http.response.status_code", code));
                if code >= 500 {
                    *status = Status::error("");
                }
            }
        }
        _ => {}
    }
}

pub(crate) fn to_otel_trace_id(id: TraceId) -> opentelemetry::trace::TraceId {
    opentelemetry::trace::TraceId::from_bytes(id.to_u128().to_be_bytes())
}

pub(crate) fn to_otel_span_id(id: SpanId) -> opentelemetry::trace::SpanId {
    opentelemetry::trace::SpanId::from_bytes(id.to_u64().to_be_bytes())
}
