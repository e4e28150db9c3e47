//! One self-contained HTML page of the waterfall (`assets/waterfall.html`): the traces as JSON in
//! the page, drawn by its inline script; no request leaves it (its Content-Security-Policy
//! forbids any), so it opens from `file://`. Selecting a span shows its fields and lines;
//! `#span=<span_id>` in the address selects one on load.

use serde_json::{json, Value};

use crate::model::{Line, Span, Trace};

const TEMPLATE: &str = include_str!("../../assets/waterfall.html");

/// The page for these traces.
pub fn page(traces: &[Trace], processes: &[String]) -> String {
    let data = json!({
        "processes": processes,
        "traces": traces.iter().map(trace_json).collect::<Vec<_>>(),
    });
    // `<` only occurs inside JSON strings, where `\u003c` means the same: no `</script>` or
    // `<!--` in the data can end the script element early.
    let data = data.to_string().replace('<', "\\u003c");
    let title = traces
        .first()
        .map_or_else(String::new, |t| format!("trace {}", t.trace_id));
    TEMPLATE
        .replacen("{{TITLE}}", &title, 1)
        .replacen("{{DATA}}", &data, 1)
}

fn trace_json(trace: &Trace) -> Value {
    let t0 = trace.start_us;
    let line = |l: &Line, span: Option<&Span>| {
        json!({
            "t": l.time_us - t0, "level": l.level.as_str(), "message": l.message, "target": l.target,
            "fields": l.own_fields(span).map(|(k, v)| json!([k, v])).collect::<Vec<_>>(), "captured": l.captured,
        })
    };
    let spans: Vec<Value> = trace
        .spans
        .iter()
        .map(|s| {
            json!({
                "id": s.span_id, "parent": s.parent, "parent_id": s.parent_id, "depth": s.depth,
                "name": s.name, "process": s.process, "target": s.target, "level": s.level.as_str(),
                "start": s.start_us - t0, "end": s.end_us.max(s.start_us) - t0,
                "duration": s.duration_us, "busy": s.busy_us, "idle": s.idle_us,
                "marks": trace.mark_notes(s),
                "fields": s.fields.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "lines": s.lines.iter().map(|l| line(l, Some(s))).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "trace_id": trace.trace_id, "x_request_id": trace.x_request_id,
        "start": crate::time::format_micros(t0), "duration_us": trace.duration_us(),
        "errors": trace.errors, "processes": trace.processes, "spans": spans,
        "loose": trace.loose.iter().map(|l| line(l, None)).collect::<Vec<_>>(),
    })
}
