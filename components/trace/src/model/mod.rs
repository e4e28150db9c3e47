//! Lines → spans → traces: the lines of one request, from any number of processes, joined by
//! their ids into a tree on one time axis.
//!
//! Nothing in the input is dropped without a mark: a span never closed, one whose
//! `SPAN_CREATED` is not in the input, a parent not in the input, a child that starts before
//! its parent (clock skew between hosts), and parent links that loop are each kept and marked.

use std::{
    collections::{HashMap, HashSet},
    hash::{DefaultHasher, Hash, Hasher},
};

use serde_json::Value;

use crate::{
    input::Inputs,
    read::{self, Report, Unreadable},
    record::{Kind, Level, Record, Skip},
    time::human_duration,
};

/// One line inside a trace.
#[derive(Debug, Clone)]
pub struct Line {
    /// The process (index into [`Inputs::processes`]).
    pub process: usize,
    /// Unix microseconds.
    pub time_us: i64,
    /// Its level.
    pub level: Level,
    /// Its target.
    pub target: String,
    /// Its message.
    pub message: String,
    /// Its other keys, in line order.
    pub fields: Vec<(String, Value)>,
    /// Written by capture on failure.
    pub captured: bool,
}

/// What is unusual about a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    /// No `SPAN_CLOSED` in the input: the process stopped (or its output was cut) first.
    pub never_closed: bool,
    /// No `SPAN_CREATED` in the input; its start is its close less its duration.
    pub no_created: bool,
    /// It names a parent that is not in the input (an upstream caller, a file not given).
    pub parent_missing: bool,
    /// It starts before its parent: the clocks of two hosts disagree.
    pub before_parent: bool,
    /// Its parent links loop back to it; shown at the top.
    pub parent_loop: bool,
}

/// A span of a trace.
#[derive(Debug, Clone)]
pub struct Span {
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's id, in the input or not.
    pub parent_id: Option<String>,
    /// Index of the parent in [`Trace::spans`], when it is in the input.
    pub parent: Option<usize>,
    /// Nesting depth in the waterfall, 0 at the top.
    pub depth: usize,
    /// `span_name`.
    pub name: String,
    /// The process it ran in.
    pub process: usize,
    /// Its target and level, from its span lines.
    pub target: String,
    /// The level of its span lines.
    pub level: Level,
    /// Created, Unix microseconds.
    pub start_us: i64,
    /// Closed; for a span never closed, its last line or its last child's end.
    pub end_us: i64,
    /// `time.busy_us`, when it closed.
    pub busy_us: Option<u64>,
    /// `time.idle_us`, when it closed.
    pub idle_us: Option<u64>,
    /// `time.duration_us`, when it closed.
    pub duration_us: Option<u64>,
    /// Its fields: those of `SPAN_CLOSED` (with everything recorded later), else `SPAN_CREATED`.
    pub fields: Vec<(String, Value)>,
    /// The events inside it (it is their innermost span), in time order.
    pub lines: Vec<Line>,
    /// What is unusual about it.
    pub marks: Marks,
}

/// One trace: its spans in waterfall order (each parent before its children, siblings by start).
#[derive(Debug, Clone)]
pub struct Trace {
    /// 32 hex digits.
    pub trace_id: String,
    /// The request id of its first line that has one.
    pub x_request_id: Option<String>,
    /// The spans, depth first.
    pub spans: Vec<Span>,
    /// Lines with this trace id but no span id (other producers), in time order.
    pub loose: Vec<Line>,
    /// The earliest span start or line, Unix microseconds.
    pub start_us: i64,
    /// The latest span end or line.
    pub end_us: i64,
    /// ERROR lines.
    pub errors: usize,
    /// The processes it has lines in (indices into [`Inputs::processes`]), in first-seen order.
    pub processes: Vec<usize>,
}

