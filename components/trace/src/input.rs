//! Inputs as operators have them: files (plain or gzip, rotated or not), `-` for standard input,
//! read as a stream of lines in fixed memory; and the process each file belongs to.
//!
//! A process is an input file, except that the rotated files of one log (`worker.jsonl`,
//! `worker.jsonl.1`, `worker.jsonl.2.gz`) are one process. Gzip is recognised by its magic
//! bytes, not its name, and concatenated members (what `logrotate` and `cat a.gz b.gz` make) are
//! read through.

use std::{
    fs::File,
    io::{self, BufRead, BufReader, Read},
    path::Path,
};

use flate2::bufread::MultiGzDecoder;

/// The longest line held; a longer one is skipped (and counted) without being buffered.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// What is read at once.
const CHUNK: usize = 1 << 20;

/// The files given, and the processes they belong to.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Each file or `-`, with the index of its process in `processes`.
    pub files: Vec<(String, usize)>,
    /// Process names, in the order their first file was given.
    pub processes: Vec<String>,
}

impl Inputs {
    /// Groups the paths into processes by their names without rotation suffixes.
    pub fn new(paths: &[String]) -> Inputs {
        let mut keys: Vec<String> = Vec::new();
        let mut files = Vec::with_capacity(paths.len());
        for path in paths {
            let key = process_key(path);
            let index = keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                keys.push(key);
                keys.len() - 1
            });
            files.push((path.clone(), index));
        }
        let processes = display_names(&keys);
        Inputs { files, processes }
    }
}

/// The path without what rotation and compression add: `.gz`, then a numeric `.N`, then one of
/// the extensions a log has (`.jsonl`, `.json`, `.ndjson`, `.log`).
fn process_key(path: &str) -> String {
    if path == "-" {
        return "stdin".to_owned();
    }
    let mut key = path.strip_suffix(".gz").unwrap_or(path);
    if let Some((head, tail)) = key.rsplit_once('.') {
        if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) {
            key = head;
        }
    }
    for ext in [".jsonl", ".ndjson", ".json", ".log"] {
        if let Some(head) = key.strip_suffix(ext) {
            key = head;
            break;
        }
    }
    key.to_owned()
}

/// Each key's file name, or its whole path where two keys share a file name.
fn display_names(keys: &[String]) -> Vec<String> {
    let base = |k: &String| {
        Path::new(k)
            .file_name()
            .map_or_else(|| k.clone(), |n| n.to_string_lossy().into_owned())
    };
    keys.iter()
        .map(|k| {
            let name = base(k);
            if keys.iter().filter(|o| base(o) == name).count() > 1 {
                k.clone()
            } else {
                name
            }
        })
        .collect()
}

/// Opens a file (or standard input for `-`), decompressing gzip.
pub fn open(path: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    let mut reader = BufReader::with_capacity(CHUNK, raw);
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(CHUNK, MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    })
}

/// How a read ended, besides its lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadEnd {
    /// Lines read (each passed to the callback, but for those too long).
    pub lines: u64,
    /// Lines longer than [`MAX_LINE_BYTES`], skipped.
    pub too_long: u64,
    /// The last line had no `\n`: a process stopped mid-line, or a file cut.
    pub cut_last_line: bool,
    /// The read stopped on an error after some lines (a truncated gzip file): what it said.
    pub error: Option<String>,
}

