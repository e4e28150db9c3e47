//! The traces as one OTLP/JSON `ExportTraceServiceRequest`: one resource per process (its
//! `service.name`), each span with its ids in hex, its times as strings of Unix nanoseconds
//! (end = start + `time.duration_us`), its fields as attributes and its lines as events, as the
//! OTLP specification's JSON encoding has them.

use serde_json::{json, Value};

use crate::model::{Line, Span, Trace};

/// `SPAN_KIND_INTERNAL`, and `SPAN_KIND_SERVER` for a span entered from another process.
const INTERNAL: u8 = 1;
const SERVER: u8 = 2;
/// `STATUS_CODE_ERROR`.
const ERROR: u8 = 2;

/// The traces as one export request.
pub fn export_request(traces: &[Trace], processes: &[String]) -> Value {
    let mut by_process: Vec<Vec<Value>> = vec![Vec::new(); processes.len()];
    for trace in traces {
        for span in &trace.spans {
            by_process[span.process].push(span_json(trace, span));
        }
    }
    let resource_spans: Vec<Value> = by_process
        .into_iter()
        .enumerate()
        .filter(|(_, spans)| !spans.is_empty())
        .map(|(p, spans)| {
            json!({
                "resource": {"attributes": [attribute("service.name", &json!(processes[p]))]},
                "scopeSpans": [{"scope": {"name": "tracewire-trace", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
            })
        })
        .collect();
    json!({"resourceSpans": resource_spans})
}

fn nanos(micros: i64) -> String {
    (i128::from(micros) * 1000).to_string()
}

fn span_json(trace: &Trace, span: &Span) -> Value {
    let end = span.end_on_axis();
    let remote = span
        .parent
        .is_none_or(|p| trace.spans[p].process != span.process);
    let mut attributes: Vec<Value> = span.fields.iter().map(|(k, v)| attribute(k, v)).collect();
    for (key, value) in [
        ("tracewire.busy_us", span.busy_us),
        ("tracewire.idle_us", span.idle_us),
    ] {
        if let Some(v) = value {
            attributes.push(attribute(key, &json!(v)));
        }
    }
    let failed = span.fields.iter().any(|(k, v)| match k.as_str() {
        "outcome" => v.as_str().is_some_and(|o| o == "error"),
        "status" => v.as_u64().is_some_and(|s| s >= 500),
        _ => false,
    });
    let mut out = json!({
        "traceId": trace.trace_id,
        "spanId": span.span_id,
        "name": span.name,
        "kind": if remote && span.parent_id.is_some() { SERVER } else { INTERNAL },
        "startTimeUnixNano": nanos(span.start_us),
        "endTimeUnixNano": nanos(end),
        "attributes": attributes,
        "events": span.lines.iter().map(event).collect::<Vec<_>>(),
    });
    if let Some(parent) = &span.parent_id {
        out["parentSpanId"] = json!(parent);
    }
    if failed {
        out["status"] = json!({"code": ERROR});
    }
    out
}

fn event(line: &Line) -> Value {
    let mut attributes = vec![
        attribute("level", &json!(line.level.as_str())),
        attribute("target", &json!(line.target)),
    ];
    attributes.extend(line.fields.iter().map(|(k, v)| attribute(k, v)));
    json!({"timeUnixNano": nanos(line.time_us), "name": line.message, "attributes": attributes})
}

/// An OTLP `KeyValue`: integers as `intValue` (a string, as the JSON encoding of int64),
/// floats, booleans and strings as themselves, anything else as its JSON text.
fn attribute(key: &str, value: &Value) -> Value {
    let any = match value {
        Value::String(s) => json!({"stringValue": s}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_i64() || n.is_u64() && n.as_i64().is_some() => {
            json!({"intValue": n.to_string()})
        }
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": any})
}
