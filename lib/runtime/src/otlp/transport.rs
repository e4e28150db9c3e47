//! Running exports on the process's own Tokio runtime.
//!
//! The SDK's `BatchSpanProcessor` calls `export` from its own thread through a plain
//! executor; tonic and hyper need a Tokio reactor. Rather than a second runtime per process,
//! [`OnRuntime`] hands each export to the application's runtime and waits for its result.

use std::{
    fmt,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use opentelemetry_sdk::{
    error::{OTelSdkError, OTelSdkResult},
    trace::{SpanData, SpanExporter},
    Resource,
};
use tokio::runtime::Handle;

use super::stats::ExportStats;

/// An exporter whose calls run on `handle`.
#[derive(Debug)]
pub(crate) struct OnRuntime<E> {
    pub(crate) inner: Arc<E>,
    pub(crate) handle: Handle,
    pub(crate) stats: Arc<ExportStats>,
}

impl<E: SpanExporter + 'static> SpanExporter for OnRuntime<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let (inner, handle, stats) = (self.inner.clone(), self.handle.clone(), self.stats.clone());
        async move {
            let n = batch.len() as u64;
            let result = match handle.spawn(async move { inner.export(batch).await }).await {
                Ok(result) => result,
                Err(e) => Err(OTelSdkError::InternalFailure(format!(
                    "export task failed: {e}"
                ))),
            };
            // Counted out of the queue only once settled: a batch stuck in a hung export is
            // still "queued", and reported lost if shutdown gives up on it.
            stats.queued.fetch_sub(n, Ordering::Relaxed);
            match &result {
                Ok(()) => stats.exported.fetch_add(n, Ordering::Relaxed),
                Err(e) => {
                    stats.record_failure(n, e);
                    0
                }
            };
            result
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

/// The largest collector response read.
const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// The OTLP/HTTP exporter's client: hyper on the caller's runtime (it is always called from
/// [`OnRuntime`]), so no blocking client or second runtime is needed.
#[derive(Clone)]
pub(crate) struct HyperHttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl HyperHttpClient {
    pub(crate) fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        HyperHttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }
}

impl fmt::Debug for HyperHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperHttpClient")
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HyperHttpClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(body));
        let exchange = async {
            let response = self.client.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
            Ok::<_, opentelemetry_http::HttpError>(http::Response::from_parts(parts, body))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| format!("no answer from the collector within {:?}", self.timeout))?
    }
}
