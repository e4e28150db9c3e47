//! The frontend's side of the request plane: HTTP/1.1 calls to workers, balanced round-robin,
//! a worker that refuses connections skipped for a while; or, with the distributed runtime,
//! NATS calls to the instances etcd lists, round-robin over the live ones. Either way the
//! caller's trace is propagated and everything that crosses is logged under the
//! [`wire`](crate::wire) targets.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use tracing::{debug, enabled, trace, Level};

use futures_util::StreamExt;
use tokio::sync::watch;

use super::{
    distributed::EndpointName,
    etcd::Discovery,
    nats,
    protocol::{GenerateRequest, WorkerInfo, WorkerMessage, INFO_PATH},
};
use crate::{
    propagation::{inject_current, inject_into},
    wire,
};

/// How long a worker that refused a connection is passed over.
const DOWN_FOR: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a worker may take to answer with a status line; the stream after it is not bounded.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest line a worker may send.
const MAX_LINE: usize = 1 << 20;

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

struct Worker {
    base: String,
    info: Mutex<Option<WorkerInfo>>,
    down_until: Mutex<Option<Instant>>,
}

impl Worker {
    fn is_down(&self) -> bool {
        lock(&self.down_until).is_some_and(|until| Instant::now() < until)
    }

    fn mark_down(&self) {
        *lock(&self.down_until) = Some(Instant::now() + DOWN_FOR);
        *lock(&self.info) = None;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A client for a fixed set of workers over HTTP, or for the instances etcd lists over NATS.
pub struct PlaneClient {
    http: Client<HttpConnector, Full<Bytes>>,
    workers: Vec<Worker>,
    next: AtomicUsize,
    distributed: Option<Distributed>,
}

/// The NATS plane: the connection, the instances, and the endpoint they serve.
struct Distributed {
    nats: async_nats::Client,
    losses: watch::Receiver<u64>,
    discovery: Arc<Discovery>,
    name: EndpointName,
}

impl PlaneClient {
    /// A client for workers at these base URLs (`http://host:port`); an URL of another form is
    /// refused with the reason.
    pub fn new(worker_urls: impl IntoIterator<Item = String>) -> Result<Self, InvalidWorkerUrl> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let workers = worker_urls
            .into_iter()
            .map(|url| {
                check_worker_url(&url)?;
                Ok(Worker {
                    base: url.trim_end_matches('/').to_owned(),
                    info: Mutex::new(None),
                    down_until: Mutex::new(None),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PlaneClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            workers,
            next: AtomicUsize::new(0),
            distributed: None,
        })
    }

    /// A client for the instances of `name` that `discovery` lists, called over `nats`.
    pub fn distributed(
        nats: nats::Connection,
        discovery: Arc<Discovery>,
        name: EndpointName,
    ) -> Self {
        let mut client = PlaneClient::new([]).expect("no URL to check");
        client.distributed = Some(Distributed {
            nats: nats.client,
            losses: nats.losses,
            discovery,
            name,
        });
        client
    }

    /// The workers' URLs (their NATS subjects on the NATS plane).
    pub fn worker_urls(&self) -> Vec<String> {
        match &self.distributed {
            Some(d) => d
                .discovery
                .instances()
                .into_iter()
                .map(|r| r.subject)
                .collect(),
            None => self.workers.iter().map(|w| w.base.clone()).collect(),
        }
    }

    /// What each reachable worker says of itself.
    pub async fn infos(&self) -> Vec<WorkerInfo> {
        if let Some(d) = &self.distributed {
            return d
                .discovery
                .instances()
                .into_iter()
                .map(|r| WorkerInfo {
                    model: r.model,
                    namespace: d.name.namespace.clone(),
                    component: d.name.component.clone(),
                    endpoint: d.name.endpoint.clone(),
                    instance_id: r.instance_id.to_string(),
                })
                .collect();
        }
        let mut infos = Vec::new();
        for worker in &self.workers {
            if let Ok(info) = self.info(worker).await {
                infos.push(info);
            }
        }
        infos
    }

    async fn info(&self, worker: &Worker) -> Result<WorkerInfo, PlaneError> {
        if let Some(info) = lock(&worker.info).clone() {
            return Ok(info);
        }
        let response = self
            .send(worker, Method::GET, INFO_PATH, Bytes::new())
            .await?;
        let status = response.status();
        let body = read_body(worker, response.into_body()).await?;
        if !status.is_success() {
            return Err(status_error(worker, status, &body));
        }
        let info: WorkerInfo = serde_json::from_slice(&body)
            .map_err(|e| broken(worker, format!("bad {INFO_PATH} answer: {e}")))?;
        *lock(&worker.info) = Some(info.clone());
        Ok(info)
    }

    /// Starts a generation on the next reachable worker serving the model and returns its
    /// token stream. Must be called inside the span whose trace the call continues.
    pub async fn generate(&self, request: &GenerateRequest) -> Result<TokenStream, PlaneError> {
        if let Some(d) = &self.distributed {
            return d.generate(request).await;
        }
        let n = self.workers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        // Workers marked down are tried last, so a restarted one is found again.
        let order = (0..n).map(|i| (start + i) % n);
        let (up, down): (Vec<_>, Vec<_>) = order.partition(|&i| !self.workers[i].is_down());
        // Whether some worker (even one now unreachable) serves the model: if none does, the
        // model is unknown; if one does but none answered, no worker is reachable.
        let mut model_served = false;
        let body = Bytes::from(serde_json::to_vec(request).unwrap_or_default());
        for i in up.into_iter().chain(down) {
            let worker = &self.workers[i];
            let info = match self.info(worker).await {
                Ok(info) => info,
                Err(PlaneError::NoWorker(_)) => continue,
                Err(e) => return Err(e),
            };
            if info.model != request.model {
                continue;
            }
            model_served = true;
            let path = format!("/{}", info.endpoint);
            let response = match self.send(worker, Method::POST, &path, body.clone()).await {
                Ok(response) => response,
                Err(PlaneError::NoWorker(_)) => continue,
                Err(e) => return Err(e),
            };
            let status = response.status();
            if !status.is_success() {
                let body = read_body(worker, response.into_body()).await?;
                return Err(status_error(worker, status, &body));
            }
            return Ok(TokenStream {
                worker: worker.base.clone(),
                source: Source::Http(response.into_body()),
                buffer: Vec::new(),
                finished: false,
            });
        }
        let any_known = self.workers.iter().any(|w| lock(&w.info).is_some());
        if model_served || !any_known {
            Err(PlaneError::NoWorker(n))
        } else {
            Err(PlaneError::UnknownModel(request.model.clone()))
        }
    }

    /// One request; a refused or failed connection marks the worker down and is `NoWorker`.
    async fn send(
        &self,
        worker: &Worker,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> Result<http::Response<Incoming>, PlaneError> {
        let url = format!("{}{path}", worker.base);
        let uri: Uri = url
            .parse()
            .map_err(|e| broken(worker, format!("bad URL {url:?}: {e}")))?;
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(headers) = request.headers_mut() {
            inject_current(headers);
            if !body.is_empty() {
                headers.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/json"),
                );
            }
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| broken(worker, e.to_string()))?;
        if enabled!(target: wire::REQUEST, Level::DEBUG) {
            debug!(target: wire::REQUEST, method = %request.method(), url = %request.uri(), headers = %wire::Headers(request.headers()), "sending request");
        }
        if enabled!(target: wire::REQUEST, Level::TRACE) {
            if let Some(data) = request
                .body()
                .clone()
                .collect()
                .await
                .ok()
                .map(|c| c.to_bytes())
            {
                trace!(target: wire::REQUEST, body = %data.escape_ascii(), "request body");
            }
        }
        let Ok(answered) = tokio::time::timeout(RESPONSE_TIMEOUT, self.http.request(request)).await
        else {
            debug!(target: wire::TRANSPORT, worker = worker.base, timeout_ms = RESPONSE_TIMEOUT.as_millis() as u64, "no response in time");
            return Err(broken(
                worker,
                format!("no response within {} s", RESPONSE_TIMEOUT.as_secs()),
            ));
        };
        match answered {
            Ok(response) => {
                debug!(target: wire::RESPONSE, status = response.status().as_u16(), headers = %wire::Headers(response.headers()), url, "received response");
                Ok(response)
            }
            Err(e) if e.is_connect() => {
                debug!(target: wire::TRANSPORT, worker = worker.base, error = %error_chain(&e), "cannot connect; skipping the worker for a while");
                worker.mark_down();
                Err(PlaneError::NoWorker(1))
            }
            Err(e) => {
                debug!(target: wire::TRANSPORT, worker = worker.base, error = %error_chain(&e), "request failed");
                worker.mark_down();
                Err(broken(worker, error_chain(&e)))
            }
        }
    }
}

/// A worker URL that is not `http://host:port`.
#[derive(Debug, thiserror::Error)]
#[error("--worker {url:?}: {reason} (expected http://host:port)")]
pub struct InvalidWorkerUrl {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

fn check_worker_url(url: &str) -> Result<(), InvalidWorkerUrl> {
    let invalid = |reason| InvalidWorkerUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    match (uri.scheme_str(), uri.authority(), uri.path()) {
        (Some("http"), Some(a), "" | "/") if a.port_u16().is_some() && uri.query().is_none() => {
            Ok(())
        }
        (Some("http"), Some(_), "" | "/") => Err(invalid("no port")),
        (Some("http"), Some(_), _) => Err(invalid(
            "a path is not allowed; the worker says where its endpoint is",
        )),
        (Some(_), _, _) => Err(invalid("only http is supported")),
        (None, _, _) => Err(invalid("no scheme")),
    }
}

impl Distributed {
    /// One call to the next live instance serving the model: its subject gets the request with
    /// the trace headers, the answer comes on a new inbox; the first message within
    /// [`nats::FIRST_MESSAGE`], the rest until the instance's key disappears.
    async fn generate(&self, request: &GenerateRequest) -> Result<TokenStream, PlaneError> {
        let Some(picked) = self.discovery.pick(&request.model) else {
            return Err(if self.discovery.instances().is_empty() {
                PlaneError::NoWorker(0)
            } else {
                PlaneError::UnknownModel(request.model.clone())
            });
        };
        let subject = picked.registration.subject;
        let unavailable = |reason: String| {
            debug!(target: wire::TRANSPORT, subject, reason, "NATS call failed");
            PlaneError::Unavailable(reason)
        };
        let mut lost = self.losses.clone();
        lost.mark_unchanged();
        if !nats::connected(&self.nats) {
            return Err(unavailable("not connected to NATS".into()));
        }
        let inbox = self.nats.new_inbox();
        let mut messages = self
            .nats
            .subscribe(inbox.clone())
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut headers = async_nats::HeaderMap::new();
        inject_into(&mut headers);
        debug!(target: wire::REQUEST, subject, headers = %nats::Headers(Some(&headers)), "sending request");
        let body = Bytes::from(serde_json::to_vec(request).unwrap_or_default());
        trace!(target: wire::REQUEST, body = %body.escape_ascii(), "request body");
        self.nats
            .publish_with_reply_and_headers(subject.clone(), inbox, headers, body)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut gone = picked.gone;
        let first = tokio::select! {
            first = tokio::time::timeout(nats::FIRST_MESSAGE, messages.next()) => first,
            _ = gone.wait_for(|gone| *gone) => return Err(unavailable("the instance left etcd".into())),
            _ = lost.changed() => return Err(unavailable("the NATS connection was lost".into())),
        };
        let first = match first {
            Ok(Some(message)) => message,
            Ok(None) => return Err(unavailable("the subscription closed".into())),
            Err(_) => {
                return Err(PlaneError::Broken {
                    worker: subject,
                    reason: format!("no answer within {} s", nats::FIRST_MESSAGE.as_secs()),
                })
            }
        };
        if first.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Err(unavailable("no responders on the subject".into()));
        }
        debug!(target: wire::RESPONSE, subject, headers = %nats::Headers(first.headers.as_ref()), "received response");
        Ok(TokenStream {
            worker: subject,
            source: Source::Nats {
                messages,
                first: Some(first.payload),
                gone,
                lost,
            },
            buffer: Vec::new(),
            finished: false,
        })
    }
}

/// The tokens of one generation, as the worker streams them.
pub struct TokenStream {
    worker: String,
    source: Source,
    buffer: Vec<u8>,
    finished: bool,
}

/// Where a stream's lines come from.
enum Source {
    /// An HTTP response body.
    Http(Incoming),
    /// NATS messages on the call's inbox, one line each.
    Nats {
        messages: async_nats::Subscriber,
        /// The first message, already read.
        first: Option<Bytes>,
        /// Turns `true` when the instance's key disappears (it died or left).
        gone: watch::Receiver<bool>,
        /// Changes when the NATS connection is lost (the rest of the answer may never come).
        lost: watch::Receiver<u64>,
    },
}

impl TokenStream {
    /// The worker serving this stream.
    pub fn worker(&self) -> &str {
        &self.worker
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
                let message = serde_json::from_slice::<WorkerMessage>(&line[..end]).map_err(|e| {
                    PlaneError::Broken {
                        worker: self.worker.clone(),
                        reason: format!("not a protocol line ({e})"),
                    }
                });
                if matches!(
                    message,
                    Ok(WorkerMessage::Done { .. } | WorkerMessage::Error { .. }) | Err(_)
                ) {
                    self.finished = true;
                }
                return Some(message);
            }
            if self.buffer.len() > MAX_LINE {
                return Some(self.fail(format!("a line longer than {MAX_LINE} bytes")));
            }
            let more: Result<Option<Bytes>, String> = match &mut self.source {
                Source::Http(body) => match body.frame().await {
                    Some(Ok(frame)) => Ok(frame.into_data().ok()),
                    Some(Err(e)) => Err(format!("the stream broke: {}", error_chain(&e))),
                    None => Err("the stream ended before the generation finished".to_owned()),
                },
                Source::Nats {
                    messages,
                    first,
                    gone,
                    lost,
                } => match first.take() {
                    Some(payload) => Ok(Some(payload)),
                    None => tokio::select! {
                        message = messages.next() => message
                            .map(|m| Some(m.payload))
                            .ok_or_else(|| "the NATS subscription closed".to_owned()),
                        _ = gone.wait_for(|gone| *gone) => Err(
                            "the worker's key disappeared from etcd (it died or left)".to_owned()
                        ),
                        _ = lost.changed() => {
                            debug!(target: wire::TRANSPORT, worker = self.worker, "the NATS connection was lost mid-answer");
                            self.finished = true;
                            return Some(Err(PlaneError::Unavailable(
                                "the NATS connection was lost during the call".to_owned(),
                            )));
                        }
                    },
                },
            };
            let more = match more {
                Ok(more) => more,
                Err(reason) => return Some(self.fail(reason)),
            };
            if let Some(data) = more {
                trace!(target: wire::RESPONSE, worker = self.worker, frame = %data.escape_ascii(), "response frame");
                self.buffer.extend_from_slice(&data);
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

async fn read_body(worker: &Worker, body: Incoming) -> Result<Bytes, PlaneError> {
    let limited = http_body_util::Limited::new(body, MAX_LINE);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| broken(worker, format!("reading the body: {e}")))?
        .to_bytes();
    trace!(target: wire::RESPONSE, worker = worker.base, body = %bytes.escape_ascii(), "response body");
    Ok(bytes)
}

fn status_error(worker: &Worker, status: StatusCode, body: &[u8]) -> PlaneError {
    PlaneError::Status {
        worker: worker.base.clone(),
        status,
        body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
    }
}

fn broken(worker: &Worker, reason: String) -> PlaneError {
    PlaneError::Broken {
        worker: worker.base.clone(),
        reason,
    }
}

/// An error and its sources on one line: hyper's top-level messages alone say little.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_urls() {
        for ok in [
            "http://127.0.0.1:9090",
            "http://worker-0.backend:9090/",
            "http://[::1]:9090",
        ] {
            assert!(check_worker_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("127.0.0.1:9090", "no scheme"),
            ("https://w:9090", "only http"),
            ("http://w", "no port"),
            ("http://w:9090/generate", "a path is not allowed"),
            ("http://w:9090?x=1", "no port"),
            ("", "not a URL"),
        ] {
            let err = check_worker_url(bad).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
