//! Client-directed logs (SPEC §13): the lines of one request a caller asked to get back, gathered
//! in each process the request reaches ([`ClientLogs`]), within `[client_logs]` bounds.
//!
//! The ask travels like the request's own level (§9): as a baggage member, [`CLIENT_MEMBER`]
//! (`tracewire.logs=<level>`), honoured up to the process's `DYN_LOG_CLIENT_LEVEL`. The edge
//! (the frontend's `TraceLayer`) turns the caller's `x-tracewire-logs` header into that member
//! once the caller is allowed, and drops a member a caller sent itself. A request whose baggage
//! has no member gets no collector, and its plane calls carry nothing more.
//!
//! Bounds are on what a request is ever given, not on what waits to be sent: the lines of one
//! request never take more than `max_bytes` however slowly the caller reads, and the consumer
//! (an SSE stream, a plane response) sends them under the response's own back-pressure.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use tokio::sync::Notify;
use tracing::Level;

use crate::{
    subscriber::line::{
        keys,
        timestamp::{write_rfc3339, TimeZone},
    },
    trace::SpanContext,
};

/// The baggage member that carries a caller's ask for its request's lines.
pub const CLIENT_MEMBER: &str = "tracewire.logs";
/// The message of the closing entry when a request's lines were dropped at a bound.
pub const TRUNCATED: &str = "client logs truncated";
/// Its count of dropped lines.
const DROPPED: &str = "dropped";

/// `[client_logs]`: how much one request's caller is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLogsLimits {
    /// The most lines one request is given (`[client_logs] max_lines`).
    pub max_lines: usize,
    /// The most bytes of lines one request is given (`[client_logs] max_bytes`).
    pub max_bytes: usize,
}

impl Default for ClientLogsLimits {
    fn default() -> Self {
        ClientLogsLimits {
            max_lines: 1000,
            max_bytes: 1 << 20,
        }
    }
}

/// One request's lines for its caller, in this process: its own lines at or above the level
/// asked for, and those its downstream calls sent back, in the order they came, until a bound.
/// Cloning shares it.
#[derive(Debug, Clone)]
pub struct ClientLogs(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    level: Level,
    max_lines: usize,
    max_bytes: usize,
    state: Mutex<State>,
    /// Woken when a line is added, so a consumer waiting for its next chunk sends it now.
    added: Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Lines not yet taken, each a JSON object without its newline.
    waiting: Vec<Vec<u8>>,
    /// Lines and bytes given so far (taken or waiting).
    lines: usize,
    bytes: usize,
    /// Lines refused at a bound, here or downstream.
    dropped: u64,
}

impl ClientLogs {
    pub(crate) fn new(level: Level, config: &ClientLogsLimits) -> Self {
        ClientLogs(Arc::new(Shared {
            level,
            max_lines: config.max_lines,
            max_bytes: config.max_bytes,
            state: Mutex::default(),
            added: Notify::new(),
        }))
    }

    /// The level asked for (capped at the process's): lines at it or above are gathered.
    pub fn level(&self) -> Level {
        self.0.level
    }

    /// Whether a line at `level` is gathered.
    #[inline]
    pub(crate) fn wants(&self, level: &Level) -> bool {
        *level <= self.0.level
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one line (a JSON object; a trailing newline is cut), or counts it as dropped past
    /// a bound. A downstream process's lines come in here too, as its plane answer brings them.
    pub fn push(&self, line: &[u8]) {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        {
            let mut state = self.state();
            if state.lines >= self.0.max_lines || state.bytes + line.len() > self.0.max_bytes {
                state.dropped += 1;
                return;
            }
            state.lines += 1;
            state.bytes += line.len();
            state.waiting.push(line.to_vec());
        }
        self.0.added.notify_one();
    }

    /// Counts `n` lines a downstream process dropped at its own bounds.
    pub fn add_dropped(&self, n: u64) {
        self.state().dropped += n;
    }

    /// The lines added since the last call, oldest first.
    pub fn take(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.state().waiting)
    }

    /// How many lines were dropped at a bound, here or downstream.
    pub fn dropped(&self) -> u64 {
        self.state().dropped
    }

