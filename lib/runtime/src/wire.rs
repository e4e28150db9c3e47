//! Wire-level loggers: what crosses the request plane between frontend and worker, under three
//! targets that share the prefix `tracewire::wire`:
//!
//! | target | level | what |
//! |---|---|---|
//! | `tracewire::wire::request` | DEBUG | method, URL and headers of each call (secrets redacted) |
//! | | TRACE | the request body |
//! | `tracewire::wire::response` | DEBUG | status and headers of each response, and how the stream ended |
//! | | TRACE | every frame of the response body |
//! | `tracewire::wire::transport` | DEBUG | connects, connection failures, workers skipped |
//!
//! `DYN_LOG=info,tracewire::wire=debug` shows them; off, they cost a disabled callsite each
//! (formatting happens only inside `tracing::enabled!` checks or in lazily-evaluated fields).

use std::fmt;

use crate::propagation::Extractor;

/// Requests sent and received.
pub const REQUEST: &str = "tracewire::wire::request";
/// Responses sent and received.
pub const RESPONSE: &str = "tracewire::wire::response";
/// Connections and their failures.
pub const TRANSPORT: &str = "tracewire::wire::transport";

/// Headers whose values are secrets.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "api-key",
    "x-api-key",
];

/// Whether a header's value must never be logged.
pub fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// Formats a carrier's headers (HTTP, NATS, any [`Extractor`]) as `{name: "value", ...}` with
/// secrets as `[REDACTED]` and every value escaped; only evaluated when a wire logger is
/// enabled.
pub struct Headers<'a, C: ?Sized>(pub &'a C);

impl<C: Extractor + ?Sized> fmt::Display for Headers<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut result = f.write_str("{");
        let mut first = true;
        self.0.each(&mut |name, value| {
            if result.is_err() {
                return;
            }
            let sep = if std::mem::take(&mut first) { "" } else { ", " };
            result = if is_secret_header(name) {
                write!(f, "{sep}{name}: [REDACTED]")
            } else {
                write!(f, "{sep}{name}: \"{}\"", value.escape_ascii())
            };
        });
        result.and_then(|()| f.write_str("}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_values_escaped() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer sk-SECRET".parse().unwrap());
        h.insert("Cookie", "session=SECRET".parse().unwrap());
        h.insert("x-api-key", "SECRET".parse().unwrap());
        h.insert(
            "x-request-id",
            http::HeaderValue::from_bytes(b"a\xffb").unwrap(),
        );
        let text = Headers(&h).to_string();
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("authorization: [REDACTED]") && text.contains("cookie: [REDACTED]"),
            "{text}"
        );
        assert!(text.contains(r#"x-request-id: "a\xffb""#), "{text}");
        // NATS headers through the same formatter: redacted and escaped alike.
        let mut nats = async_nats::HeaderMap::new();
        nats.insert("authorization", "Bearer sk-SECRET");
        nats.insert("x-request-id", "a\u{1b}b");
        let text = Headers(&nats).to_string();
        assert!(
            !text.contains("SECRET") && text.contains("authorization: [REDACTED]"),
            "{text}"
        );
        assert!(text.contains(r#"x-request-id: "a\x1bb""#), "{text}");
    }
}
