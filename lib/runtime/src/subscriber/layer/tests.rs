use std::{collections::HashSet, sync::Barrier, time::Duration};

use serde_json::Value;
use tracing::{debug, debug_span, info, info_span, warn, Span};

use crate::{
    subscriber::{
        current_context, span_context,
        testing::{json, jsonl, lines, parse_line, with_dyn_log, Line},
        LoggingConfig,
    },
    trace::{RemoteContext, SpanId, TraceFlags, TraceId, TraceParent},
};

fn find<'a>(out: &'a [Line], message: &str, span: &str) -> &'a Line {
    out.iter()
        .find(|o| o.message == message && o.span() == span)
        .unwrap_or_else(|| panic!("no {message} for {span} in {out:#?}"))
}

#[test]
fn parent_child_grandchild_ids_link() {
    let out = json(&jsonl(), || {
        info_span!("parent").in_scope(|| {
            info_span!("child").in_scope(|| {
                info_span!("grandchild").in_scope(|| info!("deep"));
            });
        });
    });
    let (p, c, g) = (
        find(&out, "SPAN_CREATED", "parent"),
        find(&out, "SPAN_CREATED", "child"),
        find(&out, "SPAN_CREATED", "grandchild"),
    );
    assert!(p.parent_id.is_none(), "a root span has no parent_id");
    assert_eq!(c.parent_id, p.span_id);
    assert_eq!(g.parent_id, c.span_id);
    assert!(out.iter().all(|o| o.trace_id == p.trace_id), "one trace");
    let event = out.iter().find(|o| o.message == "deep").unwrap();
    assert_eq!(
        (&event.span_id, &event.parent_id, &event.span_name),
        (&g.span_id, &c.span_id, &g.span_name)
    );
    for name in ["parent", "child", "grandchild"] {
        let (busy, idle, duration) = find(&out, "SPAN_CLOSED", name).timings();
        assert_eq!(busy + idle, duration, "{name}");
    }
    assert_eq!(out.iter().filter(|o| o.message == "SPAN_CLOSED").count(), 3);
}

#[test]
fn separate_roots_get_separate_traces() {
    let out = json(&jsonl(), || {
        info_span!("a").in_scope(|| {});
        info_span!("b").in_scope(|| {});
    });
    assert_ne!(
        find(&out, "SPAN_CREATED", "a").trace_id,
        find(&out, "SPAN_CREATED", "b").trace_id
    );
}

#[test]
fn a_child_takes_its_real_parent_not_the_entered_span() {
    let out = json(&jsonl(), || {
        let request = info_span!("request");
        let other = info_span!("other");
        other.in_scope(|| {
            let child = info_span!(parent: &request, "child");
            child.in_scope(|| info!("inside child"));
            info!(parent: &request, "explicit parent event");
        });
    });
    let (request, other, child) = (
        find(&out, "SPAN_CREATED", "request"),
        find(&out, "SPAN_CREATED", "other"),
        find(&out, "SPAN_CREATED", "child"),
    );
    assert_eq!(child.parent_id, request.span_id);
    assert_eq!(child.trace_id, request.trace_id);
    assert_ne!(child.trace_id, other.trace_id);
    let event = out
        .iter()
        .find(|o| o.message == "explicit parent event")
        .unwrap();
    assert_eq!(
        event.span_id, request.span_id,
        "an event with an explicit parent is in that span"
    );
}

