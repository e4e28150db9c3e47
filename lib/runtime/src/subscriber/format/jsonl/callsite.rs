//! What every line of a callsite repeats, rendered once per thread: the head after the time
//! (level, file, line, target and the `message` key) and each field's key.

use std::cell::RefCell;

use tracing::{field::Field, Metadata};

use super::value::{write_field_key, write_key, write_string};
use crate::{
    subscriber::{
        foreign,
        format::style::Style,
        line::{
            callsite::{self, FieldKeys, Rendered, Slots},
            keys::{level_name, FILE, LEVEL, LINE, LOG_TARGET, MESSAGE, TARGET},
            timestamp::{self, UnixMicros},
        },
    },
    trace::Redactions,
};

/// How every line starts: `{"time":"` (the key is [`keys::TIME`](crate::subscriber::line::keys::TIME)).
const LINE_START: &[u8] = b"{\"time\":\"";

/// `{"time":…,"level":…,["file":…,"line":…,]"target":…,"message":"` — the message is next.
pub(super) fn write_head(buf: &mut Vec<u8>, time: UnixMicros, style: &Style, callsite: &Callsite) {
    buf.extend_from_slice(LINE_START);
    timestamp::write_rfc3339(buf, time, style.zone);
    buf.extend_from_slice(&callsite.head);
}

/// What a line of a callsite always contains: the level, file, line and target keys, and each
/// field's key (`,"name":`, renamed if reserved).
pub(super) struct Callsite {
    head: Vec<u8>,
    pub(super) fields: FieldKeys,
}

impl Rendered for Callsite {
    fn render(meta: &'static Metadata<'static>) -> Self {
        let mut head = Vec::with_capacity(96);
        head.push(b'"');
        write_key(&mut head, LEVEL);
        write_string(&mut head, level_name(meta.level()));
        if let Some(file) = meta.file() {
            write_key(&mut head, FILE);
            write_string(&mut head, file);
        }
        if let Some(line) = meta.line() {
            write_key(&mut head, LINE);
            head.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
        }
        write_key(&mut head, TARGET);
        // A foreign record's target is its logger, which the line gives as `log.target`.
        let target = if foreign::is_record(meta) {
            LOG_TARGET
        } else {
            meta.target()
        };
        write_string(&mut head, target);
        write_key(&mut head, MESSAGE);
        // The message's opening quote: the event writes the message next.
        head.push(b'"');
        Callsite {
            head,
            fields: FieldKeys::new(meta, write_field_key),
        }
    }
}

thread_local! {
    static CALLSITES: RefCell<Slots<Callsite>> = const { RefCell::new(Slots::new()) };
}

pub(super) fn with_callsite<R>(
    meta: &'static Metadata<'static>,
    f: impl FnOnce(&Callsite) -> R,
) -> R {
    callsite::with_cached(&CALLSITES, meta, f)
}

/// Writes the callsite's key for `field`, and `"[REDACTED]"` after it if the name is to be
/// redacted; true if the value should follow.
pub(super) fn open_field(
    buf: &mut Vec<u8>,
    callsite: &Callsite,
    redact: &Redactions,
    field: &Field,
) -> bool {
    buf.extend_from_slice(callsite.fields.key(field));
    if redact.contains(field.name()) {
        write_string(buf, "[REDACTED]");
        return false;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::line::keys::TIME;

    #[test]
    fn a_line_starts_with_the_time_key() {
        assert_eq!(LINE_START, format!("{{\"{TIME}\":\"").as_bytes());
    }
}
