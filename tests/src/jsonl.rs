//! Reading what the processes wrote: JSON lines parsed into typed lines, and the shared JSONL
//! checker of docs/SPEC.md §3-4 run over log files.

use std::{path::Path, process::Command};

use serde_json::{Map, Value};

use crate::{parse_line, repo_root, Line};

/// Parses every non-empty line as a tracewire JSONL line (panicking, with the line, on one
/// that is not: see [`parse_line`]).
pub fn json_lines(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_line)
        .collect()
}

/// Parses every non-empty line as a JSON object (for files that are not tracewire lines).
pub fn json_objects(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect()
}

/// Runs `tests/tools/check-jsonl.py` (a copy of the shared checker of docs/SPEC.md §3-4) over
/// files of processes that have exited; returns its summary line, panicking with its report if
/// it finds a violation, a span never closed included.
pub fn check_jsonl(files: &[&Path]) -> String {
    run_checker(files, false)
}

/// [`check_jsonl`] for output cut on purpose (a process killed, or still running): spans left
/// open are counted, not violations.
pub fn check_jsonl_allow_open(files: &[&Path]) -> String {
    run_checker(files, true)
}

fn run_checker(files: &[&Path], allow_open: bool) -> String {
    let checker = repo_root().join("tests/tools/check-jsonl.py");
    let output = Command::new("python3")
        .arg(&checker)
        .args(allow_open.then_some("--allow-open"))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", checker.display()));
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "check-jsonl found violations:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    report.lines().next().unwrap_or_default().to_owned()
}

/// Finds the lines of a log with this message (and span name, if given).
pub fn lines_with<'a>(lines: &'a [Line], message: &str, span: Option<&str>) -> Vec<&'a Line> {
    lines
        .iter()
        .filter(|o| o.message == message)
        .filter(|o| span.is_none() || o.span_name.as_deref() == span)
        .collect()
}

/// The one line with this message of span `span` in trace `trace_id`.
pub fn span_event<'a>(lines: &'a [Line], message: &str, span: &str, trace_id: &str) -> &'a Line {
    let found: Vec<_> = lines_with(lines, message, Some(span))
        .into_iter()
        .filter(|o| o.trace_id.as_deref() == Some(trace_id))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {message} of {span} in trace {trace_id}: {found:?}"
    );
    found[0]
}
