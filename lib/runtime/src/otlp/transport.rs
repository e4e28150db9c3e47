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
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use opentelemetry_sdk::{
    error::{OTelSdkError, OTelSdkResult},
    trace::{SpanData, SpanExporter},
    Resource,
};
use rustls::ClientConfig;
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
                Ok(()) => {
                    stats.exported.fetch_add(n, Ordering::Relaxed);
                    crate::metrics::metrics().spans_exported(n);
                }
                Err(e) => {
                    stats.record_failure(n, e);
                    crate::metrics::metrics().spans_dropped(n);
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

/// How both transports connect: TCP, then TLS for `https://` (hyper-rustls), with each
/// connection or handshake failure noted in the export's stats, so that the WARN about a
/// failing export gives the reason (an unknown CA, say) while the batch is still being retried.
#[derive(Clone)]
pub(crate) struct Connector {
    inner: HttpsConnector<HttpConnector>,
    stats: Arc<ExportStats>,
    /// Connect with TLS whatever the URI's scheme: tonic is given `http://` (see
    /// [`grpc_channel`]).
    always_tls: bool,
}

impl Connector {
    /// A connector for `tls` (none for `http://`), ALPN `h2` for gRPC, `http/1.1` for HTTP.
    pub(crate) fn new(
        tls: Option<ClientConfig>,
        grpc: bool,
        timeout: Duration,
        stats: Arc<ExportStats>,
    ) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        http.set_nodelay(true);
        // Without TLS settings (an http:// endpoint) the connector refuses https:// URLs.
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.unwrap_or_else(no_tls))
            .https_or_http();
        let inner = if grpc {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        };
        Connector {
            inner,
            stats,
            always_tls: false,
        }
    }
}

/// The settings of a connector to an `http://` endpoint: never used for a handshake.
fn no_tls() -> ClientConfig {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth()
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = <HttpsConnector<HttpConnector> as tower_service::Service<http::Uri>>::Response;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let uri = match self.always_tls {
            true => with_scheme(uri, http::uri::Scheme::HTTPS),
            false => uri,
        };
        let connecting = self.inner.call(uri);
        let stats = self.stats.clone();
        Box::pin(async move {
            connecting.await.inspect_err(|e| {
                stats.note_transport_error(&error_chain(e.as_ref()));
            })
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `uri` with `scheme`.
fn with_scheme(uri: http::Uri, scheme: http::uri::Scheme) -> http::Uri {
    let mut parts = uri.into_parts();
    parts.scheme = Some(scheme);
    http::Uri::from_parts(parts).unwrap_or_else(|_| http::Uri::default())
}

/// An error and its sources on one line: "connect: invalid peer certificate: UnknownIssuer".
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    text
}

/// The gRPC channel to `url`: tonic's, over [`Connector`] (so TLS is ours, not tonic's), each
/// call bounded by `timeout`. Connects on first use: startup never waits for the collector.
///
/// tonic is built with its own TLS (etcd-client's TLS is tonic's), and then refuses an
/// `https://` URI it has no TLS configuration for, after our connector did the handshake. So it
/// is given the URL as `http://`, and the connector does TLS for it all the same.
pub(crate) fn grpc_channel(
    url: &str,
    timeout: Duration,
    mut connector: Connector,
) -> Result<tonic::transport::Channel, String> {
    let url = match url.strip_prefix("https://") {
        Some(rest) => {
            connector.always_tls = true;
            format!("http://{rest}")
        }
        None => url.to_owned(),
    };
    let endpoint = tonic::transport::Endpoint::from_shared(url)
        .map_err(|e| error_chain(&e))?
        .timeout(timeout)
        .connect_timeout(timeout);
    Ok(endpoint.connect_with_connector_lazy(connector))
}

/// The OTLP/HTTP exporter's client: hyper on the caller's runtime (it is always called from
/// [`OnRuntime`]), so no blocking client or second runtime is needed.
#[derive(Clone)]
pub(crate) struct HyperHttpClient {
    client: Client<Connector, Full<Bytes>>,
    timeout: Duration,
    stats: Arc<ExportStats>,
}

impl HyperHttpClient {
    /// A client whose every attempt takes at most `timeout`.
    pub(crate) fn new(connector: Connector, timeout: Duration) -> Self {
        let stats = connector.stats.clone();
        HyperHttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
            stats,
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
        let result = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer from the collector within {:?}", self.timeout).into()),
        };
        match &result {
            // The exporter reports any failure to send as "network error": keep the reason.
            Err(e) => self.stats.note_transport_error(&error_chain(e.as_ref())),
            Ok(response) if !response.status().is_success() => self
                .stats
                .note_transport_error(&format!("the collector answered {}", response.status())),
            Ok(_) => {}
        }
        result
    }
}
