//! `list` and `show` as the binary runs them: read, select, write; the exit status of SPEC §12
//! (0; 1 when nothing matches; 2 for an unreadable file). Output goes to the writers given, so
//! tests run the commands without a process.

use std::{fs, io::Write, path::PathBuf};

use crate::{
    input::Inputs,
    model,
    read::Report,
    render::{chrome, html, list as table, otlp_json, terminal},
    summary,
};

/// Exit status: done.
pub const OK: u8 = 0;
/// Exit status: no trace matched.
pub const NOT_FOUND: u8 = 1;
/// Exit status: a bad flag or an unreadable (or unwritable) file.
pub const USAGE: u8 = 2;

/// What `list` was asked.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only traces with a 5xx, an `outcome` other than `ok`, or an ERROR line.
    pub failed: bool,
    /// The N slowest, slowest first.
    pub slowest: Option<usize>,
    /// Only the traces of this `x_request_id`.
    pub request_id: Option<String>,
    /// One JSON object per trace instead of the table.
    pub json: bool,
}

/// What `show` was asked.
#[derive(Debug, Clone)]
pub struct ShowOptions {
    /// A `trace_id` or an `x_request_id`.
    pub id: String,
    /// The waterfall's style (width, colour, lines).
    pub style: terminal::Style,
    /// Write the HTML page here.
    pub html: Option<PathBuf>,
    /// Write Chrome trace JSON here.
    pub chrome: Option<PathBuf>,
    /// Write OTLP/JSON here.
    pub otlp_json: Option<PathBuf>,
}

fn notes(report: &Report, err: &mut dyn Write) {
    for note in report.notes() {
        let _ = writeln!(err, "tracewire-trace: {note}");
    }
}

/// `tracewire-trace list FILE...`.
pub fn list(
    files: &[String],
    options: &ListOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let inputs = Inputs::new(files);
    let (traces, report) = match summary::summarize(&inputs) {
        Ok(read) => read,
        Err(e) => {
            let _ = writeln!(err, "tracewire-trace: {e}");
            return USAGE;
        }
    };
    notes(&report, err);
    let total = traces.len();
    let traces = summary::select(
        traces,
        options.failed,
        options.request_id.as_deref(),
        options.slowest,
    );
    let text = if options.json {
        table::json_lines(&traces)
    } else {
        table::table(&traces)
    };
    let _ = out.write_all(text.as_bytes());
    if let Some(id) = &options.request_id {
        if traces.is_empty() {
            let _ = writeln!(
                err,
                "tracewire-trace: no trace with x_request_id {id:?} among {total} traces"
            );
            return NOT_FOUND;
        }
    }
    OK
}

/// `tracewire-trace show ID FILE...`.
pub fn show(
    files: &[String],
    options: &ShowOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let inputs = Inputs::new(files);
    let (traces, report) = match model::select(&inputs, &options.id) {
        Ok(read) => read,
        Err(e) => {
            let _ = writeln!(err, "tracewire-trace: {e}");
            return USAGE;
        }
    };
    notes(&report, err);
    if traces.is_empty() {
        let _ = writeln!(
            err,
            "tracewire-trace: no trace has trace_id or x_request_id {:?} in {} lines of {} file{}",
            options.id,
            report.lines,
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        return NOT_FOUND;
    }
    let processes = &inputs.processes;
    let outputs: [(&Option<PathBuf>, &dyn Fn() -> String); 3] = [
        (&options.html, &|| html::page(&traces, processes)),
        (&options.chrome, &|| {
            chrome::chrome_trace(&traces, processes).to_string()
        }),
        (&options.otlp_json, &|| {
            otlp_json::export_request(&traces, processes).to_string()
        }),
    ];
    let mut wrote = false;
    for (path, render) in outputs {
        let Some(path) = path else { continue };
        wrote = true;
        if let Err(e) = fs::write(path, render()) {
            let _ = writeln!(err, "tracewire-trace: cannot write {}: {e}", path.display());
            return USAGE;
        }
        let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
        let _ = writeln!(
            err,
            "tracewire-trace: wrote {} ({spans} spans)",
            path.display()
        );
    }
    if !wrote {
        for (i, trace) in traces.iter().enumerate() {
            if i > 0 {
                let _ = writeln!(out);
            }
            let _ = out.write_all(terminal::waterfall(trace, processes, &options.style).as_bytes());
        }
    }
    OK
}
