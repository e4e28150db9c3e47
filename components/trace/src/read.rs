//! Reading every input once, line by line, and the account of what was skipped.

use std::{collections::BTreeMap, fmt, io};

use crate::{
    input::{self, Inputs},
    record::Skip,
};

/// A file that could not be opened or read at all.
#[derive(Debug)]
pub struct Unreadable {
    /// The file as given.
    pub path: String,
    /// Why.
    pub error: io::Error,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path, self.error)
    }
}

impl std::error::Error for Unreadable {}

/// What the read met besides the lines it used.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// Lines read, in all inputs.
    pub lines: u64,
    /// Lines skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// The first skipped line: `file:line`.
    pub first_skipped: Option<String>,
    /// Files whose last line had no newline.
    pub cut: Vec<String>,
    /// Files whose read stopped on an error after some lines, and the error.
    pub stopped: Vec<(String, String)>,
}

impl Report {
    /// Lines skipped in all.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }

    /// The lines for stderr: one for skipped lines, one per file cut short. Empty when the
    /// input was clean.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        let total = self.skipped_total();
        if total > 0 {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect();
            notes.push(format!(
                "skipped {total} of {} lines that are not tracewire JSONL ({}; the first at {})",
                self.lines,
                reasons.join(", "),
                self.first_skipped.as_deref().unwrap_or("?")
            ));
        }
        for file in &self.cut {
            notes.push(format!(
                "{file}: the last line has no newline (the file was cut or is still being written)"
            ));
        }
        for (file, error) in &self.stopped {
            notes.push(format!("{file}: reading stopped early: {error}"));
        }
        notes
    }

    fn skip(&mut self, why: Skip, path: &str, line: u64) {
        *self.skipped.entry(why.to_string()).or_default() += 1;
        self.first_skipped
            .get_or_insert_with(|| format!("{path}:{line}"));
    }
}

/// Reads every input in order, calling `line(process, bytes)` for each line; an `Err` it returns
/// counts the line as skipped. Blank lines are neither used nor skipped.
pub fn each_line(
    inputs: &Inputs,
    mut line: impl FnMut(usize, &[u8]) -> Result<(), Skip>,
) -> Result<Report, Unreadable> {
    let mut report = Report::default();
    for (path, process) in &inputs.files {
        let unreadable = |error| Unreadable {
            path: path.clone(),
            error,
        };
        let reader = input::open(path).map_err(unreadable)?;
        let mut n = 0u64;
        let end = input::each_line(reader, |bytes| {
            n += 1;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            if let Err(why) = line(*process, bytes) {
                report.skip(why, path, n);
            }
        })
        .map_err(unreadable)?;
        for _ in 0..end.too_long {
            report.skip(Skip::TooLong, path, n);
        }
        report.lines += end.lines;
        if end.cut_last_line {
            report.cut.push(path.clone());
        }
        if let Some(error) = end.error {
            report.stopped.push((path.clone(), error));
        }
    }
    Ok(report)
}
