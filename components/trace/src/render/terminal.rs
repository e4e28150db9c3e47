//! The waterfall in the terminal: one row per span on a common time axis, its lines beneath it.
//!
//! ```text
//! trace 1a36fea12abb735cba6172052dc870f3  x_request_id abc-1
//! 2026-12-03T17:02:58.301160Z  10.5ms  2 spans in 2 processes  0 errors
//! span                   process     offset duration busy |0                10.5ms|
//! http-request           frontend   +0.000ms   10.5ms  28% |██████████████████████|
//!   handle_payload       worker     +6.017ms   3.19ms  24% |            ██████    |
//!       +7.03ms INFO  generating prompt_tokens=2 max_tokens=4
//! ```

use std::fmt::Write;

use serde_json::Value;

use crate::{
    model::{Line, Span, Trace},
    record::Level,
    time::{format_micros, human_duration},
};

/// How the waterfall is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colour.
    pub color: bool,
    /// Columns; span rows fill exactly this many (60 at least).
    pub width: usize,
    /// Each span's lines beneath it.
    pub lines: bool,
    /// Cut line rows to the width too (on a terminal; a pipe gets them whole).
    pub cut_lines: bool,
}

const NAME: usize = 22;
const PROCESS: usize = 9;
/// Everything on a span row but the name, the process and the bar.
const FIXED: usize = 1 + 1 + 8 + 1 + 8 + 1 + 4 + 1 + 2;

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const PROCESS_COLORS: [&str; 6] = [
    "\x1b[36m", "\x1b[35m", "\x1b[32m", "\x1b[34m", "\x1b[33m", "\x1b[91m",
];

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, out: &mut String, code: &str, text: &str) {
        if self.color {
            let _ = write!(out, "{code}{text}{RESET}");
        } else {
            out.push_str(text);
        }
    }
}

/// The waterfall of one trace.
pub fn waterfall(trace: &Trace, processes: &[String], style: &Style) -> String {
    let width = style.width.max(60);
    let bar = width - NAME - PROCESS - FIXED;
    let p = Painter { color: style.color };
    let mut out = String::new();
    let total = trace.duration_us();

    p.paint(&mut out, BOLD, &format!("trace {}", trace.trace_id));
    if let Some(id) = &trace.x_request_id {
        let _ = write!(out, "  x_request_id {id}");
    }
    out.push('\n');
    let used: Vec<&str> = trace
        .processes
        .iter()
        .map(|&i| processes[i].as_str())
        .collect();
    let _ = writeln!(
        out,
        "{}  {}  {} span{} in {} process{} ({})  {} error{}",
        format_micros(trace.start_us),
        human_duration(total),
        trace.spans.len(),
        plural(trace.spans.len()),
        used.len(),
        if used.len() == 1 { "" } else { "es" },
        used.join(", "),
        trace.errors,
        plural(trace.errors),
    );
    let end_label = human_duration(total);
    let axis = format!("0{end_label:>w$}", w = bar - 1);
    let _ = writeln!(
        out,
        "{:<NAME$} {:<PROCESS$} {:>8} {:>8} {:>4} |{axis}|",
        "span", "process", "offset", "duration", "busy"
    );

    for span in &trace.spans {
        row(&mut out, &p, trace, span, processes, bar, total);
        marks(&mut out, &p, trace, span);
        if style.lines {
            for line in &span.lines {
                line_row(
                    &mut out,
                    &p,
                    trace,
                    span.depth + 2,
                    line,
                    Some(span),
                    style,
                    width,
                );
            }
        }
    }
    if !trace.loose.is_empty() {
        let _ = writeln!(out, "lines with this trace's id but no span:");
        for line in &trace.loose {
            line_row(&mut out, &p, trace, 1, line, None, style, width);
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Cuts `text` to `max` characters, marking the cut with `…`.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

fn row(
    out: &mut String,
    p: &Painter,
    trace: &Trace,
    span: &Span,
    processes: &[String],
    bar: usize,
    total: i64,
) {
    let indent = "  ".repeat(span.depth.min(8));
    let name = fit(&format!("{indent}{}", span.name), NAME);
    let process = fit(&processes[span.process], PROCESS);
    let offset = format!("+{}", human_duration(span.start_us - trace.start_us));
    let length = span.end_us - span.start_us;
    let duration = match span.duration_us {
        Some(d) => human_duration(d as i64),
        None => format!("≥{}", human_duration(length)),
    };
    let busy = match (span.busy_us, span.duration_us) {
        (Some(b), Some(d)) if d > 0 => format!("{}%", (b * 100 / d).min(100)),
        _ => "-".to_owned(),
    };
    let _ = write!(out, "{name:<NAME$} ");
    let color = PROCESS_COLORS[span.process % PROCESS_COLORS.len()];
    p.paint(out, color, &format!("{process:<PROCESS$}"));
    // Times of a trace spanning days (or clocks years apart) still fit their columns.
    let (offset, duration) = (fit(&offset, 8), fit(&duration, 8));
    let _ = write!(out, " {offset:>8} {duration:>8} {busy:>4} |");
    let scale = |t: i64| ((t - trace.start_us) as f64 / total as f64 * bar as f64).round() as usize;
    let from = scale(span.start_us).min(bar - 1);
    let to = scale(span.end_us).clamp(from + 1, bar);
    let fill = if span.marks.never_closed {
        "▒"
    } else {
        "█"
    };
    out.push_str(&" ".repeat(from));
    p.paint(out, color, &fill.repeat(to - from));
    out.push_str(&" ".repeat(bar - to));
    out.push_str("|\n");
}

fn marks(out: &mut String, p: &Painter, trace: &Trace, span: &Span) {
    for text in trace.mark_notes(span) {
        let _ = write!(out, "{}", "  ".repeat(span.depth.min(8) + 1));
        p.paint(out, RED, &format!("! {text}"));
        out.push('\n');
    }
}

#[allow(clippy::too_many_arguments)]
fn line_row(
    out: &mut String,
    p: &Painter,
    trace: &Trace,
    depth: usize,
    line: &Line,
    span: Option<&Span>,
    style: &Style,
    width: usize,
) {
    let mut text = format!(
        "{}{:>8} {:<5} {}",
        "  ".repeat(depth.min(10)),
        format!("+{}", human_duration(line.time_us - trace.start_us)),
        line.level.as_str(),
        line.message
    );
    for (key, value) in line.own_fields(span) {
        let _ = write!(text, " {key}={}", value_text(value));
    }
    if line.captured {
        text.push_str(" [captured]");
    }
    if style.cut_lines {
        text = fit(&text, width);
    }
    let code = match line.level {
        Level::Error => RED,
        Level::Warn => YELLOW,
        Level::Info => "",
        Level::Debug | Level::Trace => DIM,
    };
    if code.is_empty() {
        out.push_str(&text);
    } else {
        p.paint(out, code, &text);
    }
    out.push('\n');
}

/// A value as `key=value` shows it: strings bare unless they hold spaces, others as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) if !s.is_empty() && !s.contains([' ', '"', '=']) => s.clone(),
        other => other.to_string(),
    }
}
