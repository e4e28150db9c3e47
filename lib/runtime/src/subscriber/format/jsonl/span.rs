//! A span's part of its lines: its fields and identity rendered to JSON when recorded, and its
//! `SPAN_CREATED` / `SPAN_CLOSED` lines.

use smallvec::SmallVec;
use tracing::{
    field::{Field, Visit},
    Metadata,
};

use super::{
    callsite::{open_field, with_callsite, write_head, Callsite},
    value::{write_key, write_string, JsonTarget, JsonVisitor},
};
use crate::{
    subscriber::{
        format::style::{SpanEvent, Style},
        line::keys::{OTEL_PREFIX, PARENT_ID, SPAN_ID, SPAN_NAME, TRACE_ID, X_REQUEST_ID},
    },
    trace::{Redactions, SpanContext, ValueLimit},
};

/// The keys of `SPAN_CLOSED`'s timings, each one literal: a line is a few dozen short copies,
/// and each is a call (a test checks them against `keys`).
const TIMING_KEYS: [&[u8]; 3] = [
    b",\"time.busy_us\":",
    b",\"time.idle_us\":",
    b",\"time.duration_us\":",
];

/// Writes a `SPAN_CREATED` or `SPAN_CLOSED` line.
pub(crate) fn write_span_event(
    buf: &mut Vec<u8>,
    style: &Style,
    meta: &'static Metadata<'static>,
    json: &SpanJson,
    kind: SpanEvent,
) {
    with_callsite(meta, |callsite| write_head(buf, kind.time, style, callsite));
    buf.extend_from_slice(kind.message().as_bytes());
    buf.push(b'"');
    buf.extend_from_slice(json.identity());
    if let Some(t) = kind.closed {
        for (key, value) in TIMING_KEYS
            .iter()
            .zip([t.busy_us, t.idle_us, t.duration_us])
        {
            buf.extend_from_slice(key);
            buf.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
        }
    }
    buf.extend_from_slice(json.fields());
    buf.extend_from_slice(b"}\n");
}

/// `,"span_name":…,"trace_id":…,"span_id":…[,"parent_id":…][,"x_request_id":…]`
fn write_identity(buf: &mut Vec<u8>, span_name: &str, ctx: &SpanContext) {
    write_key(buf, SPAN_NAME);
    write_string(buf, span_name);
    write_key(buf, TRACE_ID);
    buf.push(b'"');
    ctx.trace_id.write_hex(buf);
    buf.push(b'"');
    write_key(buf, SPAN_ID);
    buf.push(b'"');
    ctx.span_id.write_hex(buf);
    buf.push(b'"');
    if let Some(parent) = ctx.parent_id {
        write_key(buf, PARENT_ID);
        buf.push(b'"');
        parent.write_hex(buf);
        buf.push(b'"');
    }
    if let Some(id) = &ctx.x_request_id {
        write_key(buf, X_REQUEST_ID);
        write_string(buf, id);
    }
}