/// The traces `id` names (a `trace_id`, or an `x_request_id` whose lines may span several
/// traces), oldest first, read in one pass. A line is parsed only if its bytes contain `id`, so
/// memory and time beyond the scan go to the asked-for lines only.
pub fn select(inputs: &Inputs, id: &str) -> Result<(Vec<Trace>, Report), Unreadable> {
    let finder = memchr::memmem::Finder::new(id.as_bytes());
    let mut kept: Vec<(usize, Record<'static>)> = Vec::new();
    let mut seen = HashSet::new();
    let report = read::each_line(inputs, |process, bytes| {
        if finder.find(bytes).is_none() {
            // Lines not asked for are not parsed; only what is plainly not a JSON object is
            // counted as skipped.
            let trimmed = bytes.trim_ascii();
            return match (trimmed.first(), trimmed.last()) {
                (Some(b'{'), Some(b'}')) => Ok(()),
                _ => Err(Skip::NotJson),
            };
        }
        let r = Record::parse(bytes, true)?;
        let asked = r.trace_id.as_deref() == Some(id) || r.x_request_id.as_deref() == Some(id);
        // The same file given twice (or a collector's copy beside the original) adds nothing.
        if asked && seen.insert(digest(process, bytes)) {
            kept.push((process, r.into_owned()));
        }
        Ok(())
    })?;
    Ok((build(kept), report))
}

fn digest(process: usize, bytes: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    (process, bytes).hash(&mut h);
    h.finish()
}

/// Builds the traces of these lines, oldest first.
pub fn build(records: Vec<(usize, Record<'static>)>) -> Vec<Trace> {
    let mut by_trace: HashMap<String, Vec<(usize, Record<'static>)>> = HashMap::new();
    for (process, r) in records {
        if let Some(id) = r.trace_id.clone() {
            by_trace
                .entry(id.into_owned())
                .or_default()
                .push((process, r));
        }
    }
    let mut traces: Vec<Trace> = by_trace
        .into_iter()
        .map(|(id, rs)| build_one(id, rs))
        .collect();
    traces.sort_by(|a, b| (a.start_us, &a.trace_id).cmp(&(b.start_us, &b.trace_id)));
    traces
}

/// A span as its lines arrive.
struct Partial {
    span: Span,
    created: bool,
    closed: bool,
}

fn line_of(process: usize, r: Record<'static>) -> Line {
    Line {
        process,
        time_us: r.time_us,
        level: r.level,
        target: r.target.into_owned(),
        message: r.message.into_owned(),
        fields: own_fields(r.fields),
        captured: r.captured,
    }
}

fn own_fields(fields: Vec<(std::borrow::Cow<'static, str>, Value)>) -> Vec<(String, Value)> {
    fields
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v))
        .collect()
}

fn build_one(trace_id: String, mut records: Vec<(usize, Record<'static>)>) -> Trace {
    // Time order; a span's own lines keep their order within a process when times tie.
    records.sort_by_key(|(_, r)| r.time_us);
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut parts: Vec<Partial> = Vec::new();
    let mut loose = Vec::new();
    let mut processes = Vec::new();
    let mut x_request_id = None;
    let mut errors = 0;
    for (process, r) in records {
        if !processes.contains(&process) {
            processes.push(process);
        }
        if x_request_id.is_none() {
            x_request_id = r.x_request_id.as_deref().map(str::to_owned);
        }
        errors += usize::from(r.level == Level::Error);
        let Some(span_id) = r.span_id.as_deref().map(str::to_owned) else {
            loose.push(line_of(process, r));
            continue;
        };
        let at = *index.entry(span_id.clone()).or_insert_with(|| {
            parts.push(Partial {
                span: Span {
                    span_id,
                    parent_id: r.parent_id.as_deref().map(str::to_owned),
                    parent: None,
                    depth: 0,
                    name: r.span_name.as_deref().unwrap_or("?").to_owned(),
                    process,
                    target: r.target.to_string(),
                    level: r.level,
                    start_us: r.time_us,
                    end_us: r.time_us,
                    busy_us: None,
                    idle_us: None,
                    duration_us: None,
                    fields: Vec::new(),
                    lines: Vec::new(),
                    marks: Marks::default(),
                },
                created: false,
                closed: false,
            });
            parts.len() - 1
        });
        let part = &mut parts[at];
        let span = &mut part.span;
        span.end_us = span.end_us.max(r.time_us);
        match r.kind() {
            Kind::Created if !part.created => {
                part.created = true;
                span.start_us = r.time_us;
                span.process = process;
                span.level = r.level;
                span.target = r.target.into_owned();
                if span.fields.is_empty() {
                    span.fields = own_fields(r.fields);
                }
            }
            Kind::Closed if !part.closed => {
                part.closed = true;
                span.busy_us = r.busy_us;
                span.idle_us = r.idle_us;
                span.duration_us = r.duration_us;
                if !part.created {
                    span.start_us = r.time_us - r.duration_us.unwrap_or(0) as i64;
                    span.process = process;
                    span.level = r.level;
                }
                span.fields = own_fields(r.fields);
            }
            // A second SPAN_CREATED or SPAN_CLOSED of one span (two processes' ids collide,
            // or a file given under two names) is shown as a line of the span.
            _ => span.lines.push(line_of(process, r)),
        }
    }
    let mut spans: Vec<Span> = parts
        .into_iter()
        .map(|p| {
            let mut span = p.span;
            span.marks.no_created = !p.created;
            span.marks.never_closed = !p.closed;
            span
        })
        .collect();
    link(&mut spans, &index);
    let start_us = spans
        .iter()
        .map(|s| s.start_us)
        .chain(loose.iter().map(|l| l.time_us))
        .min()
        .unwrap_or_default();
    let end_us = spans
        .iter()
        .map(|s| s.end_us)
        .chain(loose.iter().map(|l| l.time_us))
        .max()
        .unwrap_or_default();
    Trace {
        trace_id,
        x_request_id,
        spans,
        loose,
        start_us,
        end_us,
        errors,
        processes,
    }
}

/// Links parents, extends spans never closed over their children, marks skew, and puts the
/// spans in waterfall order.
fn link(spans: &mut Vec<Span>, index: &HashMap<String, usize>) {
    let n = spans.len();
    let mut parent: Vec<Option<usize>> = spans
        .iter()
        .map(|s| s.parent_id.as_ref().and_then(|p| index.get(p).copied()))
        .collect();
    for (s, span) in spans.iter_mut().enumerate() {
        span.marks.parent_missing = span.parent_id.is_some() && parent[s].is_none();
    }
    // Links that loop never reach a top span: break each loop at the span met first.
    let mut state = vec![0u8; n]; // 0 unseen, 1 on the current path, 2 done
    for start in 0..n {
        let mut path = Vec::new();
        let mut at = Some(start);
        while let Some(s) = at {
            match state[s] {
                2 => break,
                1 => {
                    parent[s] = None;
                    spans[s].marks.parent_loop = true;
                    break;
                }
                _ => {
                    state[s] = 1;
                    path.push(s);
                    at = parent[s];
                }
            }
        }
        for s in path {
            state[s] = 2;
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut tops = Vec::new();
    for (s, up) in parent.iter().enumerate() {
        match up {
            Some(p) => children[*p].push(s),
            None => tops.push(s),
        }
    }
    let by_start = |list: &mut Vec<usize>, spans: &[Span]| {
        list.sort_by_key(|&s| (spans[s].start_us, spans[s].span_id.clone()));
    };
    by_start(&mut tops, spans);
    for list in &mut children {
        by_start(list, spans);
    }
    // Depth first without recursion (a chain of spans may be as deep as the input is long).
    let mut order = Vec::with_capacity(n);
    let mut depth = vec![0usize; n];
    let mut stack: Vec<usize> = tops.iter().rev().copied().collect();
    while let Some(s) = stack.pop() {
        order.push(s);
        for &c in children[s].iter().rev() {
            depth[c] = depth[s] + 1;
            stack.push(c);
        }
    }
    // A span never closed lasts at least as long as its children: bottom up.
    for &s in order.iter().rev() {
        if let Some(p) = parent[s] {
            if spans[p].marks.never_closed {
                spans[p].end_us = spans[p].end_us.max(spans[s].end_us);
            }
            spans[s].marks.before_parent = spans[s].start_us < spans[p].start_us;
        }
    }
    let mut position = vec![0usize; n];
    for (i, &s) in order.iter().enumerate() {
        position[s] = i;
    }
    let mut old: Vec<Option<Span>> = std::mem::take(spans).into_iter().map(Some).collect();
    for &s in &order {
        let mut span = old[s].take().expect("each span once in the order");
        span.depth = depth[s];
        span.parent = parent[s].map(|p| position[p]);
        span.lines.sort_by_key(|l| l.time_us);
        spans.push(span);
    }
}

/// Keys of a line that views leave out: where it was written, its span's name, and the
/// `captured` mark (shown as a mark).
const NOT_SHOWN: [&str; 4] = ["file", "line", "span_name", "captured"];

impl Line {
    /// The fields worth showing under its span: not those the span already shows (span fields
    /// repeat on every line inside it), nor where it was written.
    pub fn own_fields<'a>(
        &'a self,
        span: Option<&'a Span>,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> {
        let span_fields = span.map(|s| s.fields.as_slice()).unwrap_or_default();
        self.fields
            .iter()
            .filter(|(k, _)| !NOT_SHOWN.contains(&k.as_str()))
            .filter(move |(k, v)| !span_fields.iter().any(|(sk, sv)| sk == k && sv == v))
            .map(|(k, v)| (k.as_str(), v))
    }
}

impl Span {
    /// Where the span ends on the axis: start + `time.duration_us` when it closed (exactly the
    /// input's duration), else its last line or child ([`Span::end_us`]).
    pub fn end_on_axis(&self) -> i64 {
        self.duration_us
            .map_or(self.end_us, |d| self.start_us + d as i64)
    }
}

impl Trace {
    /// What is unusual about `span`, in words, as every view says it.
    pub fn mark_notes(&self, span: &Span) -> Vec<String> {
        let m = span.marks;
        let mut said = Vec::new();
        if m.never_closed {
            said.push(
                "never closed (no SPAN_CLOSED: the process stopped or its output was cut)"
                    .to_owned(),
            );
        }
        if m.no_created {
            said.push("no SPAN_CREATED in the input (start = close - duration)".to_owned());
        }
        if m.parent_missing {
            let parent = span.parent_id.as_deref().unwrap_or("?");
            said.push(format!("parent {parent} not in the input"));
        }
        if m.before_parent {
            let early = span
                .parent
                .map_or(0, |p| self.spans[p].start_us - span.start_us);
            said.push(format!(
                "starts {} before its parent: clock skew between hosts?",
                human_duration(early)
            ));
        }
        if m.parent_loop {
            said.push("its parent links loop back to it".to_owned());
        }
        said
    }

    /// Its length on the time axis, at least 1µs.
    pub fn duration_us(&self) -> i64 {
        (self.end_us - self.start_us).max(1)
    }
}

#[cfg(test)]
mod tests;
