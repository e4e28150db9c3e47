//! Each peer set up to do one case, writing to [`sink`](crate::sink), as its own documentation
//! sets it up, with its defaults except where the case needs otherwise (no colour, the sink).

use std::{
    cell::RefCell,
    io::Write as _,
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
};

use serde_json::Value;
use tracewire_runtime::logging::{keys, Format};
use tracing::{info_span, Dispatch};
use tracing_subscriber::fmt::format::FmtSpan;

use crate::harness::{
    self, event, fmt_json, fmt_text, lifecycle, tracewire, MemoryWriter as Writer,
};

/// One peer in one case: `run(n)` does `n` operations, and finishes (flushes) what they wrote.
pub(crate) struct Peer {
    pub(crate) name: &'static str,
    pub(crate) run: Box<dyn Fn(u32)>,
}

impl Peer {
    fn new(name: &'static str, run: impl Fn(u32) + 'static) -> Self {
        Peer {
            name,
            run: Box::new(run),
        }
    }

    /// What one operation writes.
    pub(crate) fn sample(&self) -> Vec<u8> {
        harness::capture(|| (self.run)(1))
    }
}

/// One case: the peers (tracewire first: the ratios are to it), the contract's keys.
pub(crate) struct Case {
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    pub(crate) about: &'static str,
    pub(crate) required: Vec<&'static str>,
    pub(crate) peers: Vec<Peer>,
}

fn json_subscriber() -> Dispatch {
    Dispatch::new(json_subscriber::fmt().with_writer(|| Writer).finish())
}

/// `op` under `dispatch`, inside two nested spans with fields when `nested`.
fn traced(name: &'static str, dispatch: Dispatch, nested: bool, op: fn(u32)) -> Peer {
    Peer::new(name, move |n| {
        tracing::dispatcher::with_default(&dispatch, || {
            let spans = nested.then(|| {
                let outer = info_span!(
                    "http-request",
                    method = "POST",
                    uri = "/v1/chat/completions"
                );
                let inner = outer
                    .in_scope(|| info_span!("generate", model = "Qwen/Qwen3-0.6B", tokens = 7_u64));
                (outer, inner)
            });
            let _entered = spans.as_ref().map(|(o, i)| (o.enter(), i.enter()));
            for i in 0..n {
                op(i);
            }
        })
    })
}

// logforth: a `log` backend; `log` takes one global logger, so one that hands each record to
// the logforth logger of the case running (an atomic load more per record).

mod logforth_peer {
    use super::*;
    use logforth::{
        bridge::log::LogBridge,
        diagnostic::ThreadLocalDiagnostic,
        layout::{JsonLayout, TextLayout},
        record::Record,
        Append, Diagnostic, Error, Layout,
    };

    pub(super) const JSON: usize = 0;
    pub(super) const JSON_DIAGNOSTIC: usize = 1;
    pub(super) const TEXT: usize = 2;

    static WHICH: AtomicUsize = AtomicUsize::new(JSON);
    static INSTALLED: OnceLock<()> = OnceLock::new();

    /// logforth's own appenders allocate each line (`Layout::format` returns a `Vec`) and write
    /// it to stdout or a file; this one writes it to the sink.
    #[derive(Debug)]
    struct Memory {
        layout: Box<dyn Layout>,
    }

    impl Append for Memory {
        fn append(&self, record: &Record, diags: &[Box<dyn Diagnostic>]) -> Result<(), Error> {
            let mut bytes = self.layout.format(record, diags)?;
            bytes.push(b'\n');
            harness::keep(&bytes);
            Ok(())
        }

        fn flush(&self) -> Result<(), Error> {
            Ok(())
        }
    }

    struct Switch(Vec<LogBridge>);

