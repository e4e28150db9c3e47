//! Reading every input once, line by line, and the account of what was skipped.

use std::{collections::BTreeMap, fmt, io, sync::mpsc, thread};

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

/// Lines on their way to a parsing thread: their file, each line's number, the lines (each
/// ending in `\n`).
struct Block {
    file: usize,
    numbers: Vec<u64>,
    bytes: Vec<u8>,
}

/// What is sent to a parsing thread at once.
const BLOCK_BYTES: usize = 1 << 20;

/// [`each_line`] on every core: one thread reads and hands each line to the parsing thread
/// `route(line) % threads` picks (so that all the lines of one trace can go to one thread, and
/// its state is not split between them); `threads` threads parse, each into its own state
/// made by `init`. The states are returned to be merged (a route is a hint: a line it cannot
/// place may go anywhere).
pub fn each_line_parallel<S: Send>(
    inputs: &Inputs,
    threads: usize,
    init: impl Fn() -> S + Sync,
    route: impl Fn(&[u8]) -> usize,
    line: impl Fn(&mut S, usize, &[u8]) -> Result<(), Skip> + Sync,
) -> Result<(Vec<S>, Report), Unreadable> {
    let threads = threads.max(1);
    let (to_reuse, spent) = mpsc::channel::<Block>();
    thread::scope(|scope| {
        let mut senders = Vec::with_capacity(threads);
        let mut workers = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (to_parse, blocks) = mpsc::sync_channel::<Block>(2);
            senders.push(to_parse);
            let (to_reuse, init, line) = (to_reuse.clone(), &init, &line);
            workers.push(scope.spawn(move || {
                let mut state = init();
                // (file, line, why) of each skipped line, merged into the report after.
                let mut skipped: Vec<(usize, u64, Skip)> = Vec::new();
                while let Ok(block) = blocks.recv() {
                    let process = inputs.files[block.file].1;
                    for (bytes, &number) in input::lines_of(&block.bytes).zip(&block.numbers) {
                        if bytes.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        if let Err(why) = line(&mut state, process, bytes) {
                            skipped.push((block.file, number, why));
                        }
                    }
                    let _ = to_reuse.send(block);
                }
                (state, skipped)
            }));
        }
        drop(to_reuse);
        let mut report = Report::default();
        let mut read = || -> Result<(), Unreadable> {
            let fresh = |file| {
                let mut block = spent.try_recv().unwrap_or(Block {
                    file,
                    numbers: Vec::new(),
                    bytes: Vec::new(),
                });
                block.file = file;
                block.numbers.clear();
                block.bytes.clear();
                block
            };
            for (file, (path, _)) in inputs.files.iter().enumerate() {
                let unreadable = |error| Unreadable {
                    path: path.clone(),
                    error,
                };
                let reader = input::open(path).map_err(unreadable)?;
                let mut pending: Vec<Block> = (0..threads).map(|_| fresh(file)).collect();
                let mut lines = 0u64;
                let mut end = input::each_block(reader, |bytes| {
                    for raw in input::lines_of(bytes) {
                        lines += 1;
                        input::answer_lines(raw, |l| {
                            let to = route(l) % threads;
                            let block = &mut pending[to];
                            block.bytes.extend_from_slice(l);
                            block.bytes.push(b'\n');
                            block.numbers.push(lines);
                            if block.bytes.len() >= BLOCK_BYTES {
                                let full = std::mem::replace(block, fresh(file));
                                let _ = senders[to].send(full);
                            }
                        });
                    }
                })
                .map_err(unreadable)?;
                for (to, block) in pending.into_iter().enumerate() {
                    if !block.numbers.is_empty() {
                        let _ = senders[to].send(block);
                    }
                }
                end.lines = lines + end.too_long;
                report.end(path, end, lines);
            }
            Ok(())
        };
        let read = read();
        drop(senders);
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
            input::answer_lines(bytes, |l| {
                if let Err(why) = line(*process, l) {
                    report.skip(why, path, n);
                }
            });
        })
        .map_err(unreadable)?;
        report.end(path, end, n);
    }
    Ok(report)
}
