//! The HTTP/1.1 server every tracewire process runs its API on: an axum `Router` served with a
//! bound on the time a request head may take (a client that sends half a head is closed after
//! [`ServeOptions::head_timeout`]) and on the connections open at once
//! ([`ServeOptions::max_connections`]), and a shutdown that drains: stop accepting, let
//! in-flight requests and the work they spawned finish for [`ServeOptions::drain`], then tell
//! what still runs to end (see [`Shutdown`]) and wait a little longer for it to.
//!
//! At the connection limit a new connection takes the place of the one that has waited longest
//! for a request head (a connection with a request in flight is never closed, and one whose
//! head arrives as it is chosen is served first): a flood of clients that send half a head
//! churns among itself while a real client still gets in. When every connection has a request
//! in flight, new ones wait in the listen queue.
//!
//! Written on hyper's connection builder rather than `axum::serve`, which has neither the head
//! timeout nor a connection limit.

use std::{
    collections::HashMap,
    convert::Infallible,
    future::Future,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use axum::{body::Body, Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{net::TcpListener, sync::Semaphore, time::timeout};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tower_service::Service;
use tracing::{debug, warn};

use super::shutdown::Shutdown;
use crate::{
    settings::{
        env::{self, Lookup},
        ConfigError, Origin,
    },
    wire,
};

/// How long in-flight requests may take to finish after a shutdown signal, by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);
/// How long a client may take to send a request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How many connections are served at once, by default.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// After the drain deadline, how long the work still running gets to end.
const AFTER_DEADLINE: Duration = Duration::from_secs(5);
/// File descriptors kept for the rest of the process (output files, outgoing calls).
const SPARE_FILES: usize = 256;

/// How a server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// How long in-flight requests may take to finish after the shutdown signal. Defaults to
    /// [`DEFAULT_DRAIN`].
    pub drain: Duration,
    /// How long a client may take to send a request head, on a new connection or a kept-alive
    /// one. Defaults to [`HEAD_TIMEOUT`].
    pub head_timeout: Duration,
    /// How many connections are served at once. Defaults to [`DEFAULT_MAX_CONNECTIONS`];
    /// `DYN_HTTP_MAX_CONNECTIONS` sets it.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            drain: DEFAULT_DRAIN,
            head_timeout: HEAD_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl ServeOptions {
    /// The defaults with the process environment on top (`DYN_HTTP_MAX_CONNECTIONS`).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env::process_env)
    }

    /// The defaults with the variables `lookup` gives on top.
    ///
    /// ```
    /// use tracewire_runtime::serve::ServeOptions;
    /// let vars = |name: &str| (name == "DYN_HTTP_MAX_CONNECTIONS").then(|| "64".to_owned());
    /// assert_eq!(ServeOptions::from_lookup(&vars).unwrap().max_connections, 64);
    /// ```
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let mut options = ServeOptions::default();
        if let Some(value) = lookup(env::DYN_HTTP_MAX_CONNECTIONS) {
            options.max_connections = match value.trim().parse::<usize>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(ConfigError::invalid(
                        Origin::Env(env::DYN_HTTP_MAX_CONNECTIONS),
                        &value,
                        "expected a number of connections from 1 to 1000000",
                    ))
                }
            }
        }
        Ok(options)
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains (see the module docs).
/// Every request carries a [`Shutdown`] in its extensions.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> io::Result<()> {
    let handle = Shutdown::new();
    let app = app.layer(Extension(handle.clone()));
    let max_connections = usable_connections(options.max_connections);
    let permits = Arc::new(Semaphore::new(max_connections));
    let registry = Arc::new(Registry::default());
    // Cancelled at the shutdown signal: every connection finishes its request and closes.
    let stopping = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut accept_errors = Throttle::default();
    let mut at_limit = Throttle::default();
    tokio::pin!(shutdown);
    super::system::set_serving();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => {
                super::system::set_stopping();
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: the connections served go on.
                    accept_errors.count();
                    if accept_errors.due() {
                        warn!(error = %e, failures = accept_errors.take(), "cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // At the limit: the connection that has waited longest for a request head makes
                // room (a flood of half-sent heads churns itself, a real client gets in). When
                // every connection has a request in flight, this one waits for a slot.
                if registry.close_longest_idle() {
                    at_limit.count();
                }
                if at_limit.due() {
                    warn!(
                        max_connections,
                        closed_idle = at_limit.take(),
                        "connection limit reached: closing the connections that have waited longest for a request"
                    );
                }
                let permit = tokio::select! {
                    biased;
                    () = &mut shutdown => {
                        super::system::set_stopping();
                        break;
                    }
                    permit = permits.clone().acquire_owned() => permit,
                };
                let Ok(permit) = permit else { break };
                permit
            }
        };
        // Responses are streamed in small frames: without TCP_NODELAY, Nagle's algorithm holds
        // each one until the peer's delayed ACK (about 40 ms) arrives.
        let _ = stream.set_nodelay(true);
        let close = stopping.child_token();
        let conn = registry.add(close.clone());
        let service = {
            let (app, conn) = (app.clone(), conn.clone());
            hyper::service::service_fn(move |request| {
                let busy = conn.busy();
                // A Router is always ready: no poll_ready before the call.
                let response = app.clone().call(request);
                async move {
                    let response = response.await?;
                    Ok::<_, Infallible>(
                        response.map(|body| Body::new(Guarded { body, _busy: busy })),
                    )
                }
            })
        };
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.head_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let (registry, stopping) = (registry.clone(), stopping.clone());
        tasks.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = close.cancelled() => {
                    // The request head is parsed, and `busy` set, inside the connection's poll
                    // on this task: what `busy` says here is what the connection is doing.
                    if conn.is_busy() {
                        // The request finishes; then the connection closes.
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    } else {
                        // Waiting for a head (hyper's graceful shutdown would wait for a half-sent
                        // one until the head timeout): closed now.
                        if !stopping.is_cancelled() {
                            debug!(target: wire::TRANSPORT, %peer, idle_ms = conn.idle_ms(), "connection closed to make room: no request in flight");
                        }
                        Ok(())
                    }
                }
            };
            if let Err(e) = ended {
                // A head that came too slowly or not as HTTP, a client gone: the connection's
                // business, not a request's.
                debug!(target: wire::TRANSPORT, %peer, error = %e, "connection closed with an error");
            }
            registry.remove(&conn);
            drop(permit);
        });
    }
    drop(listener);
    stopping.cancel();
    tasks.close();
    let drained = tasks.wait();
    tokio::pin!(drained);
    let past_deadline = timeout(options.drain, &mut drained).await.is_err();
    if past_deadline {
        warn!(
            drain_ms = options.drain.as_millis() as u64,
            "in-flight requests did not finish in time; ending them"
        );
        handle.pass_deadline();
        if timeout(AFTER_DEADLINE, &mut drained).await.is_err() {
            warn!("connections still open after the drain deadline; closing them");
        }
    }
    // The work requests spawned (a stream's producer, a generation whose caller left).
    let spawned = handle.tasks_done();
    tokio::pin!(spawned);
    let budget = if past_deadline {
        AFTER_DEADLINE
    } else {
        options.drain
    };
    let mut done = timeout(budget, &mut spawned).await.is_ok();
    if !done && !past_deadline {
        handle.pass_deadline();
        done = timeout(AFTER_DEADLINE, &mut spawned).await.is_ok();
    }
    if !done {
        warn!("request tasks still running after the drain deadline; leaving them");
    }
    Ok(())
}

