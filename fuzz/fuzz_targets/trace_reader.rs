//! Any bytes as the JSONL of three processes through tracewire-trace's reader: the line parser,
//! `list`'s summaries, the trace builder and every output. No panic, no span lost or shown twice,
//! every child below its parent, and no `</` of the input inside the page's script.
#![no_main]
use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use tracewire_trace::{
    input, model,
    record::Record,
    render::{chrome, html, otlp_json, terminal},
    summary::Summaries,
};

fuzz_target!(|data: &[u8]| {
    let processes = vec!["frontend".to_owned(), "worker".to_owned(), "stdin".to_owned()];
    let mut summaries = Summaries::default();
    let mut kept = Vec::new();
    // Each line goes to the process its first byte picks; lines are also read in blocks, as
    // the reader does, through `each_line` on the whole input.
    let _ = input::each_line(data, |line| {
        let process = line.first().map_or(0, |b| usize::from(*b) % 3);
        let _ = summaries.add_line(process, line);
        if let Ok(r) = Record::parse(line, true) {
            kept.push((process, r.into_owned()));
        }
    });
    let listed = summaries.finish(&processes);
    let mut spans_by_trace: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, r) in &kept {
        if let (Some(t), Some(s)) = (&r.trace_id, &r.span_id) {
            spans_by_trace.entry(t.to_string()).or_default().insert(s.to_string());
        }
    }
    let traces = model::build(kept);
    assert_eq!(traces.len(), listed.len(), "list and show see the same traces");
    for trace in &traces {
        let ids: BTreeSet<String> = trace.spans.iter().map(|s| s.span_id.clone()).collect();
        assert_eq!(ids.len(), trace.spans.len(), "each span once");
        assert_eq!(Some(&ids), spans_by_trace.get(&trace.trace_id).or(Some(&BTreeSet::new())));
        for (i, span) in trace.spans.iter().enumerate() {
            if let Some(p) = span.parent {
                assert!(p < i, "a parent comes before its children");
                assert_eq!(span.depth, trace.spans[p].depth + 1);
            } else {
                assert_eq!(span.depth, 0);
            }
        }
        let style = terminal::Style { color: false, width: 80, lines: true, cut_lines: true };
        let text = terminal::waterfall(trace, &processes, &style);
        for row in text.lines().filter(|l| l.ends_with('|')) {
            assert!(row.chars().count() <= 80, "{row}");
        }
    }
    let page = html::page(&traces, &processes);
    let script = page.split(r#"<script type="application/json" id="trace-data">"#).nth(1).and_then(|s| s.split("</script>").next());
    assert!(script.is_some_and(|s| !s.contains("</") && !s.contains("<!--")));
    let _ = chrome::chrome_trace(&traces, &processes).to_string();
    let _ = otlp_json::export_request(&traces, &processes).to_string();
});