/// Calls `block` with the input in blocks of whole lines, each ending in `\n` but for a last
/// line without one, holding at most [`MAX_LINE_BYTES`] plus one read's worth: a longer line
/// is dropped as it streams by and counted. An error before the first byte is returned; one
/// later (a gzip stream cut short) ends the read and is reported in [`ReadEnd::error`].
/// [`ReadEnd::lines`] is left for the caller to count.
pub fn each_block(mut reader: impl Read, mut block: impl FnMut(&[u8])) -> io::Result<ReadEnd> {
    let mut end = ReadEnd::default();
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0; // bytes held: the start of a line not yet ended
    let mut skipping = false; // inside a line too long to hold
    let mut read_any = false;
    loop {
        if len == buf.len() {
            if buf.len() < MAX_LINE_BYTES {
                buf.resize((buf.len() * 2).min(MAX_LINE_BYTES), 0);
            } else {
                (skipping, len) = (true, 0);
            }
        }
        let n = match reader.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if !read_any => return Err(e),
            Err(e) => {
                end.error = Some(e.to_string());
                break;
            }
        };
        read_any = true;
        let mut fresh = len;
        len += n;
        if skipping {
            match memchr::memchr(b'\n', &buf[fresh..len]) {
                None => {
                    len = 0;
                    continue;
                }
                Some(at) => {
                    end.too_long += 1;
                    skipping = false;
                    buf.copy_within(fresh + at + 1..len, 0);
                    len -= fresh + at + 1;
                    fresh = 0;
                }
            }
        }
        // What was held before this read has no newline: only the fresh bytes are searched.
        if let Some(last) = memchr::memrchr(b'\n', &buf[fresh..len]).map(|at| fresh + at) {
            block(&buf[..=last]);
            buf.copy_within(last + 1..len, 0);
            len -= last + 1;
        }
    }
    if skipping {
        end.too_long += 1;
        end.cut_last_line = true;
    } else if len > 0 {
        end.cut_last_line = true;
        block(&buf[..len]);
    }
    Ok(end)
}

/// The lines of a block (without `\n` or `\r\n`).
pub fn lines_of(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends =
        memchr::memchr_iter(b'\n', block).chain((!block.ends_with(b"\n")).then_some(block.len()));
    ends.map(move |end| {
        let line = &block[start.min(end)..end];
        start = end + 1;
        trim_cr(line)
    })
}

/// The lines in one line of a saved answer that asked for its lines (SPEC §13): the `data:` of
/// an SSE event, each element of a JSON answer's `tracewire_logs`; SSE framing (`event:` lines,
/// `data: [DONE]`) is no line at all. Any other line is itself.
pub fn answer_lines(line: &[u8], mut each: impl FnMut(&[u8])) {
    if line.starts_with(b"event:") {
        return;
    }
    if let Some(data) = line.strip_prefix(b"data:") {
        let data = data.trim_ascii_start();
        if data != b"[DONE]" {
            each(data);
        }
        return;
    }
    // Only an unescaped key can match: inside a string value the quotes are `\"`.
    if line.starts_with(b"{") && memchr::memmem::find(line, br#""tracewire_logs":["#).is_some() {
        #[derive(serde::Deserialize)]
        struct Answer<'a> {
            #[serde(borrow)]
            tracewire_logs: Vec<&'a serde_json::value::RawValue>,
        }
        if let Ok(answer) = serde_json::from_slice::<Answer<'_>>(line) {
            for log in answer.tracewire_logs {
                each(log.get().as_bytes());
            }
            return;
        }
    }
    each(line)
}

