//! Support for the end-to-end tests, by concern:
//!
//! - [`process`]: run a real binary on a cleaned environment, read its log while it runs;
//! - [`http`]: requests by hand, and the chat request most tests send;
//! - [`jsonl`]: the lines a process wrote, typed, and the shared JSONL checker;
//! - [`otlp`]: the OTLP receiver, its certificates, a deployment exporting to it;
//! - [`servers`]: real nats-server and etcd on free ports;
//! - [`wait`]: every bounded wait.

pub mod http;
pub mod jsonl;
pub mod otlp;
pub mod process;
pub mod servers;
pub mod wait;

use std::path::{Path, PathBuf};

pub use http::{chat, http, try_http, HttpCall, HttpResponse, CHAT, REFERENCE_CHAT, UPSTREAM};
pub use jsonl::{
    check_jsonl, check_jsonl_allow_open, json_lines, json_objects, lines_with, span_event,
};
pub use otlp::{certificates, self_signed, start_exporting, Exporting, Receiver, ReceiverOptions};
pub use process::{
    binary, clean_env, python, python_tool, run, start_frontend, start_worker, Process, Run, JSONL,
};
pub use servers::{free_port, owns_listener, spawn_on_free_port, Server};
pub use tracewire_runtime::logging::testing::{parse_line, Line};
pub use wait::{poll, wait_until};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracewire-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
