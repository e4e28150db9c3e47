//! `list`: one summary per trace, built in one pass over every line, holding per trace only its
//! ids, times and counts (never its lines).

use std::collections::{hash_map::Entry, HashMap, HashSet};

use serde::Serialize;

use crate::{
    input::Inputs,
    read::{self, Report, Unreadable},
    record::{Kind, Level, Record, Skip},
    time::format_micros,
};

/// One trace as `list` shows it (and `--json` writes it, SPEC §12).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// 32 hex digits.
    pub trace_id: String,
    /// The request's id, from the first line that has one.
    pub x_request_id: Option<String>,
    /// The first line's time, UTC RFC 3339.
    pub start: String,
    /// From the first line to the last.
    pub duration_us: i64,
    /// The processes (input files) it has lines in.
    pub processes: Vec<String>,
    /// Distinct spans.
    pub spans: usize,
    /// The HTTP status of the root span, when it recorded one.
    pub status: Option<u16>,
    /// The root span's `outcome`.
    pub outcome: Option<String>,
    /// ERROR lines.
    pub errors: u64,
    /// A 5xx, an `outcome` other than `ok` or an ERROR line anywhere in the trace.
    #[serde(skip)]
    pub failed: bool,
    /// The first line's time as Unix microseconds.
    #[serde(skip)]
    pub start_us: i64,
}

/// What one trace keeps while the lines stream by.
#[derive(Default)]
struct Acc {
    /// The request id of the earliest line that has one, and that line's time.
    x_request_id: Option<(i64, String)>,
    start_us: i64,
    end_us: i64,
    processes: Vec<usize>,
    /// (span, parent, created at) of each `SPAN_CREATED`, and the spans seen only closing.
    spans: Vec<(u64, Option<u64>, i64)>,
    closed_only: Vec<(u64, Option<u64>, i64)>,
    /// (span, status, outcome) of lines that carry either.
    results: Vec<(u64, Option<u16>, Option<String>)>,
    errors: u64,
    failed: bool,
}

/// The summaries of every trace in the input, oldest first, and the read's report.
pub fn summarize(inputs: &Inputs) -> Result<(Vec<TraceSummary>, Report), Unreadable> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let finder = memchr::memmem::Finder::new(b"\"trace_id\":\"");
    let route = |line: &[u8]| {
        // The trace id's first 16 hex digits pick the thread, so that a trace's summary is
        // built by one of them (not half by each, doubling the memory); a line without one
        // (another format, startup lines) may go anywhere.
        finder.find(line).map_or(0, |at| {
            let id = &line[at + 12..line.len().min(at + 28)];
            id.iter().fold(0usize, |h, &b| {
                h.wrapping_mul(31).wrapping_add(usize::from(b))
            })
        })
    };
    let (states, report) = read::each_line_parallel(
        inputs,
        threads,
        Summaries::default,
        route,
        Summaries::add_line,
    )?;
    let mut all = Summaries::default();
    for part in states {
        all.merge(part);
    }
    Ok((all.finish(&inputs.processes), report))
}

/// Traces being summarized, line by line; one per reading thread, merged at the end.
#[derive(Default)]
pub struct Summaries {
    traces: HashMap<u128, Acc>,
}

impl Summaries {
    /// Reads one line of `process` into its trace's summary.
    pub fn add_line(&mut self, process: usize, bytes: &[u8]) -> Result<(), Skip> {
        let r = Record::parse(bytes, false)?;
        add(&mut self.traces, process, &r);
        Ok(())
    }

    /// Adds what another reader summarized (lines of one trace may be in both).
    pub fn merge(&mut self, other: Summaries) {
        for (id, acc) in other.traces {
            match self.traces.entry(id) {
                Entry::Vacant(slot) => {
                    slot.insert(acc);
                }
                Entry::Occupied(mut slot) => slot.get_mut().merge(acc),
            }
        }
    }

    /// The summaries, oldest first; `processes` names the process indices given to
    /// [`add_line`](Self::add_line).
    pub fn finish(self, processes: &[String]) -> Vec<TraceSummary> {
        let mut out: Vec<TraceSummary> = self
            .traces
            .into_iter()
            .map(|(id, acc)| finish(id, acc, processes))
            .collect();
        out.sort_by(|a, b| (a.start_us, &a.trace_id).cmp(&(b.start_us, &b.trace_id)));
        out
    }
}

fn hex(text: &str) -> u128 {
    u128::from_str_radix(text, 16).unwrap_or_default()
}

