//! Carriers: where propagation headers are read from and written to. The W3C logic and the
//! request id are written once against these traits; each transport adds one impl.

/// Reads header values by lowercase name.
pub trait Extractor {
    /// Every value of `name`, in order, as raw bytes (a transport may carry bytes that are not
    /// text; the readers validate them).
    fn get_all(&self, name: &str) -> Vec<&[u8]>;
}

/// Writes header values by lowercase name.
pub trait Injector {
    /// Sets `name` to `value`, replacing any earlier value.
    fn set(&mut self, name: &'static str, value: String);
}

impl Extractor for http::HeaderMap {
    fn get_all(&self, name: &str) -> Vec<&[u8]> {
        http::HeaderMap::get_all(self, name)
            .iter()
            .map(http::HeaderValue::as_bytes)
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