    impl log::Log for Switch {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            self.0[WHICH.load(Ordering::Relaxed)].enabled(metadata)
        }
        fn log(&self, record: &log::Record<'_>) {
            self.0[WHICH.load(Ordering::Relaxed)].log(record)
        }
        fn flush(&self) {}
    }

    fn install() {
        INSTALLED.get_or_init(|| {
            let logger = |layout: Box<dyn Layout>, diagnostic: bool| {
                let memory = Memory { layout };
                LogBridge::new(
                    logforth::core::builder()
                        .dispatch(|d| {
                            if diagnostic {
                                d.diagnostic(ThreadLocalDiagnostic::default())
                                    .append(memory)
                            } else {
                                d.append(memory)
                            }
                        })
                        .build(),
                )
            };
            let switch = Switch(vec![
                logger(Box::<JsonLayout>::default(), false),
                logger(Box::<JsonLayout>::default(), true),
                logger(Box::new(TextLayout::default().no_color()), false),
            ]);
            log::set_boxed_logger(Box::new(switch)).expect("the only `log` logger");
            log::set_max_level(log::LevelFilter::Info);
        });
    }

    /// logforth for `which` case; the nested case's span fields are thread-local diagnostics
    /// (logforth has no spans).
    pub(super) fn peer(which: usize) -> Peer {
        install();
        Peer::new("logforth", move |n| {
            WHICH.store(which, Ordering::Relaxed);
            if which == JSON_DIAGNOSTIC {
                for (k, v) in [
                    ("method", "POST"),
                    ("uri", "/v1/chat/completions"),
                    ("model", "Qwen/Qwen3-0.6B"),
                    ("tokens", "7"),
                ] {
                    ThreadLocalDiagnostic::insert(k, v);
                }
            }
            for i in 0..n {
                log::info!(request = i, user = "alice", ratio = 0.25; "request received");
            }
            if which == JSON_DIAGNOSTIC {
                for k in ["method", "uri", "model", "tokens"] {
                    ThreadLocalDiagnostic::remove(k);
                }
            }
        })
    }
}

// rasant: its own logger object; the nested case's span fields are a child logger's attributes.

fn rasant(format: rasant::OutputFormat, nested: bool) -> Peer {
    let mut log = rasant::Logger::new();
    let formatter_cfg = rasant::FormatterConfig {
        format,
        // The closest to tracewire's RFC 3339 with microseconds.
        time_format: rasant::TimeFormat::UtcNanosDateTime,
        delimiter: b"\n".to_vec(),
    };
    log.add_sink(rasant::sink::io::IO::new(rasant::sink::io::IOConfig {
        name: "memory".into(),
        formatter_cfg,
        buffered: false,
        flush_on_write: false,
        initial_delimiter: false,
        out: Some(Writer),
    }))
    .set_level(rasant::Level::Info);
    let log = RefCell::new(log);
    Peer::new("rasant", move |n| {
        let mut parent = log.borrow_mut();
        let mut child;
        let log = if nested {
            child = parent.clone();
            child
                .set("method", "POST")
                .set("uri", "/v1/chat/completions")
                .set("model", "Qwen/Qwen3-0.6B")
                .set("tokens", 7_u64);
            &mut child
        } else {
            &mut *parent
        };
        for i in 0..n {
            rasant::info!(
                log,
                "request received",
                request = i,
                user = "alice",
                ratio = 0.25
            );
        }
    })
}

// log-io: its own logger object; the nested case's span fields are its thread-local context.

fn log_io<F: log_io::format::Format + 'static>(format: F, nested: bool) -> Peer {
    let logger = log_io::Logger::builder()
        .level(log_io::Level::Info)
        .writer(Writer, format)
        .build();
    Peer::new("log-io", move |n| {
        let _context = nested.then(|| {
            [
                log_io::context::with_field("method", "POST"),
                log_io::context::with_field("uri", "/v1/chat/completions"),
                log_io::context::with_field("model", "Qwen/Qwen3-0.6B"),
                log_io::context::with_field("tokens", 7_u64),
            ]
        });
        for i in 0..n {
            log_io::info!(
                logger,
                "request received",
                request = i,
                user = "alice",
                ratio = 0.25
            );
        }
        let _ = logger.flush();
    })
}

// fastrace: spans only, reported in batches from its collector thread.

