//! traceparent, tracestate and x-request-id from arbitrary bytes: no panic, and what is
//! accepted writes back as valid.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tracewire_runtime::propagation::{format_traceparent, parse_traceparent, validate_request_id, validate_tracestate};

fuzz_target!(|data: &[u8]| {
    let _ = validate_request_id(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(p) = parse_traceparent(text) {
            let again = format_traceparent(p.trace_id, p.parent_id, p.flags);
            assert!(parse_traceparent(&again).is_ok());
        }
        if let Some(valid) = validate_tracestate(text) {
            assert_eq!(validate_tracestate(&valid).as_deref(), Some(valid.as_str()));
        }
    }
});
