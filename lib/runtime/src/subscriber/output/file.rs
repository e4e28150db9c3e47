//! The optional log file of the `[file]` table: appended to, rotated by size at a line boundary.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
};

/// The optional log file of the `[file]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutput {
    /// Where lines go; parent folders are created.
    pub path: PathBuf,
    /// Rotate when the next line would take the file past this size.
    pub max_bytes: u64,
    /// How many rotated files (`path.1` … `path.N`) are kept.
    pub max_files: u32,
}

impl Default for FileOutput {
    /// No path yet; 100 MiB a file, 5 rotated files kept.
    fn default() -> Self {
        FileOutput {
            path: PathBuf::new(),
            max_bytes: 100 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// A file that is rotated by size: `path` → `path.1` → … → `path.N`, the oldest deleted. It is
/// written by the output queue's thread, in batches of whole lines.
#[derive(Debug)]
pub struct RotatingFile {
    config: FileOutput,
    file: File,
    size: u64,
}

impl RotatingFile {
    /// Opens (appends to) the file, creating its folder.
    pub fn open(config: &FileOutput) -> io::Result<Self> {
        if let Some(dir) = config.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        let file = open_append(&config.path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            config: config.clone(),
            file,
            size,
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

/// Batches from the output queue: whole lines, rotated between them when the next line would
/// not fit. A line that cannot be written whole (a full disk) is cut back out of the file, so
/// that the file stays whole lines: what was written before it is reported as written, and the
/// error comes with the next call, which starts at that line.
impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut written = 0;
        for line in buf.split_inclusive(|&b| b == b'\n') {
            if self.size > 0 && self.size + line.len() as u64 > self.config.max_bytes {
                // If rotation fails, keep appending to the current file rather than lose lines.
                if let Ok(fresh) = self.rotate() {
                    self.file = fresh;
                    self.size = 0;
                }
            }
            if let Err(e) = self.file.write_all(line) {
                // The file is opened to append, so the next write goes to its new end.
                let _ = self.file.set_len(self.size);
                return if written > 0 { Ok(written) } else { Err(e) };
            }
            self.size += line.len() as u64;
            written += line.len();
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
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
        let mut file = RotatingFile::open(&config).unwrap();
        for i in 0..7 {
            // 19 bytes: one per file.
            file.write_all(format!("line {i} ..........\n").as_bytes())
                .unwrap();
        }
        let read = |name: &str| fs::read_to_string(dir.join("sub").join(name)).unwrap();
        assert_eq!(read("app.log"), "line 6 ..........\n");
        assert_eq!(read("app.log.1"), "line 5 ..........\n");
        assert_eq!(read("app.log.2"), "line 4 ..........\n");
        assert!(!dir.join("sub/app.log.3").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unopenable_file_is_an_io_error() {
        let config = FileOutput {
            path: PathBuf::from("/proc/definitely/not/here.log"),
            max_bytes: 10,
            max_files: 1,
        };
        assert!(RotatingFile::open(&config).is_err());
    }
}
