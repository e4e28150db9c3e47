//! The TOML configuration file from arbitrary text: no panic; an error is one line naming the
//! file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tracewire_runtime::logging::Config;

fuzz_target!(|text: &str| {
    if let Err(e) = Config::from_toml("fuzz.toml", text) {
        let m = e.to_string();
        assert!(m.starts_with("fuzz.toml:") && !m.contains('\n'), "{m}");
    }
});
