//! Readable values: numbers as they are, `&str` values quoted as `{:?}` writes them, other text
//! with control characters escaped as Rust does.

use std::fmt::{self, Write as _};

use crate::{
    subscriber::line::{float, scan},
    trace::{Bounded, FieldValue, Redactions, Suffix, ValueLimit},
};

pub(super) fn write_value(buf: &mut Vec<u8>, redact: &Redactions, name: &str, value: &FieldValue) {
    if redact.contains(name) {
        buf.extend_from_slice(b"[REDACTED]");
        return;
    }
    let _ = match value {
        FieldValue::I64(v) => {
            buf.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
            Ok(())
        }
        FieldValue::U64(v) => {
            buf.extend_from_slice(itoa::Buffer::new().format(*v).as_bytes());
            Ok(())
        }
        FieldValue::I128(v) => write!(Escaping(buf), "{v}"),
        FieldValue::U128(v) => write!(Escaping(buf), "{v}"),
        FieldValue::F64(v) => {
            write_f64(buf, *v);
            Ok(())
        }
        FieldValue::Bool(v) => write!(Escaping(buf), "{v}"),
        FieldValue::Str(s) => {
            write_quoted(buf, s);
            Ok(())
        }
        FieldValue::Text(s) => write!(Escaping(buf), "{s}"),
        FieldValue::Redacted => write!(Escaping(buf), "[REDACTED]"),
    };
}

/// Shortest round-trip text (as in JSONL and serde_json); `NaN` and `inf` as Rust writes them.
pub(super) fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        float::write_finite(buf, v);
    } else {
        buf.extend_from_slice(v.to_string().as_bytes());
    }
}

/// `value` quoted as `{:?}` writes it; plain printable ASCII without `"` or `\` (the usual case)
/// skips `core::fmt`.
pub(super) fn write_quoted(buf: &mut Vec<u8>, value: &str) {
    if !scan::needs_debug_quoting(value.as_bytes()) {
        buf.push(b'"');
        buf.extend_from_slice(value.as_bytes());
        buf.push(b'"');
    } else {
        let _ = write!(Escaping(buf), "{value:?}");
    }
}

/// Escapes control characters as Rust does (`\n`, `\t`, `\u{1b}`); all else is copied.
pub(super) fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !scan::has_control(bytes) {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != 0x7f {
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        match b {
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            _ => {
                let _ = write!(RawBuf(buf), "\\u{{{b:x}}}");
            }
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

struct RawBuf<'a>(&'a mut Vec<u8>);

impl fmt::Write for RawBuf<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

pub(super) struct Escaping<'a>(pub(super) &'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// `value` with control characters escaped, at most `limit`'s bytes of it, then `…[+N bytes]`
/// if it was cut.
pub(super) fn write_bounded(buf: &mut Vec<u8>, limit: ValueLimit, value: fmt::Arguments<'_>) {
    // Written whole first (the usual case: shorter than the limit, one pass); escaping only
    // lengthens, so what fits escaped fits raw. Written again through a bounded writer if not.
    let start = buf.len();
    let _ = Escaping(buf).write_fmt(value);
    if limit.bytes() == 0 || buf.len() - start <= limit.bytes() {
        return;
    }
    buf.truncate(start);
    let mut writer = Bounded::new(limit, |s| escape_into(buf, s));
    let _ = writer.write_fmt(value);
    let cut = writer.cut();
    if cut > 0 {
        let _ = write!(RawBuf(buf), "{}", Suffix(cut));
    }
}

/// `s` with control characters escaped, bounded as [`write_bounded`] does, without `core::fmt`
/// when it fits (the usual case: a message).
pub(super) fn write_escaped_str(buf: &mut Vec<u8>, limit: ValueLimit, s: &str) {
    let (kept, cut) = limit.cut(s);
    escape_into(buf, kept);
    if cut > 0 {
        let _ = write!(RawBuf(buf), "{}", Suffix(cut));
    }
}
