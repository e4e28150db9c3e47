//! DYN_LOG directives from arbitrary text: no panic; an error is one line naming DYN_LOG.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tracewire_runtime::{logging::{directives::parse_directives, LoggingConfig}, settings::Origin};

fuzz_target!(|text: &str| {
    match parse_directives(text, &Origin::Env("DYN_LOG")) {
        Ok(d) => drop(LoggingConfig::default().filter.overlay(d).build()),
        Err(e) => {
            let m = e.to_string();
            assert!(m.starts_with("DYN_LOG: ") && !m.contains('\n'), "{m}");
        }
    }
});
