use super::*;

const T: &str = "1a36fea12abb735cba6172052dc870f3";

/// A line of process `p` at `ms` milliseconds, with these keys after the fixed ones.
fn line(p: usize, ms: i64, level: &str, message: &str, extra: &str) -> (usize, String) {
    let total = 1_000_000 + ms;
    let (secs, micros) = (total / 1_000, total % 1_000 * 1_000);
    let time = format!(
        "2026-12-03T17:{:02}:{:02}.{micros:06}Z",
        secs / 60 % 60,
        secs % 60
    );
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    (
        p,
        format!(
            r#"{{"time":"{time}","level":"{level}","target":"t","message":"{message}"{extra}}}"#
        ),
    )
}

fn span_line(
    p: usize,
    ms: i64,
    message: &str,
    name: &str,
    id: &str,
    parent: Option<&str>,
    extra: &str,
) -> (usize, String) {
    let parent = parent
        .map(|p| format!(r#","parent_id":"{p}""#))
        .unwrap_or_default();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    line(
        p,
        ms,
        "INFO",
        message,
        &format!(
            r#""span_name":"{name}","trace_id":"{T}","span_id":"{id}"{parent},"x_request_id":"r-1"{extra}"#
        ),
    )
}

fn closed(
    p: usize,
    ms: i64,
    name: &str,
    id: &str,
    parent: Option<&str>,
    busy: u64,
    idle: u64,
) -> (usize, String) {
    let timing = format!(
        r#""time.busy_us":{busy},"time.idle_us":{idle},"time.duration_us":{}"#,
        busy + idle
    );
    span_line(p, ms, "SPAN_CLOSED", name, id, parent, &timing)
}

fn traces(lines: &[(usize, String)]) -> Vec<Trace> {
    let records = lines
        .iter()
        .map(|(p, l)| {
            (
                *p,
                Record::parse(l.as_bytes(), true)
                    .expect("a test line parses")
                    .into_owned(),
            )
        })
        .collect();
    build(records)
}

const ROOT: &str = "00000000000000a1";
const CHILD: &str = "00000000000000b2";
const GRANDCHILD: &str = "00000000000000c3";

/// Frontend (process 0) http-request → worker (process 1) handle_payload → prefill, given out
/// of order as two files would be.
fn three_spans() -> Vec<(usize, String)> {
    vec![
        span_line(
            1,
            20,
            "SPAN_CREATED",
            "handle_payload",
            CHILD,
            Some(ROOT),
            r#""component":"backend""#,
        ),
        span_line(
            1,
            25,
            "generating",
            "handle_payload",
            CHILD,
            Some(ROOT),
            r#""component":"backend","max_tokens":4"#,
        ),
        span_line(
            1,
            30,
            "SPAN_CREATED",
            "prefill",
            GRANDCHILD,
            Some(CHILD),
            "",
        ),
        closed(1, 40, "prefill", GRANDCHILD, Some(CHILD), 8_000, 2_000),
        closed(1, 60, "handle_payload", CHILD, Some(ROOT), 10_000, 30_000),
        span_line(
            0,
            0,
            "SPAN_CREATED",
            "http-request",
            ROOT,
            None,
            r#""method":"POST""#,
        ),
        span_line(
            0,
            90,
            "request completed",
            "http-request",
            ROOT,
            None,
            r#""status":200,"outcome":"ok""#,
        ),
        closed(0, 100, "http-request", ROOT, None, 25_000, 75_000),
    ]
}

#[test]
fn spans_nest_across_processes_on_one_time_axis() {
    let [trace] = traces(&three_spans()).try_into().expect("one trace");
    let names: Vec<(&str, usize, usize)> = trace
        .spans
        .iter()
        .map(|s| (&*s.name, s.depth, s.process))
        .collect();
    assert_eq!(
        names,
        [
            ("http-request", 0, 0),
            ("handle_payload", 1, 1),
            ("prefill", 2, 1)
        ]
    );
    assert_eq!(trace.spans[1].parent, Some(0));
    assert_eq!(trace.spans[2].parent, Some(1));
    assert_eq!(
        (trace.start_us % 1_000_000, trace.duration_us()),
        (0, 100_000)
    );
    let child = &trace.spans[1];
    assert_eq!(
        (
            child.start_us - trace.start_us,
            child.duration_us,
            child.busy_us
        ),
        (20_000, Some(40_000), Some(10_000))
    );
    assert_eq!(child.lines.len(), 1, "its event, not its span lines");
    assert_eq!(child.lines[0].message, "generating");
    assert_eq!(trace.x_request_id.as_deref(), Some("r-1"));
    assert_eq!(
        trace.processes,
        [0, 1],
        "in order of their first line in time"
    );
    assert!(
        trace.spans.iter().all(|s| s.marks == Marks::default()),
        "{:?}",
        trace.spans
    );
}

#[test]
fn a_process_killed_mid_request_leaves_spans_marked_never_closed() {
    let mut lines = three_spans();
    lines.retain(|(p, l)| !(*p == 1 && l.contains("SPAN_CLOSED")));
    lines.push(span_line(
        1,
        55,
        "still generating",
        "prefill",
        GRANDCHILD,
        Some(CHILD),
        "",
    ));
    let [trace] = traces(&lines).try_into().expect("one trace");
    let [root, child, grandchild] = &trace.spans[..] else {
        panic!("three spans")
    };
    assert!(!root.marks.never_closed);
    assert!(child.marks.never_closed && grandchild.marks.never_closed);
    assert_eq!(
        grandchild.end_us - trace.start_us,
        55_000,
        "to its last line"
    );
    assert_eq!(
        child.end_us, grandchild.end_us,
        "a span never closed lasts as long as its children"
    );
    assert_eq!(child.duration_us, None);
}

#[test]
fn a_span_whose_creation_rotated_away_starts_at_close_less_duration() {
    let mut lines = three_spans();
    lines.retain(|(_, l)| {
        !(l.contains("SPAN_CREATED") && l.contains(CHILD) && l.contains("handle_payload"))
    });
    let [trace] = traces(&lines).try_into().expect("one trace");
    let child = trace.spans.iter().find(|s| s.span_id == CHILD).unwrap();
    assert!(child.marks.no_created);
    assert_eq!(child.start_us - trace.start_us, 20_000, "60ms - 40ms");
    assert_eq!(child.depth, 1);
}

#[test]
fn a_parent_not_in_the_input_is_marked_and_its_child_shown_at_the_top() {
    let mut lines = three_spans();
    lines.retain(|(p, _)| *p == 1);
    let [trace] = traces(&lines).try_into().expect("one trace");
    assert_eq!(trace.spans[0].span_id, CHILD);
    assert_eq!(trace.spans[0].depth, 0);
    assert!(trace.spans[0].marks.parent_missing);
    assert_eq!(trace.spans[0].parent_id.as_deref(), Some(ROOT));
    assert!(!trace.spans[1].marks.parent_missing);
}

#[test]
fn a_child_that_starts_before_its_parent_is_marked_as_clock_skew() {
    let mut lines = three_spans();
    // The worker's clock runs 30 ms behind: its span starts before the frontend's.
    for (p, l) in &mut lines {
        if *p == 1 {
            let shifted = l.replace("17:16:40.020000Z", "17:16:39.990000Z");
            *l = shifted;
        }
    }
    let [trace] = traces(&lines).try_into().expect("one trace");
    let child = trace.spans.iter().find(|s| s.span_id == CHILD).unwrap();
    assert!(child.marks.before_parent, "{:?}", child);
    assert_eq!(child.depth, 1, "still nested under its parent");
    assert!(
        trace.start_us < trace.spans[0].start_us,
        "the axis starts at the earliest span"
    );
}

#[test]
fn parent_links_that_loop_are_broken_and_marked_never_dropped() {
    let lines = vec![
        span_line(0, 0, "SPAN_CREATED", "a", ROOT, Some(CHILD), ""),
        span_line(0, 1, "SPAN_CREATED", "b", CHILD, Some(ROOT), ""),
        span_line(
            0,
            2,
            "SPAN_CREATED",
            "self",
            GRANDCHILD,
            Some(GRANDCHILD),
            "",
        ),
    ];
    let [trace] = traces(&lines).try_into().expect("one trace");
    assert_eq!(trace.spans.len(), 3, "every span is shown");
    assert_eq!(
        trace.spans.iter().filter(|s| s.marks.parent_loop).count(),
        2
    );
    assert_eq!(trace.spans.iter().filter(|s| s.depth == 0).count(), 2);
}

#[test]
fn a_chain_deeper_than_any_stack_builds() {
    let ids: Vec<String> = (1..=50_000u64).map(|i| format!("{i:016x}")).collect();
    let lines: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            span_line(
                0,
                i as i64 / 1000,
                "SPAN_CREATED",
                "s",
                id,
                i.checked_sub(1).map(|p| ids[p].as_str()),
                "",
            )
        })
        .collect();
    let [trace] = traces(&lines).try_into().expect("one trace");
    assert_eq!(trace.spans.last().map(|s| s.depth), Some(49_999));
}

#[test]
fn lines_of_several_traces_build_several_traces_oldest_first() {
    let mut lines = three_spans();
    let other = "2b36fea12abb735cba6172052dc870f3";
    lines.push(line(
        0,
        -5,
        "INFO",
        "SPAN_CREATED",
        &format!(r#""span_name":"early","trace_id":"{other}","span_id":"{ROOT}""#),
    ));
    let traces = traces(&lines);
    assert_eq!(
        traces
            .iter()
            .map(|t| t.trace_id.as_str())
            .collect::<Vec<_>>(),
        [other, T]
    );
}
