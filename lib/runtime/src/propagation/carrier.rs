//! Carriers: where propagation headers are read from and written to. The W3C logic is written
//! once against these traits; each transport adds one impl.

/// Reads header values by lowercase name.
pub trait Extractor {
    /// Every value of `name`, in order; non-UTF-8 values are reported as `None` entries.
    fn get_all(&self, name: &str) -> Vec<Option<&str>>;
}

/// Writes header values by lowercase name.
pub trait Injector {
    /// Sets `name` to `value`, replacing any earlier value.
    fn set(&mut self, name: &'static str, value: String);
}

impl Extractor for http::HeaderMap {
    fn get_all(&self, name: &str) -> Vec<Option<&str>> {
        http::HeaderMap::get_all(self, name)
            .iter()
            .map(|v| v.to_str().ok())
            .collect()
    }
}

impl Injector for http::HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        // Every value tracewire writes was validated or built from hex and ASCII.
        if let Ok(value) = http::HeaderValue::try_from(value) {
            self.insert(name, value);
        }
    }
}
