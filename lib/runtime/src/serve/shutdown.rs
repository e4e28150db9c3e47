//! What a request handler knows of its server's shutdown: where to spawn work that outlives
//! the handler (a streamed response's producer), so that the server waits for it before the
//! process exits, and when the drain deadline has passed, so that such work ends cleanly.

use std::{convert::Infallible, future::Future};

use axum::{extract::FromRequestParts, http::request::Parts};
use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

/// The handle [`serve`](super::serve) puts in every request's extensions; a handler takes it as
/// an extractor. Outside `serve` (an app driven by `oneshot` in a test) it is detached: nothing
/// waits for its tasks and it is never cancelled.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tasks: TaskTracker,
    deadline: CancellationToken,
}

impl Shutdown {
    /// A handle for a server of one's own (a request plane other than HTTP): spawn its
    /// tasks with [`spawn`](Self::spawn), then [`pass_deadline`](Self::pass_deadline) and
    /// [`tasks_done`](Self::tasks_done) to drain.
    pub fn new() -> Self {
        Shutdown {
            tasks: TaskTracker::new(),
            deadline: CancellationToken::new(),
        }
    }

    /// A handle of no server.
    pub fn detached() -> Self {
        Shutdown::new()
    }

    /// Spawns `task` on the runtime; the server waits for it (up to its bound) before it
    /// returns, so that its spans close and its lines are written.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Resolves once the server's drain deadline has passed: work still running then should
    /// end now (a stream with its error event), cleanly.
    pub async fn deadline(&self) {
        self.deadline.cancelled().await;
    }

    /// Whether the drain deadline has passed.
    pub fn is_past_deadline(&self) -> bool {
        self.deadline.is_cancelled()
    }

    /// Tells the tasks that the drain deadline has passed.
    pub fn pass_deadline(&self) {
        self.deadline.cancel();
    }

    /// Waits for the spawned tasks to end.
    pub async fn tasks_done(&self) {
        self.tasks.close();
        self.tasks.wait().await;
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Shutdown {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<Shutdown>()
            .cloned()
            .unwrap_or_else(Shutdown::detached))
    }
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C), and says which.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            warn!("cannot listen for SIGTERM/SIGINT; stop the process with SIGKILL");
            return std::future::pending().await;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        info!(
            signal = name,
            "shutting down: no new connections, finishing in-flight requests"
        );
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        info!(
            signal = "ctrl-c",
            "shutting down: no new connections, finishing in-flight requests"
        );
    }
}