fn add(traces: &mut HashMap<u128, Acc>, process: usize, r: &Record<'_>) {
    let Some(trace_id) = r.trace_id.as_deref() else {
        return;
    };
    let acc = traces.entry(hex(trace_id)).or_insert_with(|| Acc {
        start_us: r.time_us,
        end_us: r.time_us,
        ..Acc::default()
    });
    acc.start_us = acc.start_us.min(r.time_us);
    acc.end_us = acc.end_us.max(r.time_us);
    if !acc.processes.contains(&process) {
        acc.processes.push(process);
    }
    if let Some(id) = r.x_request_id.as_deref() {
        if acc
            .x_request_id
            .as_ref()
            .is_none_or(|(at, _)| r.time_us < *at)
        {
            acc.x_request_id = Some((r.time_us, id.to_owned()));
        }
    }
    if r.level == Level::Error {
        acc.errors += 1;
        acc.failed = true;
    }
    let span = r.span_id.as_deref().map(hex).unwrap_or_default() as u64;
    let parent = r.parent_id.as_deref().map(|p| hex(p) as u64);
    match r.kind() {
        Kind::Created => acc.spans.push((span, parent, r.time_us)),
        Kind::Closed => {
            let start = r.time_us - r.duration_us.unwrap_or(0) as i64;
            acc.closed_only.push((span, parent, start));
        }
        Kind::Event => {}
    }
    if r.status.is_some() || r.outcome.is_some() {
        let outcome = r.outcome.as_deref();
        acc.failed |= r.status.is_some_and(|s| s >= 500) || outcome.is_some_and(|o| o != "ok");
        acc.results
            .push((span, r.status, outcome.map(str::to_owned)));
    }
}

impl Acc {
    /// Adds what another thread read of the same trace.
    fn merge(&mut self, mut other: Acc) {
        self.start_us = self.start_us.min(other.start_us);
        self.end_us = self.end_us.max(other.end_us);
        if let Some((at, id)) = other.x_request_id {
            if self
                .x_request_id
                .as_ref()
                .is_none_or(|(mine, _)| at < *mine)
            {
                self.x_request_id = Some((at, id));
            }
        }
        for p in other.processes {
            if !self.processes.contains(&p) {
                self.processes.push(p);
            }
        }
        self.spans.append(&mut other.spans);
        self.closed_only.append(&mut other.closed_only);
        self.results.append(&mut other.results);
        self.errors += other.errors;
        self.failed |= other.failed;
    }
}

fn finish(id: u128, mut acc: Acc, processes: &[String]) -> TraceSummary {
    // Spans seen only by their SPAN_CLOSED (their SPAN_CREATED rotated away) count too.
    let created: HashSet<u64> = acc.spans.iter().map(|s| s.0).collect();
    acc.closed_only.retain(|c| !created.contains(&c.0));
    acc.closed_only.sort_unstable();
    acc.closed_only.dedup_by_key(|c| c.0);
    acc.spans.sort_unstable();
    acc.spans.dedup_by_key(|s| s.0);
    acc.spans.append(&mut acc.closed_only);
    let ids: HashSet<u64> = acc.spans.iter().map(|s| s.0).collect();
    // The root: the earliest span whose parent is not in the input.
    let root = acc
        .spans
        .iter()
        .filter(|(_, parent, _)| parent.is_none_or(|p| !ids.contains(&p)))
        .min_by_key(|(_, _, start)| *start)
        .map(|s| s.0);
    let (mut status, mut outcome) = (None, None);
    for (span, s, o) in acc.results {
        if Some(span) == root {
            status = s.or(status);
            outcome = o.or(outcome);
        }
    }
    acc.processes.sort_unstable();
    TraceSummary {
        trace_id: format!("{id:032x}"),
        x_request_id: acc.x_request_id.map(|(_, id)| id),
        start: format_micros(acc.start_us),
        duration_us: acc.end_us - acc.start_us,
        processes: acc
            .processes
            .iter()
            .map(|&p| processes.get(p).cloned().unwrap_or_default())
            .collect(),
        spans: acc.spans.len(),
        status,
        outcome,
        errors: acc.errors,
        failed: acc.failed,
        start_us: acc.start_us,
    }
}

/// `--failed`, `--request-id`, `--slowest N` applied in that order; `--slowest` orders the
/// slowest first.
pub fn select(
    mut traces: Vec<TraceSummary>,
    failed: bool,
    request_id: Option<&str>,
    slowest: Option<usize>,
) -> Vec<TraceSummary> {
    if failed {
        traces.retain(|t| t.failed);
    }
    if let Some(id) = request_id {
        traces.retain(|t| t.x_request_id.as_deref() == Some(id));
    }
    if let Some(n) = slowest {
        traces.sort_by(|a, b| {
            b.duration_us
                .cmp(&a.duration_us)
                .then(a.start_us.cmp(&b.start_us))
        });
        traces.truncate(n);
    }
    traces
}