/// The connections open, to choose which one closes when the limit is reached.
struct Registry {
    start: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            start: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }
}

impl Registry {
    fn add(&self, close: CancellationToken) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            start: self.start,
            idle_since: AtomicU64::new(0),
            close,
        });
        conn.idle_now();
        self.lock().insert(conn.id, conn.clone());
        conn
    }

    fn remove(&self, conn: &Conn) {
        self.lock().remove(&conn.id);
    }

    /// Closes the connection that has waited longest for a request head, if one is waiting;
    /// says whether one was.
    fn close_longest_idle(&self) -> bool {
        let open = self.lock();
        let longest = open
            .values()
            .filter(|c| !c.close.is_cancelled())
            .map(|c| (c.idle_since.load(Ordering::Acquire), c))
            .filter(|&(since, _)| since != BUSY)
            .min_by_key(|&(since, _)| since);
        match longest {
            Some((_, conn)) => {
                conn.close.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`Conn::idle_since`] while a request is in flight.
const BUSY: u64 = u64::MAX;

/// One connection: whether it has a request in flight and, if not, since when it has waited
/// for one.
struct Conn {
    id: u64,
    start: Instant,
    /// [`BUSY`], or nanoseconds from `start` to when the connection began to wait for a head.
    idle_since: AtomicU64,
    /// Cancelled to close the connection: at shutdown, or to make room.
    close: CancellationToken,
}

impl Conn {
    /// Marks a request in flight until the guard is dropped (its response body sent or
    /// abandoned). HTTP/1.1 serves one request at a time on a connection.
    fn busy(self: &Arc<Self>) -> Busy {
        self.idle_since.store(BUSY, Ordering::Release);
        Busy(self.clone())
    }

    fn is_busy(&self) -> bool {
        self.idle_since.load(Ordering::Acquire) == BUSY
    }

    fn idle_now(&self) {
        let since = self.start.elapsed().as_nanos().min(u128::from(BUSY - 1)) as u64;
        self.idle_since.store(since, Ordering::Release);
    }

    /// How long it has waited for a request head, in milliseconds (0 while one is in flight).
    fn idle_ms(&self) -> u64 {
        match self.idle_since.load(Ordering::Acquire) {
            BUSY => 0,
            since => (self.start.elapsed().as_nanos() as u64).saturating_sub(since) / 1_000_000,
        }
    }
}

/// A request in flight on a connection.
struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.idle_now();
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its connection marked busy until it is dropped.
    struct Guarded<B> {
        #[pin]
        body: B,
        _busy: Busy,
    }
}

impl<B: http_body::Body> http_body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The connections this process can serve at once: `wanted`, raising the open-file limit to
/// it if the hard limit allows, else as many as the limit leaves room for.
fn usable_connections(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        let needed = (wanted + SPARE_FILES) as libc::rlim_t;
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the struct passed, nothing else.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return wanted;
            }
            if limit.rlim_cur < needed && limit.rlim_max > limit.rlim_cur {
                let raised = libc::rlimit {
                    rlim_cur: needed.min(limit.rlim_max),
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit.rlim_cur = raised.rlim_cur;
                }
            }
        }
        let usable = (limit.rlim_cur as usize).saturating_sub(SPARE_FILES).max(1);
        if usable < wanted {
            warn!(
                wanted,
                usable,
                open_files = limit.rlim_cur,
                "the open-file limit allows fewer connections than asked"
            );
        }
        wanted.min(usable)
    }
    #[cfg(not(unix))]
    {
        wanted
    }
}

/// A report made at most once a second, with what was counted since the last one.
#[derive(Default)]
struct Throttle {
    last: Option<Instant>,
    since: u64,
}

impl Throttle {
    /// Counts one occurrence.
    fn count(&mut self) {
        self.since += 1;
    }

    /// Whether a report is due.
    fn due(&self) -> bool {
        self.last
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
    }

    /// The count to report; starts the next second.
    fn take(&mut self) -> u64 {
        self.last = Some(Instant::now());
        std::mem::take(&mut self.since)
    }
}