    /// The closing entry when lines were dropped (SPEC §13): a WARN `client logs truncated`
    /// line with `dropped`, in `span`'s identity, as the JSON object of a line.
    pub fn truncation(&self, span: Option<&SpanContext>) -> Option<Vec<u8>> {
        let dropped = self.dropped();
        if dropped == 0 {
            return None;
        }
        // In the order of SPEC §3's lines: the head, the message, the identity, the fields.
        let mut line = Vec::with_capacity(256);
        line.extend_from_slice(b"{\"");
        line.extend_from_slice(keys::TIME.as_bytes());
        line.extend_from_slice(b"\":\"");
        write_rfc3339(&mut line, SystemTime::now().into(), TimeZone::Utc);
        line.push(b'"');
        let mut field = |key: &str, value: serde_json::Value| {
            line.extend_from_slice(format!(",{}:{value}", serde_json::Value::from(key)).as_bytes());
        };
        field(keys::LEVEL, "WARN".into());
        field(keys::TARGET, module_path!().into());
        field(keys::MESSAGE, TRUNCATED.into());
        if let Some(ctx) = span {
            field(keys::TRACE_ID, ctx.trace_id.to_string().into());
            field(keys::SPAN_ID, ctx.span_id.to_string().into());
            if let Some(id) = &ctx.x_request_id {
                field(keys::X_REQUEST_ID, id.as_ref().into());
            }
        }
        field(DROPPED, dropped.into());
        line.push(b'}');
        Some(line)
    }

    /// Waits until a line is added (at once if one was added since the last wait).
    pub async fn added(&self) {
        self.0.added.notified().await
    }

    /// [`added`](Self::added) for a request that may not have asked: never, when it did not.
    pub async fn added_to(logs: Option<&ClientLogs>) {
        match logs {
            Some(logs) => logs.added().await,
            None => std::future::pending().await,
        }
    }

    /// Sends the lines added since the last call to `tx`, each as `encode` frames it (`None`:
    /// not sent), oldest first, under the channel's back-pressure; `Err` once the receiver
    /// has gone.
    pub async fn send_to(
        &self,
        tx: &tokio::sync::mpsc::Sender<bytes::Bytes>,
        encode: impl Fn(&[u8]) -> Option<bytes::Bytes>,
    ) -> Result<(), tokio::sync::mpsc::error::SendError<bytes::Bytes>> {
        for line in self.take() {
            if let Some(frame) = encode(&line) {
                tx.send(frame).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_count_what_is_given_not_what_waits() {
        let config = ClientLogsLimits {
            max_lines: 3,
            max_bytes: 21,
        };
        let logs = ClientLogs::new(Level::DEBUG, &config);
        logs.push(b"{\"a\":1}\n");
        logs.push(b"{\"b\":2}");
        assert_eq!(logs.take(), [b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
        assert_eq!(logs.truncation(None), None, "nothing dropped yet");
        logs.push(b"{\"c\":333333}"); // 12 bytes: 26 in all, past max_bytes (21)
        logs.push(b"{\"d\":4}");
        logs.push(b"{\"e\":5}"); // the fourth line given: past max_lines
        logs.add_dropped(2);
        assert_eq!(logs.take(), [b"{\"d\":4}".to_vec()]);
        let entry: serde_json::Value =
            serde_json::from_slice(&logs.truncation(None).unwrap()).unwrap();
        assert_eq!(
            (&entry["level"], &entry["message"], &entry["dropped"]),
            (&"WARN".into(), &TRUNCATED.into(), &4.into())
        );
        assert_eq!(logs.dropped(), 4, "two here, two downstream");
        assert!(logs.take().is_empty());
    }

    #[test]
    fn a_line_added_wakes_the_consumer_even_if_it_was_not_waiting_yet() {
        let logs = ClientLogs::new(Level::INFO, &ClientLogsLimits::default());
        assert!(logs.wants(&Level::WARN) && !logs.wants(&Level::DEBUG));
        logs.push(b"{}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(5), logs.added())
                .await
                .expect("the permit of the earlier push");
        });
    }
}
