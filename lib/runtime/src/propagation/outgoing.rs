//! A call to another process: the current span's `traceparent`, `tracestate`, `x-request-id`
//! and `baggage` written into any [`Injector`].

use super::{
    baggage::BAGGAGE,
    carrier::Injector,
    request_id::X_REQUEST_ID_HEADER,
    trace_context::{format_traceparent, TRACEPARENT, TRACESTATE},
};
use crate::{logging::current_context, trace::SpanContext};

/// Writes the current span's `traceparent`, `tracestate`, `x-request-id` and `baggage` into
/// `headers` (an outgoing request's). Writes nothing outside a span.
///
/// ```
/// # use tracing_subscriber::layer::SubscriberExt;
/// # let layer = tracewire_runtime::logging::TracewireLayer::new(&Default::default(), tracewire_runtime::logging::MemorySink::default());
/// # tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
/// let span = tracing::info_span!("http-request", x_request_id = "req-1");
/// let mut outgoing = http::HeaderMap::new();
/// span.in_scope(|| tracewire_runtime::propagation::inject_current(&mut outgoing));
/// assert!(outgoing["traceparent"].to_str().unwrap().starts_with("00-"));
/// assert_eq!(outgoing["x-request-id"], "req-1");
/// # });
/// ```
pub fn inject_current(headers: &mut http::HeaderMap) {
    inject_into(headers);
}

/// [`inject_current`] for any carrier.
pub fn inject_into(carrier: &mut (impl Injector + ?Sized)) {
    if let Some(ctx) = current_context() {
        inject_context(&ctx, carrier);
    }
}

/// Writes `ctx`'s headers into `carrier`: what a call made on its behalf carries.
pub fn inject_context(ctx: &SpanContext, carrier: &mut (impl Injector + ?Sized)) {
    carrier.set(
        TRACEPARENT,
        format_traceparent(ctx.trace_id, ctx.span_id, ctx.flags),
    );
    if let Some(state) = &ctx.trace_state {
        carrier.set(TRACESTATE, state.to_string());
    }
    if let Some(id) = &ctx.x_request_id {
        carrier.set(X_REQUEST_ID_HEADER, id.to_string());
    }
    if let Some(baggage) = &ctx.baggage {
        carrier.set(BAGGAGE, baggage.to_string());
    }
}

/// The cases of the W3C Trace Context test suite (github.com/w3c/trace-context, `test/test.py`,
/// `SPEC_LEVEL=2 STRICT_LEVEL=2`: 41 tests), as its test service meets them: a request with the
/// given headers, its span opened by [`continue_trace`](super::continue_trace), and one call per
/// callback, each in a span of its own, carrying what [`inject_into`] writes. The assertions
/// are the suite's, read through its parser (duplicate keys: the first kept).
#[cfg(test)]
mod w3c_suite {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use tracing::info_span;

    use super::*;
    use crate::{
        logging::testing::{jsonl, lines},
        propagation::continue_trace,
    };

    const T: &str = "12345678901234567890123456789012";
    const P: &str = "1234567890123456";

    /// What the harness reads of one callback.
    #[derive(Debug)]
    struct Callback {
        version: String,
        trace_id: String,
        parent_id: String,
        flags: u8,
        /// The suite's `Tracestate`: members in order, the first of duplicate keys kept.
        state: Vec<(String, String)>,
    }

    impl Callback {
        fn get(&self, key: &str) -> Option<&str> {
            self.state
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }

        fn state_text(&self) -> String {
            let members: Vec<String> = self.state.iter().map(|(k, v)| format!("{k}={v}")).collect();
            members.join(",")
        }
    }

