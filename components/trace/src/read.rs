//! Reading every input once, line by line, and the account of what was skipped.

use std::{
    collections::BTreeMap,
    fmt, io,
    sync::{mpsc, Mutex},
    thread,
};

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

    fn end(&mut self, path: &str, end: input::ReadEnd, last_line: u64) {
        for _ in 0..end.too_long {
            self.skip(Skip::TooLong, path, last_line);
        }
        self.lines += end.lines;
        if end.cut_last_line {
            self.cut.push(path.to_owned());
        }
        if let Some(error) = end.error {
            self.stopped.push((path.to_owned(), error));
        }
    }
}

/// A block of whole lines on its way to a parsing thread: its file, its first line's number.
struct Block {
    file: usize,
    first_line: u64,
    bytes: Vec<u8>,
}

/// [`each_line`] on every core: one thread reads blocks of whole lines and hands them out;
/// `threads` threads parse, each into its own state made by `init`, which are returned (to be
/// merged: the lines of one trace may have gone to any of them). The state must not depend on
/// the order of lines.
pub fn each_line_parallel<S: Send>(
    inputs: &Inputs,
    threads: usize,
    init: impl Fn() -> S + Sync,
    line: impl Fn(&mut S, usize, &[u8]) -> Result<(), Skip> + Sync,
) -> Result<(Vec<S>, Report), Unreadable> {
    let (to_parse, blocks) = mpsc::sync_channel::<Block>(threads * 2);
    let (to_reuse, spent) = mpsc::channel::<Vec<u8>>();
    let blocks = Mutex::new(blocks);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (blocks, to_reuse, init, line) = (&blocks, to_reuse.clone(), &init, &line);
                scope.spawn(move || {
                    let mut state = init();
                    // (file, line, why) of each skipped line, merged into the report after.
                    let mut skipped: Vec<(usize, u64, Skip)> = Vec::new();
                    loop {
                        let next = blocks
                            .lock()
                            .map_err(|_| ())
                            .and_then(|rx| rx.recv().map_err(|_| ()));
                        let Ok(block) = next else { break };
                        let process = inputs.files[block.file].1;
                        for (i, bytes) in input::lines_of(&block.bytes).enumerate() {
                            if bytes.iter().all(u8::is_ascii_whitespace) {
                                continue;
                            }
                            if let Err(why) = line(&mut state, process, bytes) {
                                skipped.push((block.file, block.first_line + i as u64, why));
                            }
                        }
                        let _ = to_reuse.send(block.bytes);
                    }
                    (state, skipped)
                })
            })
            .collect();
        drop(to_reuse);
        let mut report = Report::default();
        let mut read = || -> Result<(), Unreadable> {
            for (file, (path, _)) in inputs.files.iter().enumerate() {
                let unreadable = |error| Unreadable {
                    path: path.clone(),
                    error,
                };
                let reader = input::open(path).map_err(unreadable)?;
                let mut lines = 0u64;
                let mut end = input::each_block(reader, |bytes| {
                    let mut buffer = spent.try_recv().unwrap_or_default();
                    buffer.clear();
                    buffer.extend_from_slice(bytes);
                    let first_line = lines + 1;
                    lines += memchr::memchr_iter(b'\n', bytes).count() as u64;
                    if !bytes.ends_with(b"\n") {
                        lines += 1;
                    }
                    let _ = to_parse.send(Block {
                        file,
                        first_line,
                        bytes: buffer,
                    });
                })
                .map_err(unreadable)?;
                end.lines = lines + end.too_long;
                report.end(path, end, lines);
            }
            Ok(())
        };
        let read = read();
        drop(to_parse);
        let mut states = Vec::new();
        let mut skipped = Vec::new();
        for worker in workers {
            let (state, mut skips) = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            states.push(state);
            skipped.append(&mut skips);
        }
        read?;
        skipped.sort_by_key(|(file, line, _)| (*file, *line));
        let first = report.first_skipped.take();
        for (file, line, why) in skipped {
            report.skip(why, &inputs.files[file].0, line);
        }
        // Lines too long were counted while reading; one parsed is named first if there is one.
        report.first_skipped = report.first_skipped.take().or(first);
        Ok((states, report))
    })
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
        report.end(path, end, n);
    }
    Ok(report)
}