#[test]
fn a_remote_parent_continues_the_callers_trace() {
    let remote = RemoteContext {
        parent: Some(TraceParent {
            trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            parent_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            flags: TraceFlags(0x03),
            trace_state: Some("vendor=abc".into()),
        }),
        x_request_id: Some("8372eac7-5f43-4d76-beca-0a94cfb311d0".into()),
        baggage: None,
    };
    let mut contexts = Vec::new();
    let out = json(&jsonl(), || {
        let local = info_span!("local");
        let _entered = local.enter();
        let span = info_span!(
            "handle_payload",
            remote_parent = remote.field(),
            component = "backend"
        );
        let after = info_span!("after");
        span.in_scope(|| {
            info_span!("engine").in_scope(|| {
                info!("token");
                contexts.push(current_context().unwrap());
            })
        });
        contexts.push(span_context(&after).unwrap());
    });
    let hp = find(&out, "SPAN_CREATED", "handle_payload");
    assert_eq!(
        hp.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(
        hp.parent_id.as_deref(),
        Some("00f067aa0ba902b7"),
        "the remote span wins over the entered local one"
    );
    assert_eq!(
        hp.x_request_id.as_deref(),
        Some("8372eac7-5f43-4d76-beca-0a94cfb311d0")
    );
    assert_eq!(hp["component"], "backend");
    assert!(
        !hp.has("remote_parent"),
        "the carrier field is not written: {hp:?}"
    );
    let token = out.iter().find(|o| o.message == "token").unwrap();
    assert_eq!(token.trace_id, hp.trace_id);
    assert_eq!(
        token.x_request_id, hp.x_request_id,
        "inherited by grandchildren and their events"
    );
    let engine = &contexts[0];
    assert_eq!(
        (engine.flags, engine.trace_state.as_deref()),
        (TraceFlags(0x03), Some("vendor=abc"))
    );
    let after = &contexts[1];
    assert_ne!(
        after.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "only the span given the remote parent takes it"
    );
    assert_eq!(after.parent_id, Some(span_context_id(&out, "local")));
}

#[test]
fn a_request_id_of_any_type_is_the_identity_and_never_a_field() {
    let out = lines(&jsonl(), || {
        info_span!("numeric", x_request_id = 42_u64).in_scope(|| info!("in numeric"));
        let remote = RemoteContext {
            x_request_id: Some("from-caller".into()),
            ..RemoteContext::default()
        };
        info_span!("both", remote_parent = remote.field(), x_request_id = %"own")
            .in_scope(|| info!("in both"));
    });
    for line in &out {
        let o = parse_line(line);
        let want = if o.span() == "numeric" { "42" } else { "own" };
        assert_eq!(o.x_request_id.as_deref(), Some(want), "{line}");
        assert_eq!(line.matches("x_request_id").count(), 1, "{line}");
    }
    assert_eq!(out.len(), 6);
}

fn span_context_id(out: &[Line], name: &str) -> SpanId {
    let created = find(out, "SPAN_CREATED", name);
    SpanId::from_hex(created.span_id.as_deref().unwrap()).unwrap()
}

#[test]
fn x_request_id_from_a_span_field_is_inherited_and_written_once() {
    let raw = lines(&jsonl(), || {
        info_span!("http-request", method = "POST", x_request_id = "req-7").in_scope(|| {
            info_span!("handle").in_scope(|| info!("working"));
        });
    });
    for line in &raw {
        let o = parse_line(line);
        assert_eq!(o.x_request_id.as_deref(), Some("req-7"), "{line}");
    }
}

#[test]
fn fields_recorded_later_appear_in_later_lines() {
    let out = json(&jsonl(), || {
        let span = info_span!(
            "http-request",
            method = "GET",
            status = tracing::field::Empty,
            model = tracing::field::Empty
        );
        span.in_scope(|| info!("before"));
        span.record("status", 200);
        span.record("model", "Qwen/Qwen3-0.6B");
        span.in_scope(|| info!("after"));
        span.record("status", 404);
        drop(span);
    });
    let before = out.iter().find(|o| o.message == "before").unwrap();
    assert!(
        !before.has("status") && !before.has("model"),
        "an empty field is absent"
    );
    let after = out.iter().find(|o| o.message == "after").unwrap();
    assert_eq!(
        (&after["status"], &after["model"]),
        (&Value::from(200), &Value::from("Qwen/Qwen3-0.6B"))
    );
    let closed = find(&out, "SPAN_CLOSED", "http-request");
    assert_eq!(closed["status"], 404, "re-recorded in place");
}

#[test]
fn filtering_hides_lines_but_never_trace_identity() {
    let config = with_dyn_log(jsonl(), "warn");
    let mut ctx = None;
    let out = json(&config, || {
        info_span!("http-request").in_scope(|| {
            info!("hidden");
            ctx = current_context();
            warn!("shown");
        });
    });
    assert_eq!(
        out.len(),
        1,
        "no span events or INFO lines at warn: {out:?}"
    );
    let shown = &out[0];
    assert_eq!(shown.message, "shown");
    let ctx = ctx.expect("the INFO span exists and has an identity at DYN_LOG=warn");
    assert_eq!(shown.trace_id, Some(ctx.trace_id.to_string()));
    assert_eq!(shown.span_id, Some(ctx.span_id.to_string()));

    let config = with_dyn_log(jsonl(), "off");
    let mut ctx = None;
    assert!(lines(&config, || info_span!("s")
        .in_scope(|| ctx = current_context()))
    .is_empty());
    assert!(ctx.is_some(), "identity survives DYN_LOG=off");
}

#[test]
fn each_layer_decides_span_events_for_itself_on_the_same_thread() {
    // One callsite, three layers in turn on this thread: what one layer's filter decided
    // about the callsite must not leak into another's.
    let work = || info_span!("work").in_scope(|| warn!("w"));
    let count = |dyn_log: &str| json(&with_dyn_log(jsonl(), dyn_log), work).len();
    assert_eq!(count("info"), 3, "SPAN_CREATED, the event, SPAN_CLOSED");
    assert_eq!(count("warn"), 1, "the event alone");
    assert_eq!(count("info"), 3);
}

#[test]
fn debug_spans_follow_the_filter() {
    let mut ctx = Some(None);
    let out = json(&jsonl(), || {
        debug_span!("chatty").in_scope(|| {
            ctx = Some(current_context());
            debug!("hidden");
        })
    });
    assert!(out.is_empty());
    assert_eq!(ctx, Some(None), "a disabled DEBUG span does not exist");

    let out = json(
        &with_dyn_log(jsonl(), "info,tracewire_runtime=debug"),
        || debug_span!("chatty").in_scope(|| debug!("shown")),
    );
    assert_eq!(out.len(), 3);
}

#[test]
fn busy_time_is_the_time_entered_counted_once_when_re_entered() {
    let out = json(&jsonl(), || {
        let span = info_span!("work");
        {
            let _outer = span.enter();
            let _inner = span.enter();
            std::thread::sleep(Duration::from_millis(30));
        }
        std::thread::sleep(Duration::from_millis(30));
    });
    let closed = find(&out, "SPAN_CLOSED", "work");
    let (busy, idle, _) = closed.timings();
    assert!(busy >= 30_000, "{closed:?}");
    // Not entered for the second sleep: counting the inner entry as well would eat it.
    assert!(idle >= 30_000, "{closed:?}");
}

#[test]
fn time_entered_on_another_thread_is_busy_time() {
    let out = json(&jsonl(), || {
        let span = info_span!("work");
        let dispatch = tracing::dispatcher::get_default(|d| d.clone());
        std::thread::scope(|s| {
            s.spawn(|| {
                tracing::dispatcher::with_default(&dispatch, || {
                    let _entered = span.enter();
                    std::thread::sleep(Duration::from_millis(30));
                })
            });
        });
    });
    let closed = find(&out, "SPAN_CLOSED", "work");
    assert!(closed.timings().0 >= 30_000, "{closed:?}");
}

#[test]
fn span_events_can_be_turned_off() {
    let config = LoggingConfig {
        span_events: Some(false),
        ..jsonl()
    };
    let out = json(&config, || info_span!("s").in_scope(|| info!("only")));
    assert_eq!(out.len(), 1);
    assert!(out[0].trace_id.is_some(), "ids stay without span events");
}

#[test]
fn lines_from_eight_threads_are_never_interleaved() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 300;
    let barrier = Barrier::new(THREADS);
    let long = "x".repeat(3000);
    let raw = lines(&jsonl(), || {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (dispatch, barrier, long) = (dispatch.clone(), &barrier, &long);
                s.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        barrier.wait();
                        let span = info_span!("worker", thread = t);
                        let _e = span.enter();
                        for i in 0..PER_THREAD {
                            info!(i, payload = long.as_str(), "event");
                        }
                    })
                });
            }
        });
    });
    assert_eq!(raw.len(), THREADS * (PER_THREAD + 2));
    let mut seen = HashSet::new();
    for line in &raw {
        let o = parse_line(line);
        if o.message == "event" {
            assert_eq!(o["payload"].as_str().map(str::len), Some(3000));
            assert!(
                seen.insert((o["thread"].as_u64().unwrap(), o["i"].as_u64().unwrap())),
                "each event once"
            );
        }
    }
    assert_eq!(seen.len(), THREADS * PER_THREAD);
}

#[test]
fn no_subscriber_means_no_context() {
    assert!(current_context().is_none());
    assert!(span_context(&Span::none()).is_none());
}

#[test]
fn a_layer_counts_its_lines_in_the_metrics_it_is_given() {
    use tracing_subscriber::layer::SubscriberExt;
    let own: &'static crate::metrics::Metrics = Box::leak(Box::default());
    let sink = crate::subscriber::MemorySink::default();
    let layer = crate::subscriber::TracewireLayer::new(&jsonl(), sink.clone()).with_metrics(own);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        info!("counted");
        warn!("counted too");
    });
    assert_eq!(sink.lines().len(), 2);
    let text = own.encode();
    for want in [
        "tracewire_log_lines_total{level=\"INFO\"} 1",
        "tracewire_log_lines_total{level=\"WARN\"} 1",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
}
