//! `list` and `show` on input as operators have it, through the library's commands: rotated and
//! gzip files, the readable format and other programs' lines mixed in, a last line cut in half,
//! a process that stopped mid-request, files that cannot be read. The fixtures are the real
//! output of a frontend and a worker (request `abc-1`, and one streamed request).
// Test code: a failed unwrap is a failed test, with its line.
#![allow(clippy::unwrap_used)]

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde_json::Value;
use tracewire_trace::{commands, render::terminal::Style, ListOptions, ShowOptions};

const TRACE: &str = "1a36fea12abb735cba6172052dc870f3";
const FRONTEND_SPAN: &str = "3d8f1176d9c8c7df";
const WORKER_SPAN: &str = "567b5f96a80dc07a";

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(path).expect("fixture")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

fn gzip(dir: &Path, name: &str, text: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("gzip");
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, gz.finish().expect("gzip")).expect("write");
    path.to_string_lossy().into_owned()
}

struct Ran {
    status: u8,
    out: String,
    err: String,
}

fn show(files: &[String], id: &str) -> Ran {
    let options = ShowOptions {
        id: id.to_owned(),
        style: Style {
            color: false,
            width: 80,
            lines: true,
            cut_lines: false,
        },
        html: None,
        chrome: None,
        otlp_json: None,
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = commands::show(files, &options, &mut out, &mut err);
    Ran {
        status,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn list_json(files: &[String]) -> (Vec<Value>, String) {
    let options = ListOptions {
        json: true,
        ..ListOptions::default()
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(commands::list(files, &options, &mut out, &mut err), 0);
    let out = String::from_utf8(out).unwrap();
    (
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        String::from_utf8(err).unwrap(),
    )
}

/// The span rows of a waterfall: (indentation, name, process).
fn rows(waterfall: &str) -> Vec<(usize, String, String)> {
    waterfall
        .lines()
        .filter(|l| l.ends_with('|') && !l.starts_with("span "))
        .map(|l| {
            let name = l.trim_start();
            let mut words = name.split_whitespace();
            let (n, p) = (words.next().unwrap(), words.next().unwrap());
            (l.len() - name.len(), n.to_owned(), p.to_owned())
        })
        .collect()
}

#[test]
fn rotated_and_gzip_files_of_one_worker_are_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let worker = fixture("worker.jsonl");
    let (old, new) = worker.split_at(
        worker
            .find("generating")
            .map(|i| worker[..i].rfind('\n').unwrap() + 1)
            .unwrap(),
    );
    let files = vec![
        write(dir.path(), "frontend.jsonl", &fixture("frontend.jsonl")),
        gzip(dir.path(), "worker.jsonl.1.gz", old),
        write(dir.path(), "worker.jsonl", new),
    ];
    let ran = show(&files, "abc-1");
    assert_eq!(ran.status, 0, "{}", ran.err);
    assert_eq!(ran.err, "", "clean input, nothing to say");
    assert_eq!(
        rows(&ran.out),
        [
            (0, "http-request".into(), "frontend".into()),
            (2, "handle_payload".into(), "worker".into())
        ]
    );
    assert!(
        ran.out
            .contains("2 spans in 2 processes (frontend, worker)"),
        "{}",
        ran.out
    );
    assert!(
        ran.out
            .contains("INFO  generating prompt_tokens=2 max_tokens=4"),
        "lines from both files:\n{}",
        ran.out
    );
    assert!(ran.out.contains("received generate call"), "{}", ran.out);
    let (traces, _) = list_json(&files);
    assert_eq!(traces.len(), 2);
    assert_eq!(
        traces[0]["processes"],
        serde_json::json!(["frontend", "worker"])
    );
}

#[test]
fn readable_lines_and_other_programs_are_skipped_and_counted_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut mixed = String::from("2026-12-03T17:02:58.301160Z  INFO tracewire_frontend: frontend listening addr=127.0.0.1:8080\n");
    mixed.push_str("Starting nginx... done\n");
    mixed.push_str(&fixture("frontend.jsonl"));
    mixed.push_str("{\"not\":\"tracewire\"}\n\n");
    let files = vec![
        write(dir.path(), "frontend.log", &mixed),
        write(dir.path(), "worker.log", &fixture("worker.jsonl")),
    ];
    let ran = show(&files, TRACE);
    assert_eq!(ran.status, 0);
    assert_eq!(rows(&ran.out).len(), 2, "{}", ran.out);
    let notes: Vec<&str> = ran.err.lines().collect();
    assert_eq!(notes.len(), 1, "{}", ran.err);
    assert!(
        notes[0].contains("skipped 2 of"),
        "show counts what is plainly not JSON: {}",
        notes[0]
    );
    assert!(notes[0].contains("frontend.log:1"), "{}", notes[0]);
    let options = ListOptions::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(commands::list(&files, &options, &mut out, &mut err), 0);
    let err = String::from_utf8(err).unwrap();
    assert!(
        err.contains("skipped 3 of 32 lines"),
        "list parses every line: {err}"
    );
    assert!(err.contains(r#"1 no "time""#), "{err}");
}

#[test]
fn a_last_line_cut_in_half_is_said_and_the_rest_shown() {
    let dir = tempfile::tempdir().unwrap();
    let frontend = fixture("frontend.jsonl");
    let closed = frontend
        .find(r#""message":"SPAN_CLOSED","span_name":"http-request","trace_id":"1a36"#)
        .unwrap();
    let cut = &frontend[..closed + 40];
    let files = vec![
        write(dir.path(), "frontend.jsonl", cut),
        write(dir.path(), "worker.jsonl", &fixture("worker.jsonl")),
    ];
    let ran = show(&files, "abc-1");
    assert_eq!(ran.status, 0);
    assert!(
        ran.err
            .contains("frontend.jsonl: the last line has no newline"),
        "{}",
        ran.err
    );
    assert!(ran.err.contains("skipped 1 of"), "{}", ran.err);
    assert!(
        ran.out.contains("never closed"),
        "the frontend span lost its SPAN_CLOSED:\n{}",
        ran.out
    );
}

#[test]
fn a_process_stopped_mid_request_leaves_its_spans_marked_and_its_child_under_them() {
    let dir = tempfile::tempdir().unwrap();
    // The frontend was killed after the worker's span began: its own SPAN_CLOSED never came.
    let frontend: String = fixture("frontend.jsonl")
        .lines()
        .filter(|l| {
            !(l.contains(FRONTEND_SPAN)
                && (l.contains("SPAN_CLOSED") || l.contains("request completed")))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let files = vec![
        write(dir.path(), "frontend.jsonl", &frontend),
        write(dir.path(), "worker.jsonl", &fixture("worker.jsonl")),
    ];
    let ran = show(&files, TRACE);
    assert_eq!(ran.status, 0);
    assert_eq!(
        rows(&ran.out)[1].0,
        2,
        "the worker span still nests under it:\n{}",
        ran.out
    );
    let marked: Vec<&str> = ran
        .out
        .lines()
        .filter(|l| l.contains("! never closed"))
        .collect();
    assert_eq!(marked.len(), 1, "{}", ran.out);
    assert!(
        ran.out.contains(" ≥"),
        "its duration is a lower bound:\n{}",
        ran.out
    );
}

#[test]
fn a_parent_in_a_file_not_given_is_marked() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![write(dir.path(), "worker.jsonl", &fixture("worker.jsonl"))];
    let ran = show(&files, "abc-1");
    assert_eq!(ran.status, 0);
    assert!(
        ran.out
            .contains(&format!("! parent {FRONTEND_SPAN} not in the input")),
        "{}",
        ran.out
    );
    assert_eq!(
        rows(&ran.out),
        [(0, "handle_payload".into(), "worker".into())]
    );
}

#[test]
fn the_same_file_given_twice_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "frontend.jsonl", &fixture("frontend.jsonl"));
    let w = write(dir.path(), "worker.jsonl", &fixture("worker.jsonl"));
    let once = show(&[f.clone(), w.clone()], TRACE);
    let twice = show(&[f.clone(), w.clone(), w, f], TRACE);
    assert_eq!(once.out, twice.out);
}

#[test]
fn an_unknown_id_exits_1_and_an_unreadable_file_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "frontend.jsonl", &fixture("frontend.jsonl"));
    let ran = show(std::slice::from_ref(&f), "no-such-request");
    assert_eq!(ran.status, 1);
    assert_eq!(
        ran.err.trim(),
        format!(
            r#"tracewire-trace: no trace has trace_id or x_request_id "no-such-request" in 15 lines of 1 file"#
        )
    );
    assert_eq!(ran.out, "");
    let missing = dir.path().join("gone.jsonl").to_string_lossy().into_owned();
    let ran = show(&[f, missing.clone()], TRACE);
    assert_eq!(ran.status, 2);
    assert!(
        ran.err
            .starts_with(&format!("tracewire-trace: cannot read {missing}: ")),
        "{}",
        ran.err
    );
}

#[test]
fn list_summarizes_each_trace_with_the_root_span_status() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        write(dir.path(), "frontend.jsonl", &fixture("frontend.jsonl")),
        write(dir.path(), "worker.jsonl", &fixture("worker.jsonl")),
    ];
    let (traces, err) = list_json(&files);
    assert_eq!(err, "");
    let first = &traces[0];
    assert_eq!(first["trace_id"], TRACE);
    assert_eq!(first["x_request_id"], "abc-1");
    assert_eq!(first["start"], "2026-12-03T17:02:58.301160Z");
    assert_eq!(
        first["duration_us"], 10_493,
        "from SPAN_CREATED to SPAN_CLOSED of the frontend span"
    );
    assert_eq!(
        (
            first["spans"].as_u64(),
            first["status"].as_u64(),
            first["outcome"].as_str()
        ),
        (Some(2), Some(200), Some("ok"))
    );
    assert_eq!(first["errors"], 0);
    assert!(
        traces[0]["start"].as_str() < traces[1]["start"].as_str(),
        "oldest first"
    );
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    let mut want = [
        "trace_id",
        "x_request_id",
        "start",
        "duration_us",
        "processes",
        "spans",
        "status",
        "outcome",
        "errors",
    ];
    want.sort();
    assert_eq!(keys, want, "SPEC §12's keys");
    let _ = WORKER_SPAN;
}