/// A span's fields and identity as JSON fragments, rendered when the span is created (and when
/// `record` changes them) and copied into each of its lines. One allocation per span: the
/// fields (`,"k":v,...`) then the identity (`,"span_name":…,"trace_id":…`) in one buffer, and
/// each field's name and offset inline, so that a field hidden by an event field of the same
/// name can be cut out and a re-recorded field replaced in place.
#[derive(Debug, Default)]
pub(crate) struct SpanJson {
    bytes: Vec<u8>,
    fields_end: u32,
    keys: SmallVec<[(&'static str, u32); 4]>,
}

impl SpanJson {
    /// Writes the fields `record` visits (a span's attributes, or a later `Span::record`), its
    /// identity fields already taken out; a field already present is replaced.
    pub(crate) fn record(
        &mut self,
        meta: &'static Metadata<'static>,
        redact: &Redactions,
        limit: ValueLimit,
        record: impl FnOnce(&mut dyn Visit),
    ) {
        with_callsite(meta, |callsite| {
            // A new span: the fields go straight into the buffer, with room for the identity.
            let fresh = self.bytes.is_empty() && !callsite.fields.repeats_a_name;
            let mut scratch = Vec::with_capacity(if fresh { 256 } else { 64 });
            let mut writer = SpanFieldWriter {
                buf: &mut scratch,
                starts: SmallVec::new(),
                callsite,
                redact,
                limit,
            };
            record(&mut JsonVisitor(&mut writer));
            let starts = writer.starts;
            if fresh {
                self.fields_end = scratch.len() as u32;
                self.bytes = scratch;
                self.keys = starts;
            } else {
                self.merge(&scratch, &starts);
            }
        })
    }

    /// Replaces the identity (after the span's `x_request_id` changes, or once created).
    pub(crate) fn set_identity(&mut self, span_name: &str, ctx: &SpanContext) {
        self.bytes.truncate(self.fields_end as usize);
        write_identity(&mut self.bytes, span_name, ctx);
    }

    pub(super) fn identity(&self) -> &[u8] {
        &self.bytes[self.fields_end as usize..]
    }

    pub(super) fn fields(&self) -> &[u8] {
        &self.bytes[..self.fields_end as usize]
    }

    pub(super) fn has_fields(&self) -> bool {
        self.fields_end > 0
    }

    fn key_end(&self, i: usize) -> usize {
        self.keys
            .get(i + 1)
            .map_or(self.fields_end as usize, |(_, start)| *start as usize)
    }

    /// Splices each `(name, start)` piece of `scratch` in: over the field of that name, or
    /// after the last field.
    fn merge(&mut self, scratch: &[u8], starts: &[(&'static str, u32)]) {
        for (i, &(name, start)) in starts.iter().enumerate() {
            let end = starts
                .get(i + 1)
                .map_or(scratch.len(), |(_, e)| *e as usize);
            let piece = &scratch[start as usize..end];
            let (at, old_len) = match self.keys.iter().position(|(k, _)| *k == name) {
                Some(k) => {
                    let at = self.keys[k].1 as usize;
                    (at, self.key_end(k) - at)
                }
                None => {
                    self.keys.push((name, self.fields_end));
                    (self.fields_end as usize, 0)
                }
            };
            self.bytes.splice(at..at + old_len, piece.iter().copied());
            let shift = |offset: u32| (offset as usize + piece.len() - old_len) as u32;
            for key in self.keys.iter_mut().filter(|(_, s)| *s as usize > at) {
                key.1 = shift(key.1);
            }
            self.fields_end = shift(self.fields_end);
        }
    }

    /// Copies the fields into a line, but those an event field of the same name hides.
    pub(super) fn write_fields(&self, buf: &mut Vec<u8>, hidden: Option<&Names>) {
        let Some(hidden) = hidden.filter(|h| self.keys.iter().any(|(k, _)| h.contains(k))) else {
            buf.extend_from_slice(self.fields());
            return;
        };
        for (i, (key, start)) in self.keys.iter().enumerate() {
            if !hidden.contains(key) {
                buf.extend_from_slice(&self.bytes[*start as usize..self.key_end(i)]);
            }
        }
    }
}

/// The names of an event's fields, for hiding span fields of the same name; no allocation for
/// events of up to 16 fields.
#[derive(Default)]
pub(super) struct Names {
    inline: [&'static str; 16],
    len: usize,
    spill: Vec<&'static str>,
}

impl Names {
    pub(super) fn contains(&self, name: &str) -> bool {
        self.inline[..self.len.min(16)].contains(&name) || self.spill.contains(&name)
    }

    pub(super) fn push(&mut self, name: &'static str) {
        if self.len < 16 {
            self.inline[self.len] = name;
        } else {
            self.spill.push(name);
        }
        self.len += 1;
    }
}

/// Writes a span's fields, noting where each starts; `otel.*` fields (export settings) are
/// left out.
struct SpanFieldWriter<'a> {
    buf: &'a mut Vec<u8>,
    starts: SmallVec<[(&'static str, u32); 4]>,
    callsite: &'a Callsite,
    redact: &'a Redactions,
    limit: ValueLimit,
}

impl JsonTarget for SpanFieldWriter<'_> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    fn limit(&self) -> ValueLimit {
        self.limit
    }

    fn key(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name.starts_with(OTEL_PREFIX) {
            return false;
        }
        self.starts.push((name, self.buf.len() as u32));
        open_field(self.buf, self.callsite, self.redact, field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriber::line::keys::{BUSY_US, DURATION_US, IDLE_US};

    #[test]
    fn the_timing_literals_are_the_timing_keys() {
        for (literal, key) in TIMING_KEYS.iter().zip([BUSY_US, IDLE_US, DURATION_US]) {
            assert_eq!(*literal, format!(",\"{key}\":").as_bytes());
        }
    }
}
