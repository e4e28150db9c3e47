//! Trace identity, the bottom layer of the crate: ids, the [`SpanContext`] every span gets, the
//! [`RemoteContext`] a request brings from another process, span field values, and the
//! [`SpanExporter`] / [`LogExporter`] seam through which spans leave the process.
//!
//! Nothing here imports from the rest of the crate: logging computes and stores identities,
//! exporters read them, propagation reads and writes them at a process's edges.

mod baggage;
mod context;
mod export;
mod fields;
mod ids;
mod limit;

pub use baggage::baggage_member;
pub use context::{RemoteContext, RemoteField, SpanContext, TraceParent, REMOTE_PARENT};
pub use export::{EndedSpan, HeldRecord, LogExporter, SpanExporter, CAPTURED, CAPTURED_DROPPED};
pub use fields::{FieldValue, Redactions, SpanFields, X_REQUEST_ID};
pub(crate) use fields::{IdentityFields, Recorder, Split};
pub(crate) use ids::parse_hex;
pub use ids::{SpanId, TraceFlags, TraceId};
pub use limit::{Bounded, Suffix, ValueLimit};