mod fastrace_peer {
    use super::*;
    use fastrace::{
        collector::{Config, Reporter, SpanContext, SpanRecord},
        local::LocalSpan,
        Span,
    };

    /// fastrace ships no JSON reporter: this one writes each span record as one JSON line with
    /// its ids, name, start, duration and properties, into one reused buffer.
    struct JsonReporter(Vec<u8>);

    impl Reporter for JsonReporter {
        fn report(&mut self, spans: Vec<SpanRecord>) {
            let buf = &mut self.0;
            for span in spans {
                buf.clear();
                let _ = write!(
                    buf,
                    "{{\"trace_id\":\"{}\",\"span_id\":\"{}\",\"parent_id\":\"{}\",\"name\":",
                    span.trace_id, span.span_id, span.parent_id
                );
                let _ = serde_json::to_writer(&mut *buf, span.name.as_ref());
                let _ = write!(
                    buf,
                    ",\"begin_time_unix_ns\":{},\"duration_ns\":{},\"properties\":{{",
                    span.begin_time_unix_ns, span.duration_ns
                );
                for (k, (key, value)) in span.properties.iter().enumerate() {
                    if k > 0 {
                        buf.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut *buf, key.as_ref());
                    buf.push(b':');
                    let _ = serde_json::to_writer(&mut *buf, value.as_ref());
                }
                buf.extend_from_slice(b"}}\n");
                harness::keep(buf);
            }
        }
    }

    static INSTALLED: OnceLock<()> = OnceLock::new();

    /// `LocalSpan`s under a root span set as the thread's local parent, a root per 64 spans
    /// (fastrace hands a trace's spans to its collector when the root ends; one root for a whole
    /// round would hold them all). The root's own record is one line more per 64.
    pub(super) fn peer() -> Peer {
        INSTALLED.get_or_init(|| {
            fastrace::set_reporter(JsonReporter(Vec::with_capacity(512)), Config::default())
        });
        Peer::new("fastrace", |n| {
            let mut i = 0;
            while i < n {
                let root = Span::root("request", SpanContext::random());
                let _parent = root.set_local_parent();
                for _ in 0..64.min(n - i) {
                    let id = i;
                    let _span = LocalSpan::enter_with_local_parent("handle_payload")
                        .with_property(|| ("component", "backend"))
                        .with_property(move || ("id", id.to_string()));
                    i += 1;
                }
            }
            fastrace::flush();
        })
    }
}

/// What SPEC §3 asks of the event's line, from the runtime's own key names; in spans, the
/// span's identity and fields too.
fn event_keys(in_spans: bool) -> Vec<&'static str> {
    use keys::*;
    let mut k = vec![
        TIME, LEVEL, FILE, LINE, TARGET, MESSAGE, "request", "user", "ratio",
    ];
    if in_spans {
        k.extend([
            SPAN_NAME, TRACE_ID, SPAN_ID, PARENT_ID, "method", "uri", "model", "tokens",
        ]);
    }
    k
}

/// What SPAN_CREATED and SPAN_CLOSED carry (a root span has no `parent_id`: not asked).
fn span_keys() -> Vec<&'static str> {
    use keys::*;
    let fields = ["component", "id", BUSY_US, IDLE_US, DURATION_US];
    let mut k = event_keys(false)[..6].to_vec();
    k.extend([SPAN_NAME, TRACE_ID, SPAN_ID]);
    k.extend(fields);
    k
}

