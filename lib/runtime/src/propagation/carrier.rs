//! Carriers: where propagation headers are read from and written to. The W3C logic and the
//! request id are written once against these traits; each transport adds one impl, here: HTTP
//! headers (`http::HeaderMap`) and NATS message headers (`async_nats::HeaderMap`).

use smallvec::SmallVec;

/// The values of one header, in order: held inline for the usual one or two, so that a look-up
/// does not allocate.
pub type Values<'a> = SmallVec<[&'a [u8]; 2]>;

/// Reads header values by lowercase name, and lists them all.
pub trait Extractor {
    /// Every value of `name`, in order, as raw bytes (a transport may carry bytes that are not
    /// text; the readers validate them).
    fn get_all(&self, name: &str) -> Values<'_>;

    /// Calls `visit` with each header's name and each of its values, in order: what the
    /// [`wire`](crate::wire) loggers show, redacted and escaped by one formatter for every
    /// carrier.
    fn each(&self, visit: &mut dyn FnMut(&str, &[u8]));
}

/// Writes header values by lowercase name.
pub trait Injector {
    /// Sets `name` to `value`, replacing any earlier value.
    fn set(&mut self, name: &'static str, value: String);
}

impl Extractor for http::HeaderMap {
    fn get_all(&self, name: &str) -> Values<'_> {
        http::HeaderMap::get_all(self, name)
            .iter()
            .map(http::HeaderValue::as_bytes)
            .collect()
    }

    fn each(&self, visit: &mut dyn FnMut(&str, &[u8])) {
        for (name, value) in self {
            visit(name.as_str(), value.as_bytes());
        }
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

impl Extractor for async_nats::HeaderMap {
    fn get_all(&self, name: &str) -> Values<'_> {
        async_nats::HeaderMap::get_all(self, name)
            .map(|v| v.as_str().as_bytes())
            .collect()
    }

    fn each(&self, visit: &mut dyn FnMut(&str, &[u8])) {
        for (name, values) in self.iter() {
            for value in values {
                visit(name.as_ref(), value.as_str().as_bytes());
            }
        }
    }
}

impl Injector for async_nats::HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        self.insert(name, value.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both carriers read the same headers the same way, and list them for the loggers.
    #[test]
    fn http_and_nats_headers_read_and_list_alike() {
        let mut http = http::HeaderMap::new();
        let mut nats = async_nats::HeaderMap::new();
        for (name, value) in [("traceparent", "00-a-b-01"), ("tracestate", "k=v")] {
            Injector::set(&mut http, name, value.to_owned());
            Injector::set(&mut nats, name, value.to_owned());
        }
        http.append("tracestate", http::HeaderValue::from_static("x=y"));
        nats.append("tracestate", "x=y");
        for carrier in [&http as &dyn Extractor, &nats] {
            let values: Vec<&[u8]> = carrier.get_all("tracestate").to_vec();
            assert_eq!(values, [b"k=v".as_slice(), b"x=y"]);
            assert!(carrier.get_all("baggage").is_empty());
            let mut listed = Vec::new();
            carrier
                .each(&mut |name, value| listed.push(format!("{name}={}", value.escape_ascii())));
            listed.sort();
            assert_eq!(
                listed,
                ["traceparent=00-a-b-01", "tracestate=k=v", "tracestate=x=y"]
            );
        }
    }
}
