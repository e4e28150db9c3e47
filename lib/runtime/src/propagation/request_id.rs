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