#[test]
fn failed_slowest_and_request_id_select() {
    let dir = tempfile::tempdir().unwrap();
    let failing =
        fixture("worker.jsonl").replacen(r#""outcome":"ok"}"#, r#""outcome":"error"}"#, 1);
    let files = vec![
        write(dir.path(), "frontend.jsonl", &fixture("frontend.jsonl")),
        write(dir.path(), "worker.jsonl", &failing),
    ];
    let run = |options: ListOptions| {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let status = commands::list(
            &files,
            &ListOptions {
                json: true,
                ..options
            },
            &mut out,
            &mut err,
        );
        let ids: Vec<String> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["x_request_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        (status, ids)
    };
    let (_, all) = run(ListOptions::default());
    assert_eq!(all.len(), 2);
    let (_, failed) = run(ListOptions {
        failed: true,
        ..ListOptions::default()
    });
    assert_eq!(
        failed,
        ["abc-1"],
        "a worker span's outcome other than ok fails its trace"
    );
    let (_, slowest) = run(ListOptions {
        slowest: Some(1),
        ..ListOptions::default()
    });
    assert_eq!(slowest, ["abc-1"], "10.5 ms against 6.1 ms");
    let (status, one) = run(ListOptions {
        request_id: Some("abc-1".into()),
        ..ListOptions::default()
    });
    assert_eq!((status, one), (0, vec!["abc-1".to_owned()]));
    let (status, none) = run(ListOptions {
        request_id: Some("nobody".into()),
        ..ListOptions::default()
    });
    assert_eq!((status, none.len()), (1, 0));
}
