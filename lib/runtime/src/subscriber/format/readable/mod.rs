//! The readable format (SPEC §2 of docs/SPEC.md), like tracing-subscriber's full format:
//!
//! ```text
//! 2025-09-02T15:50:01.770028Z  INFO http-request{method=POST uri=/v1/chat/completions}: tracewire_frontend::openai: request received model="Qwen/Qwen3-0.6B" trace_id=425ef761ca5b44c795b4c912f1d84b39
//! ```
//!
//! Control characters in messages and values are escaped (`\n`, `\u{1b}`), so one event is one
//! line and no value can move the cursor or colour a terminal.
//!
//! A line inside spans starts with their chain from the root (`a{..}:b{..}:`), each span's
//! `name{fields}` rendered when its fields are recorded ([`SpanText`]), and ends with the
//! current span's ` x_request_id=…` (when the request has one) and ` trace_id=…`.

mod event;
mod span;
mod value;

pub(crate) use event::{write_event, write_span_event};
pub(crate) use span::{ReadableSpan, SpanText};
