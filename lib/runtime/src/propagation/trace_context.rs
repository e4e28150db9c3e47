//! W3C Trace Context (Level 2) `traceparent` and `tracestate`, parsed and written exactly.
//!
//! Written by hand because the opentelemetry crate's propagator accepts malformed headers (upper
//! case hex, wrong lengths) and reads only the first of several headers. The rules, from the
//! W3C processing model:
//!
//! - `traceparent` is `version-trace_id-parent_id-flags`, lowercase hex, surrounding spaces and
//!   tabs trimmed. Version `00` is exactly 55 characters. A higher version is parsed by its first
//!   55 characters, and if longer must have a `-` after them. Version `ff`, all-zero ids and two
//!   `traceparent` headers are invalid.
//! - Flags: the sampled (`01`) and random (`02`) bits are kept; other bits are reserved and
//!   cleared.
//! - `tracestate` is read only with a valid `traceparent`; several headers are joined with `,`.
//!   Keys and values are validated by the Level 2 grammar (a key starts with a lowercase letter
//!   or a digit, then up to 255 of `a-z 0-9 _ - * / @`; a value is 1 to 256 printable characters
//!   but `,` and `=`, not ending in a space), at most 32 members. Duplicate keys are tolerated
//!   and passed on as they came (the spec allows keeping or dropping them). An invalid
//!   `tracestate` is dropped whole, never forwarded.

use std::sync::Arc;

use crate::trace::{parse_hex, SpanId, TraceFlags, TraceId, TraceParent};

use super::carrier::Extractor;

/// Header names, lowercase.
pub const TRACEPARENT: &str = "traceparent";
/// W3C Trace Context Level 2's response header: the trace and span that served the request.
pub const TRACERESPONSE: &str = "traceresponse";
/// Header names, lowercase.
pub const TRACESTATE: &str = "tracestate";

/// The flag bits defined by Level 2: sampled and random.
const KNOWN_FLAGS: u8 = 0x03;
const MAX_TRACESTATE_MEMBERS: usize = 32;

/// Why a `traceparent` was refused (logged at DEBUG by callers).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidTraceParent {
    /// More than one `traceparent` header.
    #[error("more than one traceparent header")]
    Repeated,
    /// Not valid UTF-8 / visible ASCII.
    #[error("not ASCII")]
    NotAscii,
    /// Wrong length for its version.
    #[error("wrong length {0}")]
    Length(usize),
    /// Version `ff` or not two lowercase hex digits.
    #[error("invalid version")]
    Version,
    /// A `-` is missing where the format has one.
    #[error("missing '-' separator")]
    Separator,
    /// Not 32 lowercase hex digits, or all zero.
    #[error("invalid trace id")]
    TraceId,
    /// Not 16 lowercase hex digits, or all zero.
    #[error("invalid parent id")]
    ParentId,
    /// Not two lowercase hex digits.
    #[error("invalid flags")]
    Flags,
}

/// Reads the remote parent from a carrier: `Ok(None)` when there is no `traceparent`.
pub fn extract(
    carrier: &(impl Extractor + ?Sized),
) -> Result<Option<TraceParent>, InvalidTraceParent> {
    let value = match *carrier.get_all(TRACEPARENT).as_slice() {
        [] => return Ok(None),
        [one] => std::str::from_utf8(one).map_err(|_| InvalidTraceParent::NotAscii)?,
        _ => return Err(InvalidTraceParent::Repeated),
    };
    let mut parent = parse_traceparent(value)?;
    parent.trace_state = join_tracestate(&carrier.get_all(TRACESTATE)).map(Arc::from);
    Ok(Some(parent))
}

/// Parses one `traceparent` value (without `tracestate`).
pub fn parse_traceparent(value: &str) -> Result<TraceParent, InvalidTraceParent> {
    let value = value.trim_matches([' ', '\t']);
    if !value.is_ascii() {
        return Err(InvalidTraceParent::NotAscii);
    }
    let b = value.as_bytes();
    if b.len() < 2 {
        return Err(InvalidTraceParent::Length(b.len()));
    }
    let version = hex_byte(&value[..2]).ok_or(InvalidTraceParent::Version)?;
    if version == 0xff {
        return Err(InvalidTraceParent::Version);
    }
    match (version, b.len()) {
        (0, 55) => {}
        (0, n) => return Err(InvalidTraceParent::Length(n)),
        (_, n) if n < 55 => return Err(InvalidTraceParent::Length(n)),
        (_, n) if n > 55 && b[55] != b'-' => return Err(InvalidTraceParent::Separator),
        _ => {}
    }
    if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return Err(InvalidTraceParent::Separator);
    }
    let trace_id = TraceId::from_hex(&value[3..35]).ok_or(InvalidTraceParent::TraceId)?;
    let parent_id = SpanId::from_hex(&value[36..52]).ok_or(InvalidTraceParent::ParentId)?;
    let flags = hex_byte(&value[53..55]).ok_or(InvalidTraceParent::Flags)?;
    Ok(TraceParent {
        trace_id,
        parent_id,
        flags: TraceFlags(flags & KNOWN_FLAGS),
        trace_state: None,
    })
}