/// Calls `line` with each line of `reader`; [`each_block`] split.
pub fn each_line(reader: impl Read, mut line: impl FnMut(&[u8])) -> io::Result<ReadEnd> {
    let mut lines = 0;
    let mut end = each_block(reader, |block| {
        for l in lines_of(block) {
            lines += 1;
            line(l);
        }
    })?;
    end.lines = lines + end.too_long;
    Ok(end)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_saved_answers_lines_are_its_log_lines() {
        let lines = |line: &[u8]| {
            let mut out = Vec::new();
            answer_lines(line, |l| out.push(String::from_utf8_lossy(l).into_owned()));
            out
        };
        let log = r#"{"time":"t","level":"INFO","message":"m"}"#;
        assert_eq!(
            lines(b"event: tracewire.log"),
            Vec::<String>::new(),
            "framing"
        );
        assert_eq!(lines(format!("data: {log}").as_bytes()), [log]);
        assert_eq!(lines(b"data: [DONE]"), Vec::<String>::new());
        let answer = format!(r#"{{"id":"x","choices":[],"tracewire_logs":[{log},{log}]}}"#);
        assert_eq!(
            lines(answer.as_bytes()),
            [log, log],
            "a JSON answer's array"
        );
        let quoted = r#"{"time":"t","message":""tracewire_logs":[1]"}"#;
        assert_eq!(
            lines(quoted.as_bytes()),
            [quoted],
            "a value that only says it"
        );
        assert_eq!(lines(log.as_bytes()), [log], "a line is itself");
    }

    use super::*;

    /// Reads of at most 7 bytes: every line spans reads.
    struct Tiny<'a>(&'a [u8]);

    impl Read for Tiny<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(7).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn read_lines(input: &[u8]) -> (Vec<String>, ReadEnd) {
        let mut seen = Vec::new();
        let end = each_line(Tiny(input), |l| {
            seen.push(String::from_utf8_lossy(l).into_owned())
        })
        .unwrap();
        (seen, end)
    }

    #[test]
    fn lines_across_reads_and_a_cut_last_line() {
        let (lines, end) =
            read_lines(b"first line\r\nsecond, longer than a read\n\nlast without newl");
        assert_eq!(
            lines,
            [
                "first line",
                "second, longer than a read",
                "",
                "last without newl"
            ]
        );
        assert_eq!((end.lines, end.cut_last_line, end.too_long), (4, true, 0));
        let (_, end) = read_lines(b"a\nb\n");
        assert!(!end.cut_last_line);
    }

    #[test]
    fn a_line_too_long_is_skipped_and_counted_not_held() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 10));
        input.extend_from_slice(b"\nafter\n");
        let mut seen = Vec::new();
        let end = each_line(&input[..], |l| seen.push(l.len())).unwrap();
        assert_eq!(seen, [5, 5]);
        assert_eq!((end.lines, end.too_long), (3, 1));
        // Cut at the end, and in reads of any size.
        input.truncate(input.len() - 7);
        let mut seen = Vec::new();
        let end = each_line(Tiny(&input), |l| seen.push(l.len())).unwrap();
        assert_eq!(seen, [5]);
        assert_eq!((end.lines, end.too_long, end.cut_last_line), (2, 1, true));
    }

    #[test]
    fn rotated_files_of_one_log_are_one_process() {
        let paths: Vec<String> = [
            "logs/frontend.jsonl",
            "logs/worker.jsonl.1",
            "logs/worker.jsonl",
            "logs/worker.jsonl.2.gz",
            "other/worker.jsonl",
            "-",
            "prefill.log",
        ]
        .map(String::from)
        .into();
        let inputs = Inputs::new(&paths);
        let procs: Vec<usize> = inputs.files.iter().map(|(_, p)| *p).collect();
        assert_eq!(procs, [0, 1, 1, 1, 2, 3, 4]);
        assert_eq!(
            inputs.processes,
            [
                "frontend",
                "logs/worker",
                "other/worker",
                "stdin",
                "prefill"
            ]
        );
    }

    #[test]
    fn gzip_is_read_by_its_magic_and_its_members_joined() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("worker.log");
        let mut bytes = Vec::new();
        for part in ["one\n", "two\n"] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(part.as_bytes()).unwrap();
            bytes.extend(gz.finish().unwrap());
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut seen = Vec::new();
        let end = each_line(open(path.to_str().unwrap()).unwrap(), |l| {
            seen.push(l.to_vec())
        })
        .unwrap();
        assert_eq!(seen, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(end.error, None);

        std::fs::write(&path, &bytes[..bytes.len() - 12]).unwrap();
        let mut seen = Vec::new();
        let end = each_line(open(path.to_str().unwrap()).unwrap(), |l| {
            seen.push(l.to_vec())
        })
        .unwrap();
        assert_eq!(seen[0], b"one");
        assert!(
            end.error.is_some(),
            "a gzip file cut short says so: {end:?}"
        );
    }
}
