//! Where finished lines go. A sink receives one whole line (with its `\n`) per call and writes
//! it with one `write_all` under its own lock, so lines are never split or interleaved.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use super::{config::FileOutput, error::ConfigError};

/// A destination for whole lines.
pub trait LineSink: Send + Sync + 'static {
    /// Writes one line, `\n` included. Failures are counted, never raised into the caller.
    fn write_line(&self, line: &[u8]);

    /// Writes out anything buffered.
    fn flush(&self) {}

    /// How many lines could not be written.
    fn dropped(&self) -> u64 {
        0
    }
}

impl<T: LineSink + ?Sized> LineSink for Arc<T> {
    fn write_line(&self, line: &[u8]) {
        (**self).write_line(line)
    }
    fn flush(&self) {
        (**self).flush()
    }
    fn dropped(&self) -> u64 {
        (**self).dropped()
    }
}

/// Standard error or output as an `io::Write` for the output queue: each batch is written under
/// the stream's lock, so lines from `eprintln!` elsewhere cannot land inside it.
#[derive(Debug, Clone, Copy)]
pub struct StdStream {
    stdout: bool,
}

impl StdStream {
    /// Standard error.
    pub fn stderr() -> Self {
        StdStream { stdout: false }
    }

    /// Standard output.
    pub fn stdout() -> Self {
        StdStream { stdout: true }
    }
}

impl Write for StdStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stdout {
            io::stdout().lock().write(buf)
        } else {
            io::stderr().lock().write(buf)
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.stdout {
            io::stdout().flush()
        } else {
            io::stderr().flush()
        }
    }
}

/// Lines kept in memory, for tests and for programs that show their own logs.
#[derive(Debug, Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<u8>>>);

impl MemorySink {
    /// Everything written so far.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The lines written so far, without their `\n`.
    pub fn lines(&self) -> Vec<String> {
        self.contents().lines().map(str::to_owned).collect()
    }
}

impl LineSink for MemorySink {
    fn write_line(&self, line: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(line);
    }
}

/// A file that is rotated by size: `path` → `path.1` → … → `path.N`, the oldest deleted.
#[derive(Debug)]
pub struct RotatingFile {
    config: FileOutput,
    state: Mutex<(File, u64)>,
    dropped: AtomicU64,
}

impl RotatingFile {
    /// Opens (appends to) the file, creating its folder.
    pub fn open(config: &FileOutput) -> Result<Self, ConfigError> {
        let error = |source| ConfigError::OpenLogFile {
            path: config.path.clone(),
            source,
        };
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(error)?;
        }
        let file = open_append(&config.path).map_err(error)?;
        let size = file.metadata().map_err(error)?.len();
        Ok(RotatingFile {
            config: config.clone(),
            state: Mutex::new((file, size)),
            dropped: AtomicU64::new(0),
        })
    }

    fn rotate(&self) -> io::Result<File> {
        let numbered = |n: u32| -> PathBuf {
            let mut name = self.config.path.clone().into_os_string();
            name.push(format!(".{n}"));
            name.into()
        };
        if self.config.max_files == 0 {
            fs::remove_file(&self.config.path)?;
        } else {
            for n in (1..self.config.max_files).rev() {
                let from = numbered(n);
                if from.exists() {
                    fs::rename(&from, numbered(n + 1))?;
                }
            }
            fs::rename(&self.config.path, numbered(1))?;
        }
        open_append(&self.config.path)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl RotatingFile {
    /// Appends whole lines, rotating at a line boundary when the next line would not fit.
    fn append(&self, lines: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (file, size) = &mut *state;
        for line in lines.split_inclusive(|&b| b == b'\n') {
            if *size > 0 && *size + line.len() as u64 > self.config.max_bytes {
                // If rotation fails, keep appending to the current file rather than lose lines.
                if let Ok(fresh) = self.rotate() {
                    *file = fresh;
                    *size = 0;
                }
            }
            file.write_all(line)?;
            *size += line.len() as u64;
        }
        Ok(())
    }
}

/// Batches from the output queue: whole lines, rotated between them.
impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .flush()
    }
}

impl LineSink for RotatingFile {
    fn write_line(&self, line: &[u8]) {
        if self.append(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn flush(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = state.0.flush();
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_max_files() {
        let dir = std::env::temp_dir().join(format!("tracewire-rot-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let config = FileOutput {
            path: dir.join("sub/app.log"),
            max_bytes: 25,
            max_files: 2,
        };
        let sink = RotatingFile::open(&config).unwrap();
        for i in 0..7 {
            sink.write_line(format!("line {i} ..........\n").as_bytes()); // 19 bytes: one per file
        }
        let read = |name: &str| fs::read_to_string(dir.join("sub").join(name)).unwrap();
        assert_eq!(read("app.log"), "line 6 ..........\n");
        assert_eq!(read("app.log.1"), "line 5 ..........\n");
        assert_eq!(read("app.log.2"), "line 4 ..........\n");
        assert!(!dir.join("sub/app.log.3").exists());
        assert_eq!(sink.dropped(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unopenable_file_is_a_config_error() {
        let config = FileOutput {
            path: PathBuf::from("/proc/definitely/not/here.log"),
            max_bytes: 10,
            max_files: 1,
        };
        let err = RotatingFile::open(&config).unwrap_err().to_string();
        assert!(
            err.starts_with("[file] path \"/proc/definitely/not/here.log\": cannot open"),
            "{err}"
        );
    }
}