    /// The service: one request with `headers`, `calls` callbacks.
    fn service(headers: &[(&str, &str)], calls: usize) -> Vec<Callback> {
        let mut incoming = HeaderMap::new();
        for (name, value) in headers {
            incoming.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        let mut sent = Vec::new();
        lines(&jsonl(), || {
            let (span, _) = continue_trace(&incoming, |remote| {
                info_span!("test", remote_parent = remote)
            });
            span.in_scope(|| {
                for _ in 0..calls {
                    info_span!("callback").in_scope(|| {
                        let mut outgoing = HeaderMap::new();
                        inject_into(&mut outgoing);
                        sent.push(outgoing);
                    });
                }
            });
        });
        sent.iter().map(read_callback).collect()
    }

    fn read_callback(headers: &HeaderMap) -> Callback {
        let parents: Vec<_> = headers.get_all("traceparent").iter().collect();
        assert_eq!(parents.len(), 1, "expect one traceparent header");
        let text = parents[0].to_str().unwrap();
        let parts: Vec<&str> = text.split('-').collect();
        assert_eq!(parts.len(), 4, "{text}");
        let mut state: Vec<(String, String)> = Vec::new();
        for value in headers.get_all("tracestate") {
            for member in value.to_str().unwrap().split(',') {
                let member = member.trim_matches([' ', '\t']);
                if member.is_empty() {
                    continue;
                }
                let (k, v) = member.split_once('=').expect("key=value");
                if !state.iter().any(|(key, _)| key == k) {
                    state.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        Callback {
            version: parts[0].to_owned(),
            trace_id: parts[1].to_owned(),
            parent_id: parts[2].to_owned(),
            flags: u8::from_str_radix(parts[3], 16).unwrap(),
            state,
        }
    }

    fn one(headers: &[(&str, &str)]) -> Callback {
        let mut out = service(headers, 1);
        let c = out.remove(0);
        assert_eq!(c.version, "00");
        assert!(c.trace_id.len() == 32 && c.parent_id.len() == 16, "{c:?}");
        c
    }

    fn tp(value: &str) -> (&'static str, String) {
        ("traceparent", value.to_owned())
    }

    fn refs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    fn continued(header: &str) -> bool {
        one(&[("traceparent", header)]).trace_id == T
    }

    /// A traceparent the suite expects to be refused: a new trace starts.
    fn restarts(cases: &[&str]) {
        for case in cases {
            let c = one(&[("traceparent", case)]);
            assert_ne!(c.trace_id, T, "{case}");
        }
    }

    fn with_state(states: &[&str]) -> Callback {
        let parent = format!("00-{T}-{P}-00");
        let mut headers = vec![("traceparent", parent.as_str())];
        headers.extend(states.iter().map(|s| ("tracestate", *s)));
        let c = one(&headers);
        assert_eq!(c.trace_id, T, "the traceparent is kept: {states:?}");
        c
    }

    #[test]
    fn trace_context_test_traceparent() {
        // test_both_traceparent_and_tracestate_missing
        one(&[]);
        // test_traceparent_included_tracestate_missing
        let c = one(&[("traceparent", &format!("00-{T}-{P}-01"))]);
        assert_eq!(c.trace_id, T);
        assert_ne!(c.parent_id, P);
        // test_traceparent_duplicated
        let dup = [
            tp("00-12345678901234567890123456789011-1234567890123456-01"),
            tp(&format!("00-{T}-{P}-01")),
        ];
        let c = one(&refs(&dup));
        assert!(c.trace_id != T && c.trace_id != "12345678901234567890123456789011");
        // test_traceparent_header_name
        for name in ["trace-parent", "trace.parent"] {
            assert_ne!(
                one(&[(name, &format!("00-{T}-{P}-01"))]).trace_id,
                T,
                "{name}"
            );
        }
        // test_traceparent_header_name_valid_casing
        for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
            assert_eq!(
                one(&[(name, &format!("00-{T}-{P}-01"))]).trace_id,
                T,
                "{name}"
            );
        }
        // test_traceparent_version_0x00
        restarts(&[
            &format!("00-{T}-{P}-01."),
            &format!("00-{T}-{P}-01-what-the-future-will-be-like"),
        ]);
        // test_traceparent_version_0xcc
        assert!(continued(&format!("cc-{T}-{P}-01")));
        assert!(continued(&format!(
            "cc-{T}-{P}-01-what-the-future-will-be-like"
        )));
        restarts(&[&format!("cc-{T}-{P}-01.what-the-future-will-be-like")]);
        // test_traceparent_version_0xff
        restarts(&[&format!("ff-{T}-{P}-01")]);
        // test_traceparent_version_illegal_characters, _too_long, _too_short
        restarts(&[
            &format!(".0-{T}-{P}-01"),
            &format!("0.-{T}-{P}-01"),
            &format!("000-{T}-{P}-01"),
            &format!("0000-{T}-{P}-01"),
            &format!("0-{T}-{P}-01"),
        ]);
        // test_traceparent_trace_id_all_zero, _illegal_characters, _too_long, _too_short
        let zero = one(&[("traceparent", &format!("00-{}-{P}-01", "0".repeat(32)))]);
        assert_ne!(zero.trace_id, "0".repeat(32));
        for case in [
            format!("00-.2345678901234567890123456789012-{P}-01"),
            format!("00-1234567890123456789012345678901.-{P}-01"),
        ] {
            let c = one(&[("traceparent", &case)]);
            assert!(!c.trace_id.contains('.'), "{case}");
        }
        let long = one(&[("traceparent", &format!("00-{T}3-{P}-01"))]);
        assert!(long.trace_id != T && long.trace_id != "23456789012345678901234567890123");
        restarts(&[&format!("00-{}-{P}-01", &T[..31])]);
        // test_traceparent_parent_id_all_zero, _illegal_characters, _too_long, _too_short
        restarts(&[
            &format!("00-{T}-0000000000000000-01"),
            &format!("00-{T}-.234567890123456-01"),
            &format!("00-{T}-123456789012345.-01"),
            &format!("00-{T}-{P}7-01"),
            &format!("00-{T}-{}-01", &P[..15]),
        ]);
        // test_traceparent_trace_flags_illegal_characters, _too_long, _too_short
        restarts(&[
            &format!("00-{T}-{P}-.0"),
            &format!("00-{T}-{P}-0."),
            &format!("00-{T}-{P}-001"),
            &format!("00-{T}-{P}-1"),
        ]);
        // test_traceparent_ows_handling
        for case in [
            format!(" 00-{T}-{P}-01"),
            format!("\t00-{T}-{P}-01"),
            format!("00-{T}-{P}-01 "),
            format!("00-{T}-{P}-01\t"),
            format!("\t 00-{T}-{P}-01 \t"),
        ] {
            assert!(continued(&case), "{case:?}");
        }
    }

    #[test]
    fn trace_context_test_tracestate() {
        // test_tracestate_included_traceparent_missing
        let a = one(&[("tracestate", "foo=1")]);
        let b = one(&[("tracestate", "foo=1,bar=2")]);
        assert_eq!(a.state.len(), b.state.len());
        // test_tracestate_included_traceparent_included
        let c = with_state(&["foo=1,bar=2"]);
        assert_eq!((c.get("foo"), c.get("bar")), (Some("1"), Some("2")));
        // test_tracestate_header_name
        for name in ["trace-state", "trace.state"] {
            let c = one(&[("traceparent", &format!("00-{T}-{P}-00")), (name, "foo=1")]);
            assert_eq!(c.get("foo"), None, "{name}");
        }
        // test_tracestate_header_name_valid_casing
        for name in ["TraceState", "TrAcEsTaTe", "TRACESTATE"] {
            let c = one(&[("traceparent", &format!("00-{T}-{P}-00")), (name, "foo=1")]);
            assert_eq!(c.get("foo"), Some("1"), "{name}");
        }
        // test_tracestate_empty_header
        assert!(with_state(&[""]).state.is_empty());
        assert_eq!(with_state(&["foo=1", ""]).get("foo"), Some("1"));
        assert_eq!(with_state(&["", "foo=1"]).get("foo"), Some("1"));
        // test_tracestate_multiple_headers_different_keys
        let c = with_state(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]);
        assert_eq!(c.state_text(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        // test_tracestate_duplicated_keys
        assert!(with_state(&["foo=1,foo=1"]).state_text().contains("foo=1"));
        let c = with_state(&["foo=1,foo=2"]).state_text();
        assert!(c.contains("foo=1") || c.contains("foo=2"), "{c}");
        assert!(with_state(&["foo=1", "foo=1"])
            .state_text()
            .contains("foo=1"));
        let c = with_state(&["foo=1", "foo=2"]).state_text();
        assert!(c.contains("foo=1") || c.contains("foo=2"), "{c}");
        // test_tracestate_all_allowed_characters
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value: String = (0x20u8..=0x7e)
            .filter(|&c| c != b',' && c != b'=')
            .map(char::from)
            .collect();
        for key in [key.to_owned(), format!("{key}@a-z0-9_-*/")] {
            let c = with_state(&[&format!("{key}={value}")]);
            assert_eq!(c.get(&key), Some(value.as_str()), "{key}");
        }
        // test_tracestate_ows_handling
        for (state, keys) in [
            ("foo=1 \t , \t bar=2, \t baz=3", &["foo", "bar", "baz"][..]),
            ("foo=1\t \t,\t \tbar=2,\t \tbaz=3", &["foo", "bar", "baz"]),
            (" foo=1", &["foo"]),
            ("\tfoo=1", &["foo"]),
            ("foo=1 ", &["foo"]),
            ("foo=1\t", &["foo"]),
            ("\t foo=1 \t", &["foo"]),
        ] {
            let c = with_state(&[state]);
            for (i, key) in keys.iter().enumerate() {
                assert_eq!(c.get(key), Some(["1", "2", "3"][i]), "{state:?}");
            }
        }
        // test_tracestate_key_illegal_characters
        assert_eq!(with_state(&["foo =1"]).get("foo "), None);
        assert_eq!(with_state(&["FOO=1"]).get("FOO"), None);
        assert_eq!(with_state(&["foo.bar=1"]).get("foo.bar"), None);
        // test_tracestate_key_illegal_vendor_format
        for (state, key) in [
            ("foo@=1,bar=2", "foo@"),
            ("foo@@bar=1,bar=2", "foo@@bar"),
            ("foo@bar@baz=1,bar=2", "foo@bar@baz"),
        ] {
            let c = with_state(&[state]);
            assert_eq!(
                (c.get(key), c.get("bar")),
                (Some("1"), Some("2")),
                "{state}"
            );
        }
        assert_eq!(with_state(&["@foo=1,bar=2"]).get("bar"), None);
        // test_tracestate_member_count_limit
        let members = |n: usize| -> Vec<String> {
            let all: Vec<String> = (1..=n).map(|i| format!("bar{i:02}={i:02}")).collect();
            all.chunks(10).map(|c| c.join(",")).collect()
        };
        let thirty_two = members(32);
        let c = with_state(&thirty_two.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!((c.get("bar01"), c.state.len()), (Some("01"), 32));
        let thirty_three = members(33);
        let c = with_state(&thirty_three.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(c.get("bar01"), None);
        // test_tracestate_key_length_limit
        for key in [
            "z".repeat(256),
            format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            format!("{}@v", "t".repeat(242)),
            format!("t@{}", "v".repeat(15)),
        ] {
            let c = with_state(&["foo=1", &format!("{key}=1")]);
            assert_eq!((c.get("foo"), c.get(&key)), (Some("1"), Some("1")), "{key}");
        }
        let c = with_state(&["foo=1", &format!("{}=1", "z".repeat(257))]);
        assert_eq!(c.get("foo"), None);
        // test_tracestate_value_illegal_characters
        assert_eq!(with_state(&["foo=bar=baz"]).get("foo"), None);
        let c = with_state(&["foo=,bar=3"]);
        assert_eq!((c.get("foo"), c.get("bar")), (None, None));
    }

    #[test]
    fn advanced_test_and_level_2() {
        // test_multiple_requests_with_valid_traceparent
        let calls = service(&[("traceparent", &format!("00-{T}-{P}-01"))], 3);
        assert!(calls.iter().all(|c| c.trace_id == T));
        let parents: std::collections::HashSet<_> = calls.iter().map(|c| &c.parent_id).collect();
        assert_eq!(parents.len(), 3);
        // test_multiple_requests_without_traceparent
        let calls = service(&[], 3);
        let parents: std::collections::HashSet<_> = calls.iter().map(|c| &c.parent_id).collect();
        assert_eq!(parents.len(), 3);
        // test_multiple_requests_with_illegal_traceparent
        let calls = service(
            &[("traceparent", &format!("00-{}-{P}-01", "0".repeat(32)))],
            3,
        );
        assert!(calls.iter().all(|c| c.trace_id != "0".repeat(32)));
        let parents: std::collections::HashSet<_> = calls.iter().map(|c| &c.parent_id).collect();
        assert_eq!(parents.len(), 3);
        // TraceContext2Test.test_propagates_random_flag
        let c = one(&[("traceparent", &format!("00-{T}-{P}-02"))]);
        assert_eq!(c.trace_id, T);
        assert_ne!(c.parent_id, P);
        assert_eq!(c.flags & 0x02, 0x02, "random flag kept");
    }
}
