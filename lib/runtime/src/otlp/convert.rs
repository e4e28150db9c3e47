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

#[cfg(test)]
mod tests {
    use std::{
        sync::Arc,
        time::{Duration, SystemTime},
    };

    use opentelemetry::{trace::Status, Array, StringValue, Value};
    use tracing::{info_span, Metadata};
    use tracing_subscriber::registry;

    use super::*;
    use crate::trace::{SpanContext, TraceFlags};

    fn text(s: &str) -> FieldValue {
        FieldValue::Str(s.into())
    }

    #[test]
    fn field_values_become_attribute_values() {
        let cases = [
            (FieldValue::I64(-7), Value::I64(-7), "an i64"),
            (FieldValue::U64(7), Value::I64(7), "a u64 that fits"),
            (
                FieldValue::U64(u64::MAX),
                Value::String("18446744073709551615".into()),
                "a u64 past i64: its digits",
            ),
            (FieldValue::I128(-3), Value::I64(-3), "an i128 that fits"),
            (
                FieldValue::U128(u128::MAX),
                Value::String(u128::MAX.to_string().into()),
                "a u128 past i64: its digits",
            ),
            (FieldValue::F64(0.25), Value::F64(0.25), "a float"),
            (FieldValue::Bool(true), Value::Bool(true), "a bool"),
            (text("Qwen"), Value::String("Qwen".into()), "a str"),
            (
                FieldValue::Text("Some(3)".into()),
                Value::String("Some(3)".into()),
                "a Debug value",
            ),
            (
                FieldValue::Redacted,
                Value::String("[REDACTED]".into()),
                "a redacted field: never its value",
            ),
        ];
        for (field, want, reason) in cases {
            assert_eq!(value(&field), want, "{reason}");
        }
    }

    #[test]
    fn string_array_conventions_are_arrays() {
        let array = |items: &[&str]| {
            let items: Vec<StringValue> = items.iter().map(|s| (*s).to_owned().into()).collect();
            Value::Array(Array::String(items))
        };
        let reasons = "gen_ai.response.finish_reasons";
        for (name, field, want, reason) in [
            (reasons, text("stop"), array(&["stop"]), "one reason"),
            (
                reasons,
                text("stop, length"),
                array(&["stop", "length"]),
                "two, trimmed",
            ),
            (
                reasons,
                FieldValue::I64(1),
                Value::I64(1),
                "not text: as it is",
            ),
            (
                "finish",
                text("stop,length"),
                Value::String("stop,length".into()),
                "another name",
            ),
        ] {
            assert_eq!(attribute(name, &field), want, "{reason}");
        }
    }

    #[test]
    fn span_kinds_by_their_otel_kind_field() {
        for (kind, want) in [
            (Some("server"), SpanKind::Server),
            (Some("CLIENT"), SpanKind::Client),
            (Some("producer"), SpanKind::Producer),
            (Some("consumer"), SpanKind::Consumer),
            (Some("internal"), SpanKind::Internal),
            (Some("sideways"), SpanKind::Internal),
            (None, SpanKind::Internal),
        ] {
            let fields: SpanFields = kind.map(|k| ("otel.kind", text(k))).into_iter().collect();
            assert_eq!(span_kind(&fields), want, "{kind:?}");
        }
    }

    /// A real callsite's metadata: the span's name, target, file and line.
    fn metadata() -> &'static Metadata<'static> {
        tracing::subscriber::with_default(registry(), || {
            info_span!("http-request").metadata().expect("enabled")
        })
    }

    fn context(trace_state: Option<&str>) -> SpanContext {
        SpanContext {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            span_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            parent_id: SpanId::from_hex("b7ad6b7169203331"),
            flags: TraceFlags::SAMPLED,
            trace_state: trace_state.map(Arc::from),
            baggage: None,
            x_request_id: Some(Arc::from("req-1")),
            remote_parent: true,
        }
    }

    fn export(fields: &SpanFields, ctx: &SpanContext) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let span = EndedSpan {
            meta: metadata(),
            context: ctx,
            fields,
            start,
            end: start + Duration::from_millis(5),
        };
        span_data(span, &InstrumentationScope::builder("tracewire").build())
    }

    fn attr<'a>(data: &'a SpanData, key: &str) -> Option<&'a Value> {
        data.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    #[test]
    fn a_server_span_has_the_logged_ids_and_the_semantic_conventions() {
        let fields: SpanFields = [
            ("otel.kind", text("server")),
            ("method", text("POST")),
            ("uri", text("/v1/chat/completions?stream=1")),
            ("version", FieldValue::Text("HTTP/1.1".into())),
            ("status", FieldValue::U64(503)),
            ("api_key", FieldValue::Redacted),
        ]
        .into_iter()
        .collect();
        let ctx = context(Some("vendor=a,other=b"));
        let data = export(&fields, &ctx);
        let span = &data.span_context;
        assert_eq!(
            span.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(span.span_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(data.parent_span_id.to_string(), "b7ad6b7169203331");
        assert!(data.parent_span_is_remote && span.is_sampled());
        assert_eq!(span.trace_state().header(), "vendor=a,other=b");
        assert_eq!(
            (data.span_kind.clone(), data.name.as_ref()),
            (SpanKind::Server, "http-request")
        );
        let want = [
            ("http.request.method", Value::from("POST")),
            ("url.path", Value::from("/v1/chat/completions")),
            ("url.query", Value::from("stream=1")),
            ("network.protocol.version", Value::from("1.1")),
            ("http.response.status_code", Value::I64(503)),
            ("method", Value::from("POST")),
            ("api_key", Value::from("[REDACTED]")),
            ("x_request_id", Value::from("req-1")),
            ("code.namespace", Value::from(module_path!())),
        ];
        for (key, value) in want {
            assert_eq!(attr(&data, key), Some(&value), "{key}");
        }
        assert!(
            attr(&data, "otel.kind").is_none(),
            "otel.* steer, they are not exported"
        );
        assert!(
            attr(&data, "code.file.path").is_some() && attr(&data, "code.line.number").is_some()
        );
        assert_eq!(
            data.status,
            Status::error(""),
            "a 5xx server span is an error"
        );
        assert_eq!(
            data.end_time.duration_since(data.start_time).unwrap(),
            Duration::from_millis(5)
        );
    }

    #[test]
    fn status_and_trace_state_edge_cases() {
        let internal = |fields: &[(&'static str, FieldValue)], state: Option<&str>| {
            export(&fields.iter().cloned().collect(), &context(state))
        };
        let data = internal(&[("status", FieldValue::I64(503))], None);
        assert_eq!(data.status, Status::Unset, "only a server span maps status");
        assert!(attr(&data, "http.response.status_code").is_none());
        let data = internal(&[("otel.status_code", text("error"))], None);
        assert_eq!(
            data.status,
            Status::error(""),
            "otel.status_code=ERROR, any case"
        );
        let data = internal(
            &[("otel.status_code", text("OK"))],
            Some("not a tracestate"),
        );
        assert_eq!(data.status, Status::Unset);
        assert_eq!(
            data.span_context.trace_state().header(),
            "",
            "a bad tracestate is dropped"
        );
        let mut root = context(None);
        root.parent_id = None;
        root.remote_parent = false;
        let data = export(&SpanFields::default(), &root);
        assert_eq!(
            data.parent_span_id,
            opentelemetry::trace::SpanId::INVALID,
            "a root"
        );
        assert!(!data.parent_span_is_remote);
    }
}
