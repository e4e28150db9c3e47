//! The frontend's side of the HTTP plane: calls to a fixed list of workers, balanced
//! round-robin, a worker that refuses connections skipped for a while.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures_util::StreamExt;
use http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, BodyStream, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use tracing::{debug, enabled, trace, Level};

use crate::{
    plane::{
        client::{error_chain, MAX_LINE},
        transport::{Frames, Started, Transport},
        GenerateRequest, PlaneClient, PlaneError, WorkerInfo, INFO_PATH,
    },
    propagation::inject_current,
    wire,
};

/// How long a worker that refused a connection is passed over.
const DOWN_FOR: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a worker may take to answer with a status line; the stream after it is not bounded.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

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

    fn broken(&self, reason: String) -> PlaneError {
        PlaneError::Broken {
            worker: self.base.clone(),
            reason,
        }
    }

    fn status_error(&self, status: StatusCode, body: &[u8]) -> PlaneError {
        PlaneError::Status {
            worker: self.base.clone(),
            status,
            body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// HTTP/1.1 to a fixed set of workers.
pub struct HttpTransport {
    http: Client<HttpConnector, Full<Bytes>>,
    workers: Vec<Worker>,
    next: AtomicUsize,
}

impl PlaneClient {
    /// A client for workers at these base URLs (`http://host:port`) over HTTP; an URL of
    /// another form is refused with the reason.
    pub fn new(worker_urls: impl IntoIterator<Item = String>) -> Result<Self, InvalidWorkerUrl> {
        HttpTransport::new(worker_urls).map(PlaneClient::over)
    }
}

impl HttpTransport {
    /// A transport to workers at these base URLs (`http://host:port`).
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
        Ok(HttpTransport {
            http: Client::builder(TokioExecutor::new()).build(connector),
            workers,
            next: AtomicUsize::new(0),
        })
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
            return Err(worker.status_error(status, &body));
        }
        let info: WorkerInfo = serde_json::from_slice(&body)
            .map_err(|e| worker.broken(format!("bad {INFO_PATH} answer: {e}")))?;
        *lock(&worker.info) = Some(info.clone());
        Ok(info)
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
            .map_err(|e| worker.broken(format!("bad URL {url:?}: {e}")))?;
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
            .map_err(|e| worker.broken(e.to_string()))?;
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
            return Err(worker.broken(format!(
                "no response within {} s",
                RESPONSE_TIMEOUT.as_secs()
            )));
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
                Err(worker.broken(error_chain(&e)))
            }
        }
    }
}

#[async_trait::async_trait]
impl Transport for HttpTransport {
    async fn generate(&self, request: &GenerateRequest) -> Result<Started, PlaneError> {
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
                return Err(worker.status_error(status, &body));
            }
            return Ok(Started {
                worker: worker.base.clone(),
                instance: worker.base.clone(),
                frames: frames(worker.base.clone(), response.into_body()),
            });
        }
        let any_known = self.workers.iter().any(|w| lock(&w.info).is_some());
        if model_served || !any_known {
            Err(PlaneError::NoWorker(n))
        } else {
            Err(PlaneError::UnknownModel(request.model.clone()))
        }
    }

    async fn infos(&self) -> Vec<WorkerInfo> {
        let mut infos = Vec::new();
        for worker in &self.workers {
            if let Ok(info) = self.info(worker).await {
                infos.push(info);
            }
        }
        infos
    }

    fn worker_urls(&self) -> Vec<String> {
        self.workers.iter().map(|w| w.base.clone()).collect()
    }
}

/// The data frames of a response body; a body that breaks is the stream's last item.
fn frames(worker: String, body: Incoming) -> Frames {
    BodyStream::new(body)
        .filter_map(move |frame| {
            let item = match frame {
                Ok(frame) => frame.into_data().ok().map(Ok),
                Err(e) => Some(Err(PlaneError::Broken {
                    worker: worker.clone(),
                    reason: format!("the stream broke: {}", error_chain(&e)),
                })),
            };
            std::future::ready(item)
        })
        .boxed()
}

async fn read_body(worker: &Worker, body: Incoming) -> Result<Bytes, PlaneError> {
    let limited = http_body_util::Limited::new(body, MAX_LINE);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| worker.broken(format!("reading the body: {e}")))?
        .to_bytes();
    trace!(target: wire::RESPONSE, worker = worker.base, body = %bytes.escape_ascii(), "response body");
    Ok(bytes)
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
