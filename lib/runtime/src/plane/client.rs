//! The frontend's side of the request plane: a [`PlaneClient`] over one [`Transport`] (HTTP to
//! a list of workers, or NATS to the instances etcd lists), and the [`TokenStream`] of a
//! generation, read the same way whatever carried it. Either way the caller's trace is
//! propagated and everything that crosses is logged under the [`wire`](crate::wire) targets.

use std::sync::Arc;

use futures_util::StreamExt;
use http::StatusCode;
use tracing::{debug, trace};

use super::{
    transport::{Frames, Started, Transport},
    GenerateRequest, WorkerInfo, WorkerMessage,
};
use crate::{
    logging::{current_client_logs, ClientLogs},
    wire,
};

/// The longest line a worker may send.
pub(super) const MAX_LINE: usize = 1 << 20;

/// Why a call to the workers failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    /// No worker accepted a connection.
    #[error("no worker is reachable ({0} tried)")]
    NoWorker(usize),
    /// No reachable worker serves the model.
    #[error("no worker serves model {0:?}")]
    UnknownModel(String),
    /// The request plane itself cannot carry the call now (NATS away, its connection lost
    /// during the call, no instance answering on the subject).
    #[error("the request plane is unavailable: {0}")]
    Unavailable(String),
    /// A worker answered with an error status.
    #[error("worker {worker} answered {status}: {body}")]
    Status {
        /// The worker's URL.
        worker: String,
        /// Its status.
        status: StatusCode,
        /// The start of its body.
        body: String,
    },
    /// The connection broke or the worker sent something that is not the protocol.
    #[error("worker {worker}: {reason}")]
    Broken {
        /// The worker's URL.
        worker: String,
        /// What happened.
        reason: String,
    },
}

/// A client of the workers, over the transport it was made with.
#[derive(Clone)]
pub struct PlaneClient {
    transport: Arc<dyn Transport>,
}

impl PlaneClient {
    /// A client over `transport`.
    pub fn over(transport: impl Transport + 'static) -> Self {
        // Registered now, so that a scrape shows them before the first request.
        super::metrics::plane_metrics();
        PlaneClient {
            transport: Arc::new(transport),
        }
    }

    /// The workers' URLs (their NATS subjects on the NATS plane).
    pub fn worker_urls(&self) -> Vec<String> {
        self.transport.worker_urls()
    }

    /// What each reachable worker says of itself.
    pub async fn infos(&self) -> Vec<WorkerInfo> {
        self.transport.infos().await
    }

    /// Starts a generation on the next reachable worker serving the model and returns its
    /// token stream. Must be called inside the span whose trace the call continues.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<TokenStream, PlaneError> {
        let Started {
            worker,
            instance,
            frames,
        } = self.transport.generate(request).await?;
        Ok(TokenStream {
            worker,
            instance,
            frames,
            buffer: Vec::new(),
            finished: false,
            client_logs: current_client_logs(),
        })
    }
}

/// The tokens of one generation, as the worker streams them. The request's log lines the
/// worker sends back for its caller (SPEC §13) are not messages of it: they join the calling
/// request's own [`ClientLogs`], in the order they came.
pub struct TokenStream {
    worker: String,
    instance: String,
    frames: Frames,
    buffer: Vec<u8>,
    finished: bool,
    client_logs: Option<ClientLogs>,
}

impl TokenStream {
    /// The worker serving this stream.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The instance serving this stream: the worker's URL over HTTP, its instance id over NATS.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The next message; `None` after `Done` or `Error`. A stream that ends without either (the
    /// worker died) is an error.
    pub async fn next(&mut self) -> Option<Result<WorkerMessage, PlaneError>> {
        if self.finished {
            return None;
        }
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let message =
                    WorkerMessage::from_line(&line[..end]).map_err(|e| PlaneError::Broken {
                        worker: self.worker.clone(),
                        reason: format!("not a protocol line ({e})"),
                    });
                match (message, &self.client_logs) {
                    (Ok(WorkerMessage::Log { line }), Some(logs)) => {
                        logs.push(line.json().as_bytes());
                        continue;
                    }
                    (Ok(WorkerMessage::LogsDropped { dropped }), Some(logs)) => {
                        logs.add_dropped(dropped);
                        continue;
                    }
                    // Lines nobody asked for here: the worker's, not this caller's, to show.
                    (Ok(WorkerMessage::Log { .. } | WorkerMessage::LogsDropped { .. }), None) => {
                        continue
                    }
                    (message, _) => {
                        if matches!(
                            message,
                            Ok(WorkerMessage::Done { .. } | WorkerMessage::Error { .. }) | Err(_)
                        ) {
                            self.finished = true;
                        }
                        return Some(message);
                    }
                }
            }
            if self.buffer.len() > MAX_LINE {
                return Some(self.fail(format!("a line longer than {MAX_LINE} bytes")));
            }
            match self.frames.next().await {
                Some(Ok(data)) => {
                    trace!(target: wire::RESPONSE, worker = self.worker, frame = %data.escape_ascii(), "response frame");
                    self.buffer.extend_from_slice(&data);
                }
                Some(Err(PlaneError::Broken { reason, .. })) => return Some(self.fail(reason)),
                Some(Err(other)) => {
                    self.finished = true;
                    return Some(Err(other));
                }
                None => {
                    let reason = "the stream ended before the generation finished".to_owned();
                    return Some(self.fail(reason));
                }
            }
        }
    }

    fn fail(&mut self, reason: String) -> Result<WorkerMessage, PlaneError> {
        self.finished = true;
        debug!(target: wire::TRANSPORT, worker = self.worker, reason, "response stream failed");
        Err(PlaneError::Broken {
            worker: self.worker.clone(),
            reason,
        })
    }
}

/// An error and its sources on one line: hyper's top-level messages alone say little.
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // A source whose message its wrapper already repeats adds nothing.
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}
