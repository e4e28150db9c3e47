//! A span's part of readable lines: its `name{field=value ...}`, rendered when its fields are
//! recorded, and the chain of them from the root that every line inside it starts with.

use std::cell::RefCell;

use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::value::{escape_into, write_value};
use crate::{
    subscriber::line::keys::OTEL_PREFIX,
    trace::{Redactions, SpanContext, SpanFields},
};

/// What the readable format reads of a span in the registry: its text (none if the span's
/// lines are of another format) and its identity.
pub(crate) trait ReadableSpan: 'static {
    fn text(&self) -> Option<&SpanText>;
    fn context(&self) -> &SpanContext;
}

/// `name{field=value ...}` of a span (`otel.*` fields left out).
#[derive(Debug, Default)]
pub(crate) struct SpanText(Vec<u8>);

impl SpanText {
    pub(crate) fn new(name: &str, fields: &SpanFields, redact: &Redactions) -> Self {
        let mut buf = Vec::with_capacity(64);
        escape_into(&mut buf, name);
        let mut fields = fields
            .iter()
            .filter(|(n, _)| !n.starts_with(OTEL_PREFIX))
            .peekable();
        if fields.peek().is_some() {
            buf.push(b'{');
            for (i, (field, value)) in fields.enumerate() {
                if i > 0 {
                    buf.push(b' ');
                }
                escape_into(&mut buf, field);
                buf.push(b'=');
                write_value(&mut buf, redact, field, value);
            }
            buf.push(b'}');
        }
        SpanText(buf)
    }
}

thread_local! {
    static CHAIN: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with the chain `a{..}:b{..}:` of `scope`'s spans from the root (`scope` included),
/// then of `own` if given, concatenated into this thread's chain buffer. The spans of `scope`
/// are read from the registry: the caller must hold no write lock on their extensions.
pub(super) fn with_chain<D, S>(
    scope: Option<&SpanRef<'_, S>>,
    own: Option<&SpanText>,
    f: impl FnOnce(&[u8]),
) where
    D: ReadableSpan,
    S: for<'a> LookupSpan<'a>,
{
    if scope.is_none() && own.is_none() {
        return f(&[]);
    }
    let build = |chain: &mut Vec<u8>| {
        chain.clear();
        for span in scope.into_iter().flat_map(|s| s.scope().from_root()) {
            if let Some(text) = span.extensions().get::<D>().and_then(D::text) {
                chain.extend_from_slice(&text.0);
                chain.push(b':');
            }
        }
        if let Some(own) = own {
            chain.extend_from_slice(&own.0);
            chain.push(b':');
        }
    };
    CHAIN.with(|cell| match cell.try_borrow_mut() {
        Ok(mut chain) => {
            build(&mut chain);
            f(&chain);
        }
        // Re-entered while a line is being written on this thread.
        Err(_) => {
            let mut chain = Vec::new();
            build(&mut chain);
            f(&chain);
        }
    });
}