pub(crate) fn cases() -> Vec<Case> {
    use logforth_peer::{JSON, JSON_DIAGNOSTIC, TEXT};
    use rasant::OutputFormat;
    vec![
        Case {
            key: "event",
            name: "JSON event, message + 3 fields",
            about: "`info!(request = i, user = \"alice\", ratio = 0.25, \"request received\")` or \
                    each peer's own call with the same message and fields.",
            required: event_keys(false),
            peers: vec![
                traced("tracewire", tracewire(Format::Jsonl, "info"), false, event),
                traced("fmt().json()", fmt_json(FmtSpan::NONE), false, event),
                traced("json-subscriber", json_subscriber(), false, event),
                logforth_peer::peer(JSON),
                rasant(OutputFormat::Json, false),
                log_io(log_io::format::JsonFormat::new(), false),
            ],
        },
        Case {
            key: "nested",
            name: "JSON event inside 2 nested spans with fields",
            about:
                "The same event inside `http-request{method, uri}` > `generate{model, tokens}`; \
                    peers without spans carry the four fields as their nearest thing: logforth's \
                    thread-local diagnostics, a rasant child logger's attributes, log-io's \
                    context.",
            required: event_keys(true),
            peers: vec![
                traced("tracewire", tracewire(Format::Jsonl, "info"), true, event),
                traced("fmt().json()", fmt_json(FmtSpan::NONE), true, event),
                traced("json-subscriber", json_subscriber(), true, event),
                logforth_peer::peer(JSON_DIAGNOSTIC),
                rasant(OutputFormat::Json, true),
                log_io(log_io::format::JsonFormat::new(), true),
            ],
        },
        Case {
            key: "lifecycle",
            name: "span lifecycle: create, enter, exit, close",
            about: "`info_span!(\"handle_payload\", component = \"backend\", id = i)` entered and \
                    dropped, with its SPAN_CREATED and SPAN_CLOSED lines (tracewire), NEW and \
                    CLOSE (fmt), no line (json-subscriber has no span events), or one JSON record \
                    per span (fastrace `LocalSpan` + a JSON reporter). logforth, rasant and log-io \
                    have no spans.",
            required: span_keys(),
            peers: vec![
                traced(
                    "tracewire",
                    tracewire(Format::Jsonl, "info"),
                    false,
                    lifecycle,
                ),
                traced(
                    "fmt().json()",
                    fmt_json(FmtSpan::NEW | FmtSpan::CLOSE),
                    false,
                    lifecycle,
                ),
                traced("json-subscriber", json_subscriber(), false, lifecycle),
                fastrace_peer::peer(),
            ],
        },
        Case {
            key: "readable",
            name: "readable event, message + 3 fields",
            about: "The event as one human-readable line, no colour: tracewire's readable format, \
                    `fmt()`, logforth's `TextLayout`, rasant's `Full`, log-io's `HumanFormat`.",
            required: Vec::new(),
            peers: vec![
                traced(
                    "tracewire",
                    tracewire(Format::Readable, "info"),
                    false,
                    event,
                ),
                traced("fmt()", fmt_text(), false, event),
                logforth_peer::peer(TEXT),
                rasant(OutputFormat::Full, false),
                log_io(log_io::format::HumanFormat::new(), false),
            ],
        },
    ]
}

/// The names peers give the contract's keys (a key present under one of them counts).
fn names(key: &'static str) -> Vec<&'static str> {
    match key {
        "time" => vec!["time", "timestamp", "ts", "begin_time_unix_ns"],
        "message" => vec!["message", "msg"],
        "file" => vec!["file", "filename"],
        "line" => vec!["line", "line_number"],
        "target" => vec!["target", "module", "module_path"],
        "span_name" => vec!["span_name", "name"],
        "time.busy_us" => vec!["time.busy_us", "time.busy"],
        "time.idle_us" => vec!["time.idle_us", "time.idle"],
        "time.duration_us" => vec!["time.duration_us", "duration_ns"],
        other => vec![other],
    }
}

fn keys(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                into.push(k.clone());
                keys(v, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, into)),
        _ => {}
    }
}

/// The contract's keys that none of `written`'s JSON lines carries, under any name at any depth.
pub(crate) fn leaves_out(required: &[&'static str], written: &[u8]) -> Vec<String> {
    let mut present = Vec::new();
    for line in written.split(|b| *b == b'\n') {
        if let Ok(value) = serde_json::from_slice::<Value>(line) {
            keys(&value, &mut present);
        }
    }
    required
        .iter()
        .filter(|key| !names(key).iter().any(|n| present.iter().any(|p| p == n)))
        .map(|k| (*k).to_owned())
        .collect()
}
