//! JSON values and keys written by hand: escaping over runs of bytes, each value in its native
//! JSON type, no intermediate `String`.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

use crate::{
    subscriber::line::{
        float,
        keys::{is_reserved, RENAMED_PREFIX},
        scan,
    },
    trace::{Bounded, Suffix, ValueLimit},
};

/// `,"key":` for a key tracewire owns (no escaping needed).
pub(super) fn write_key(buf: &mut Vec<u8>, key: &str) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(key.as_bytes());
    buf.extend_from_slice(b"\":");
}

/// `,"name":` for a user field, renamed to `fields.<name>` if it would collide.
pub(super) fn write_field_key(buf: &mut Vec<u8>, name: &str) {
    buf.extend_from_slice(b",\"");
    if is_reserved(name) || name.starts_with(RENAMED_PREFIX) {
        buf.extend_from_slice(RENAMED_PREFIX.as_bytes());
    }
    escape_into(buf, name);
    buf.extend_from_slice(b"\":");
}

fn write_f64(buf: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        float::write_finite(buf, v);
    } else {
        // JSON has no NaN or infinity: write them as the strings Rust prints.
        write_string(buf, &v.to_string());
    }
}

/// A quoted, escaped JSON string.
pub(super) fn write_string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    escape_into(buf, s);
    buf.push(b'"');
}

/// Escapes `"`, `\` and control characters (ESC included, so no terminal escape survives);
/// copies the runs between them in one go.
pub(super) fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings need no escaping: one scan, one copy.
    if !scan::needs_json_escape(bytes) {
        buf.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if escaped.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            buf.extend_from_slice(escaped);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// `fmt::Write` into the buffer with JSON escaping, for `Debug` and `Display` values.
pub(super) struct Escaping<'a>(pub(super) &'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// A text value: written escaped without an intermediate `String`, or kept.
pub(super) enum Text<'v> {
    Str(&'v str),
    Debug(&'v dyn fmt::Debug),
    Error(&'v (dyn std::error::Error + 'static)),
}

impl Text<'_> {
    /// The text escaped, at most `limit`'s bytes of it, then `…[+N bytes]` if it was cut.
    #[inline]
    pub(super) fn write_escaped(&self, buf: &mut Vec<u8>, limit: ValueLimit) {
        let cut = match self {
            Text::Str(s) => {
                let (kept, cut) = limit.cut(s);
                escape_into(buf, kept);
                cut
            }
            Text::Debug(v) => write_bounded(buf, limit, format_args!("{v:?}")),
            Text::Error(e) => write_bounded(buf, limit, format_args!("{e}")),
        };
        if cut > 0 {
            write_suffix(buf, cut);
        }
    }
}

/// `…[+N bytes]` after a cut value: out of line, as it is rare.
#[cold]
fn write_suffix(buf: &mut Vec<u8>, cut: usize) {
    let _ = write!(Escaping(buf), "{}", Suffix(cut));
}

/// `value` escaped, at most `limit`'s bytes of it; the bytes left out.
pub(super) fn write_bounded(
    buf: &mut Vec<u8>,
    limit: ValueLimit,
    value: fmt::Arguments<'_>,
) -> usize {
    // Written whole first (the usual case: shorter than the limit, one pass); escaping only
    // lengthens, so what fits escaped fits raw. Written again through a bounded writer if not.
    let start = buf.len();
    let _ = Escaping(buf).write_fmt(value);
    if limit.bytes() == 0 || buf.len() - start <= limit.bytes() {
        return 0;
    }
    buf.truncate(start);
    let mut writer = Bounded::new(limit, |s| escape_into(buf, s));
    let _ = writer.write_fmt(value);
    writer.cut()
}

/// Where [`JsonVisitor`] writes fields: the key decides whether the value follows.
pub(super) trait JsonTarget {
    fn buf(&mut self) -> &mut Vec<u8>;
    /// The bound on string values.
    fn limit(&self) -> ValueLimit;
    /// Writes the key of `field` and returns true if its value should follow.
    fn key(&mut self, field: &Field) -> bool;
    /// Sees a text value before [`key`](Self::key); returns true if it took it.
    fn text(&mut self, _field: &Field, _value: &Text<'_>) -> bool {
        false
    }
}

/// Writes each field's value in its native JSON type, after the target's key.
pub(super) struct JsonVisitor<'t, T>(pub(super) &'t mut T);

impl<T: JsonTarget> JsonVisitor<'_, T> {
    fn text(&mut self, field: &Field, value: Text<'_>) {
        if !self.0.text(field, &value) && self.0.key(field) {
            let limit = self.0.limit();
            let buf = self.0.buf();
            buf.push(b'"');
            value.write_escaped(buf, limit);
            buf.push(b'"');
        }
    }

    fn raw(&mut self, field: &Field, value: &[u8]) {
        if self.0.key(field) {
            self.0.buf().extend_from_slice(value);
        }
    }
}

impl<T: JsonTarget> Visit for JsonVisitor<'_, T> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if self.0.key(field) {
            write_f64(self.0.buf(), value);
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.raw(field, itoa::Buffer::new().format(value).as_bytes());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, if value { b"true" } else { b"false" });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, Text::Str(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, Text::Error(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, Text::Debug(value));
    }
}
