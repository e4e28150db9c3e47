//! Chrome Trace Event Format (`{"traceEvents":[…]}`), which Perfetto UI and `chrome://tracing`
//! open: one `pid` per process named by a `process_name` metadata event, each span an async
//! `b`/`e` pair keyed by its `span_id` (its fields as `args`), each line an instant event on the
//! process's `lines` thread, and a flow (`s` → `f`) from a parent in another process to its
//! child (see [`remote_call`]). Timestamps are Unix microseconds.

use serde_json::{json, Map, Value};

use crate::model::{Line, Span, Trace};

const LINES_TID: u64 = 1;

/// The traces as one Chrome trace.
pub fn chrome_trace(traces: &[Trace], processes: &[String]) -> Value {
    let mut events = Vec::new();
    let mut used: Vec<usize> = traces
        .iter()
        .flat_map(|t| t.processes.iter().copied())
        .collect();
    used.sort_unstable();
    used.dedup();
    for &p in &used {
        let pid = pid(p);
        events.push(json!({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": processes[p]}}));
        events.push(json!({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0, "args": {"sort_index": pid}}));
        events.push(json!({"ph": "M", "name": "thread_name", "pid": pid, "tid": LINES_TID, "args": {"name": "lines"}}));
    }
    let mut flow = 0u64;
    for trace in traces {
        for span in &trace.spans {
            let pid = pid(span.process);
            let end = span.end_on_axis();
            let mut args = fields(&span.fields);
            args.insert("trace_id".into(), json!(trace.trace_id));
            args.insert("span_id".into(), json!(span.span_id));
            if let Some(parent) = &span.parent_id {
                args.insert("parent_id".into(), json!(parent));
            }
            if let Some(busy) = span.busy_us {
                args.insert("time.busy_us".into(), json!(busy));
            }
            if span.marks.never_closed {
                args.insert("never_closed".into(), json!(true));
            }
            let common = json!({"cat": "span", "name": span.name, "id": span.span_id, "pid": pid, "tid": LINES_TID});
            events.push(with(
                &common,
                json!({"ph": "b", "ts": span.start_us, "args": args}),
            ));
            events.push(with(&common, json!({"ph": "e", "ts": end})));
            for line in &span.lines {
                events.push(instant(line, Some(&span.span_id)));
            }
            if let Some(parent) = span.parent.map(|i| &trace.spans[i]) {
                if parent.process != span.process {
                    flow += 1;
                    events.extend(remote_call(flow, parent, span));
                }
            }
        }
        for line in &trace.loose {
            events.push(instant(line, None));
        }
    }
    json!({"traceEvents": events, "displayTimeUnit": "ms"})
}

/// A flow from a parent to its child in another process. Perfetto and `chrome://tracing` bind
/// flow events only to slices on a thread track, never to async spans, so each end sits in a
/// 1 µs slice on its process's `lines` thread at the child's start: `call → child` in the
/// parent's process, `from parent` in the child's.
fn remote_call(flow: u64, parent: &Span, child: &Span) -> [Value; 4] {
    let ts = child.start_us;
    let (from, to) = (pid(parent.process), pid(child.process));
    let name = format!("{} → {}", parent.name, child.name);
    [
        json!({"ph": "X", "cat": "remote-parent", "name": format!("call → {}", child.name), "pid": from, "tid": LINES_TID, "ts": ts, "dur": 1,
            "args": {"span_id": parent.span_id, "child_span_id": child.span_id}}),
        json!({"ph": "X", "cat": "remote-parent", "name": format!("from {}", parent.name), "pid": to, "tid": LINES_TID, "ts": ts, "dur": 1,
            "args": {"span_id": child.span_id, "parent_id": parent.span_id}}),
        json!({"ph": "s", "id": flow, "cat": "remote-parent", "name": name, "pid": from, "tid": LINES_TID, "ts": ts}),
        json!({"ph": "f", "bp": "e", "id": flow, "cat": "remote-parent", "name": name, "pid": to, "tid": LINES_TID, "ts": ts}),
    ]
}

fn pid(process: usize) -> u64 {
    process as u64 + 1
}

fn with(common: &Value, extra: Value) -> Value {
    let mut event = common.clone();
    if let (Some(e), Value::Object(more)) = (event.as_object_mut(), extra) {
        e.extend(more);
    }
    event
}

fn fields(fields: &[(String, Value)]) -> Map<String, Value> {
    fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn instant(line: &Line, span: Option<&String>) -> Value {
    let mut args = fields(&line.fields);
    args.insert("level".into(), json!(line.level.as_str()));
    args.insert("target".into(), json!(line.target));
    if let Some(span) = span {
        args.insert("span_id".into(), json!(span));
    }
    if line.captured {
        args.insert("captured".into(), json!(true));
    }
    json!({"ph": "i", "s": "t", "cat": line.level.as_str(), "name": line.message,
        "pid": pid(line.process), "tid": LINES_TID, "ts": line.time_us, "args": args})
}
