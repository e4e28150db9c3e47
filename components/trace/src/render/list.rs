//! `list`'s table, and its `--json` lines.

use std::fmt::Write;

use crate::{summary::TraceSummary, time::human_duration};

/// One row per trace under a header: start (UTC), duration, status, outcome, spans,
/// processes, ERROR lines, then the ids (whole, to be copied into `show`).
pub fn table(traces: &[TraceSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<27} {:>8} {:>6} {:<12} {:>5} {:>5} {:>6}  {:<36} trace_id",
        "start (UTC)", "duration", "status", "outcome", "spans", "procs", "errors", "x_request_id"
    );
    for t in traces {
        let status = t.status.map_or_else(|| "-".to_owned(), |s| s.to_string());
        let _ = writeln!(
            out,
            "{:<27} {:>8} {:>6} {:<12} {:>5} {:>5} {:>6}  {:<36} {}",
            t.start,
            human_duration(t.duration_us),
            status,
            t.outcome.as_deref().unwrap_or("-"),
            t.spans,
            t.processes.len(),
            t.errors,
            t.x_request_id.as_deref().unwrap_or("-"),
            t.trace_id,
        );
    }
    out
}

/// One JSON object per trace (SPEC §12's keys).
pub fn json_lines(traces: &[TraceSummary]) -> String {
    let mut out = String::new();
    for t in traces {
        out.push_str(&serde_json::to_string(t).unwrap_or_default());
        out.push('\n');
    }
    out
}
