//! Reading the TOML file named by `DYN_LOGGING_CONFIG_PATH`: a regular file of at most
//! [`MAX_CONFIG_BYTES`], checked before it is opened (a FIFO would block the open, a device
//! such as `/dev/zero` would never end) and read without going past the limit.

use std::{
    fs::{self, File},
    io::Read,
    path::Path,
};

use super::error::ConfigError;

/// The largest configuration file read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The file's text, or why it cannot be the configuration file.
pub fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let read_error = |source| ConfigError::ReadFile {
        path: path.to_path_buf(),
        source,
    };
    let refused = |what: String| ConfigError::NotAConfigFile {
        path: path.to_path_buf(),
        what,
    };
    let kind = |meta: &fs::Metadata| -> Result<(), ConfigError> {
        let file_type = meta.file_type();
        if !file_type.is_file() {
            return Err(refused(describe(&file_type).to_owned()));
        }
        if meta.len() > MAX_CONFIG_BYTES {
            return Err(refused(format!("{} bytes", meta.len())));
        }
        Ok(())
    };
    // Checked by name first: opening a FIFO for reading blocks until a writer comes.
    kind(&fs::metadata(path).map_err(read_error)?)?;
    let file = File::open(path).map_err(read_error)?;
    kind(&file.metadata().map_err(read_error)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(refused(
            "a file that grew past the limit while read".to_owned(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        refused(format!(
            "not UTF-8 text (byte {} is not)",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn describe(file_type: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path) -> String {
        read_config_file(path).expect_err("refused").to_string()
    }

    #[test]
    fn only_a_regular_file_of_at_most_one_mib() {
        let dir = std::env::temp_dir().join(format!("tracewire-cfgfile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("ok.toml");
        fs::write(&ok, "jsonl = true\n").unwrap();
        assert_eq!(read_config_file(&ok).unwrap(), "jsonl = true\n");
        let big = dir.join("big.toml");
        fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
        let fifo = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let binary = dir.join("binary.toml");
        fs::write(&binary, b"jsonl = \xff\n").unwrap();
        let cases = [
            (Path::new("/dev/zero"), "a device", "endless"),
            (Path::new("/dev/urandom"), "a device", "endless and random"),
            (fifo.as_path(), "a FIFO", "would block"),
            (dir.as_path(), "a folder", "a folder"),
            (big.as_path(), "1048577 bytes", "one byte over"),
            (binary.as_path(), "not UTF-8", "binary"),
        ];
        for (path, what, reason) in cases {
            let err = refused(path);
            assert!(
                err.starts_with(&format!("DYN_LOGGING_CONFIG_PATH: {path:?}: ")),
                "{reason}: {err}"
            );
            assert!(
                err.contains(what) && err.contains("a regular file of at most 1 MiB"),
                "{reason}: {err}"
            );
            assert!(!err.contains('\n'), "{reason}: one line");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
