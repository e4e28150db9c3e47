//! Support for the end-to-end tests: run a real binary with a chosen environment, read its
//! output, parse JSON lines, and run the shared JSONL checker over them.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::{Map, Value};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Environment variables the tests control; cleared from the inherited environment so that a
/// developer's own `DYN_LOG` cannot change a result.
pub const CONTROLLED: &[&str] = &[
    "DYN_LOG",
    "DYN_LOGGING_JSONL",
    "DYN_LOG_USE_LOCAL_TZ",
    "DYN_LOGGING_CONFIG_PATH",
    "DYN_LOGGING_SPAN_EVENTS",
    "DYN_LOG_STREAM",
    "DYN_LOG_COLOR",
    "NO_COLOR",
    "OTEL_EXPORT_ENABLED",
    "RUST_LOG",
];

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    /// Exit status code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `program` with `args` and exactly `env` on top of a cleaned environment.
pub fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(program);
    command.args(args);
    for name in CONTROLLED {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Parses every non-empty line as a JSON object.
pub fn json_lines(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l}")))
        .collect()
}

/// Runs `tests/tools/check-jsonl.py` (a copy of the shared SPEC §3-4 checker) over files;
/// returns its summary line, panicking with its report if it finds a violation.
pub fn check_jsonl(files: &[&Path]) -> String {
    let checker = repo_root().join("tests/tools/check-jsonl.py");
    let output = Command::new("python3")
        .arg(&checker)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", checker.display()));
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "check-jsonl found violations:\n{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    report.lines().next().unwrap_or_default().to_owned()
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracewire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
