//! `x-request-id`: accepted when it is 1 to 128 visible ASCII characters (`!` to `~`), so that it
//! can never break a log line or a header; one header only.

use super::carrier::Extractor;

/// The header name, lowercase (the span field and JSONL key is `x_request_id`).
pub const X_REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest accepted request id.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Why an `x-request-id` was refused; `Display` shows the value escaped, safe for a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("x-request-id {escaped} refused: {reason}")]
pub struct InvalidRequestId {
    /// The value with every non-printable or non-ASCII character escaped, cut to 256 characters.
    pub escaped: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A new request id: a UUID v4 (122 random bits from the thread's generator, the same one trace
/// ids come from), lowercase, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
pub fn new_request_id() -> String {
    let bits = fastrand::u128(..);
    // Version 4 in bits 48-51, variant 10 in bits 64-65 (RFC 9562).
    let bits = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Checks a request id from raw header bytes.
pub fn validate_request_id(raw: &[u8]) -> Result<&str, InvalidRequestId> {
    let reason = if raw.is_empty() {
        Some("empty")
    } else if raw.len() > MAX_REQUEST_ID_LEN {
        Some("longer than 128 characters")
    } else if !raw.iter().all(|b| (0x21..=0x7e).contains(b)) {
        Some("only visible ASCII characters are accepted")
    } else {
        None
    };
    match (reason, std::str::from_utf8(raw)) {
        (None, Ok(id)) => Ok(id),
        (reason, _) => Err(InvalidRequestId {
            escaped: format!("\"{}\"", raw.escape_ascii())
                .chars()
                .take(256)
                .collect(),
            reason: reason.unwrap_or("not UTF-8"),
        }),
    }
}

/// Reads the request id from a carrier: `Ok(None)` when there is none.
pub fn extract_request_id(
    carrier: &(impl Extractor + ?Sized),
) -> Result<Option<&str>, InvalidRequestId> {
    match *carrier.get_all(X_REQUEST_ID_HEADER).as_slice() {
        [] => Ok(None),
        [one] => validate_request_id(one).map(Some),
        _ => Err(InvalidRequestId {
            escaped: "(several headers)".to_owned(),
            reason: "more than one x-request-id header",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_request_ids_are_uuid_v4_and_valid() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{id}"
            );
            assert!(id
                .chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
            assert!(parts[2].starts_with('4'), "version 4: {id}");
            assert!(
                matches!(&parts[3][..1], "8" | "9" | "a" | "b"),
                "variant: {id}"
            );
            assert_eq!(validate_request_id(id.as_bytes()), Ok(id.as_str()));
        }
    }

    #[test]
    fn request_ids() {
        let ok: &[&[u8]] = &[
            b"8372eac7-5f43-4d76-beca-0a94cfb311d0",
            b"a",
            &[b'x'; 128],
            b"!~{}[]",
        ];
        for raw in ok {
            assert!(
                validate_request_id(raw).is_ok(),
                "{:?}",
                raw.escape_ascii().to_string()
            );
        }
        let bad: &[(&[u8], &str, &str)] = &[
            (b"", "empty", "empty"),
            (&[b'x'; 129], "longer than 128 characters", "too long"),
            (b"a b", "only visible ASCII", "space"),
            (b"abc\r\nINJECTED", "only visible ASCII", "CR/LF"),
            (b"\x1b[31mred", "only visible ASCII", "ANSI escape"),
            ("caf\u{e9}".as_bytes(), "only visible ASCII", "non-ASCII"),
            (b"\xff\xfe", "only visible ASCII", "not UTF-8"),
        ];
        for (raw, want, reason) in bad {
            let err = validate_request_id(raw).expect_err(reason);
            assert!(err.reason.starts_with(want), "{reason}: {err}");
            let text = err.to_string();
            assert!(
                text.bytes().all(|b| (0x20..0x7f).contains(&b)),
                "{reason}: the message is printable: {text:?}"
            );
        }
        let err = validate_request_id(b"abc\r\nINJECTED").unwrap_err();
        assert_eq!(err.escaped, r#""abc\r\nINJECTED""#);
    }
}
