//! What an export has done so far, shared by the exporter, the layer's side, the transport and
//! the reporter: counters, the last error, and the last transport problem.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Mutex, PoisonError,
};

/// Counters shared by the queue, the exporter and the reporter.
#[derive(Debug, Default)]
pub(crate) struct ExportStats {
    pub(crate) queued: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The last reason a connection, handshake or attempt failed, and how many so far: the
    /// exporter's own errors say "network error" and come only once retrying gives up.
    transport: Mutex<Option<String>>,
    pub(crate) transport_errors: AtomicU64,
    /// Woken at each problem (a failed attempt or a lost batch): the reporter waits on it for
    /// the first one, so that it is a WARN at once rather than at the next report.
    pub(crate) problem: tokio::sync::Notify,
}

impl ExportStats {
    /// A batch of `spans` is lost: the collector refused it, or retrying gave up.
    pub(crate) fn record_failure(&self, spans: u64, error: &dyn std::fmt::Display) {
        self.failed.fetch_add(spans, Ordering::Relaxed);
        let mut message = error.to_string();
        if let Some(reason) = self.transport_error() {
            if !message.contains(&reason) {
                message = format!("{message} (last transport error: {reason})");
            }
        }
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
        self.problem.notify_one();
    }

    /// An attempt failed for `reason`; the export may still be retried.
    pub(crate) fn note_transport_error(&self, reason: &str) {
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
        *self
            .transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
        self.problem.notify_one();
    }

    /// The last export error, if any.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last transport error, if any.
    pub(crate) fn transport_error(&self) -> Option<String> {
        self.transport
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