/// `00-<trace_id>-<span_id>-<flags>`.
pub fn format_traceparent(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> String {
    format!("00-{trace_id}-{span_id}-{:02x}", flags.0 & KNOWN_FLAGS)
}

fn hex_byte(s: &str) -> Option<u8> {
    parse_hex::<2>(s).map(|v| v as u8)
}

/// Joins several `tracestate` headers and validates the result; `None` if absent or invalid.
pub fn join_tracestate(values: &[&[u8]]) -> Option<String> {
    let texts = values
        .iter()
        .map(|v| std::str::from_utf8(v).ok())
        .collect::<Option<Vec<&str>>>()?;
    if texts.is_empty() {
        return None;
    }
    validate_tracestate(&texts.join(","))
}

/// The normalised `tracestate` (members trimmed, empty members dropped), or `None` if invalid.
pub fn validate_tracestate(value: &str) -> Option<String> {
    let mut members: Vec<&str> = Vec::new();
    for member in value.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let (key, val) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(val) {
            return None;
        }
        members.push(member);
    }
    if members.is_empty() || members.len() > MAX_TRACESTATE_MEMBERS {
        return None;
    }
    Some(members.join(","))
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*"
/// / "/" / "@"` (Level 2; Level 1's tenant and system lengths are gone).
fn valid_key(key: &str) -> bool {
    let keychar = |c: u8| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
    };
    match key.as_bytes() {
        [first, rest @ ..] => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.len() <= 255
                && rest.iter().all(|&c| keychar(c))
        }
        [] => false,
    }
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|&c| c == b' ' || (0x21..=0x7e).contains(&c) && c != b',' && c != b'=')
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparents() {
        let cases = [
            (VALID, 0x01, "the spec's example"),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                0x00,
                "not sampled",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
                0x03,
                "sampled and random",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
                0x03,
                "reserved bits cleared",
            ),
            (
                " \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ",
                0x01,
                "spaces and tabs trimmed",
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                0x01,
                "future version, 55 chars",
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds",
                0x01,
                "future version with more fields",
            ),
        ];
        for (value, flags, reason) in cases {
            let p = parse_traceparent(value).unwrap_or_else(|e| panic!("{reason}: {value:?}: {e}"));
            assert_eq!(
                p.trace_id.to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{reason}"
            );
            assert_eq!(p.parent_id.to_string(), "00f067aa0ba902b7", "{reason}");
            assert_eq!(p.flags, TraceFlags(flags), "{reason}");
        }
    }

    #[test]
    fn invalid_traceparents() {
        use InvalidTraceParent::*;
        let cases = [
            ("", Length(0), "empty"),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                TraceId,
                "uppercase trace id",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
                ParentId,
                "uppercase parent id",
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                TraceId,
                "all-zero trace id",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                ParentId,
                "all-zero parent id",
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
                "version ff",
            ),
            (
                "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Version,
                "version not hex",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                Length(56),
                "version 00 longer than 55",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                Length(54),
                "short trace id",
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
                Separator,
                "future version: no dash after 55",
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                Separator,
                "wrong separators",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G",
                Flags,
                "flags not hex",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                Length(54),
                "one flag digit",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é",
                NotAscii,
                "non-ASCII",
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736\n00f067aa0ba902b7-01",
                Separator,
                "newline for a dash",
            ),
        ];
        for (value, want, reason) in cases {
            assert_eq!(
                parse_traceparent(value).err(),
                Some(want),
                "{reason}: {value:?}"
            );
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, http::HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn extraction_from_headers() {
        assert_eq!(extract(&headers(&[])), Ok(None));
        assert_eq!(
            extract(&headers(&[("traceparent", VALID), ("traceparent", VALID)])),
            Err(InvalidTraceParent::Repeated),
            "two traceparent headers"
        );
        let p = extract(&headers(&[
            ("traceparent", VALID),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            p.trace_state.as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
            "several tracestate headers joined"
        );
        let p = extract(&headers(&[("traceparent", VALID), ("tracestate", "Bad=1")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            p.trace_state, None,
            "invalid tracestate dropped, the traceparent kept"
        );
        let mut non_utf8 = headers(&[("traceparent", VALID)]);
        non_utf8.insert(
            "traceparent",
            http::HeaderValue::from_bytes(b"00-\xff").unwrap(),
        );
        assert_eq!(extract(&non_utf8), Err(InvalidTraceParent::NotAscii));
    }

    #[test]
    fn tracestate_validation() {
        let key_256 = "z".repeat(256);
        let key_257 = "z".repeat(257);
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        let max: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        // The W3C suite's all-allowed-characters case: every key character, every value one.
        let key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value_chars: String = (0x20u8..=0x7e)
            .filter(|&c| c != b',' && c != b'=')
            .map(char::from)
            .collect();
        let all_allowed = format!("{key_chars}={value_chars}");
        let all_allowed_vendor = format!("{key_chars}@a-z0-9_-*/={value_chars}");
        let tenant_max = format!("{}@{}=1", "t".repeat(241), "v".repeat(14));
        let tenant_long = format!("{}@v=1", "t".repeat(242));
        let system_long = format!("t@{}=1", "v".repeat(15));
        let cases: Vec<(String, Option<&str>, &str)> = vec![
            (
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".into(),
                Some("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
                "two members",
            ),
            (
                " rojo=1 ,\t, congo=2".into(),
                Some("rojo=1,congo=2"),
                "whitespace and empty members",
            ),
            (
                "foo=1\t \t,\t \tbar=2,\t \tbaz=3".into(),
                Some("foo=1,bar=2,baz=3"),
                "suite: tabs and spaces around members",
            ),
            (
                "fw529a3039@dt=1,0tenant@sys=2".into(),
                Some("fw529a3039@dt=1,0tenant@sys=2"),
                "multi-tenant keys",
            ),
            ("a=b c".into(), Some("a=b c"), "a space inside a value"),
            (
                format!("{key_256}=1"),
                Some(""),
                "suite: a 256-character key",
            ),
            (max.join(","), Some(""), "32 members"),
            (
                "1abc=1".into(),
                Some("1abc=1"),
                "Level 2: a key may start with a digit",
            ),
            (
                "a=1,a=2".into(),
                Some("a=1,a=2"),
                "Level 2: duplicate keys tolerated, passed on",
            ),
            (
                "foo@=1,bar=2".into(),
                Some("foo@=1,bar=2"),
                "suite: @ at the end of a key",
            ),
            (
                "foo@@bar=1,bar=2".into(),
                Some("foo@@bar=1,bar=2"),
                "suite: two @ in a row",
            ),
            (
                "foo@bar@baz=1".into(),
                Some("foo@bar@baz=1"),
                "suite: two @ apart",
            ),
            (
                tenant_max.clone(),
                Some(tenant_max.as_str()),
                "suite: 241 + @ + 14",
            ),
            (
                tenant_long.clone(),
                Some(tenant_long.as_str()),
                "suite: Level 2 has no tenant limit",
            ),
            (
                system_long.clone(),
                Some(system_long.as_str()),
                "suite: Level 2 has no system limit",
            ),
            (
                all_allowed.clone(),
                Some(all_allowed.as_str()),
                "suite: all allowed characters",
            ),
            (
                all_allowed_vendor.clone(),
                Some(all_allowed_vendor.as_str()),
                "suite: all allowed characters, with @",
            ),
            ("".into(), None, "empty"),
            ("Rojo=1".into(), None, "uppercase key"),
            ("FOO=1".into(), None, "suite: uppercase key"),
            ("foo =1".into(), None, "suite: a space in a key"),
            ("foo.bar=1".into(), None, "suite: a dot in a key"),
            (
                "@foo=1,bar=2".into(),
                None,
                "suite: a key starting with @ drops the header",
            ),
            (format!("{key_257}=1"), None, "suite: a 257-character key"),
            ("a=".into(), None, "empty value"),
            (
                "foo=,bar=3".into(),
                None,
                "suite: an empty value drops the header",
            ),
            (
                "a=b ,c=d".into(),
                Some("a=b,c=d"),
                "a space before a comma is list whitespace, not value",
            ),
            ("foo=bar=baz".into(), None, "suite: = in a value"),
            ("a".into(), None, "no ="),
            (many.join(","), None, "suite: 33 members"),
            ("a=\u{7f}".into(), None, "control character"),
        ];
        for (value, want, reason) in cases {
            let got = validate_tracestate(&value);
            match want {
                Some("") => assert!(got.is_some(), "{reason}"),
                _ => assert_eq!(got.as_deref(), want, "{reason}: {value:?}"),
            }
        }
    }

    #[test]
    fn formatting_round_trips() {
        let p = parse_traceparent(VALID).unwrap();
        assert_eq!(format_traceparent(p.trace_id, p.parent_id, p.flags), VALID);
        assert_eq!(
            format_traceparent(p.trace_id, p.parent_id, TraceFlags(0xff)),
            VALID.replace("-01", "-03")
        );
    }
}
