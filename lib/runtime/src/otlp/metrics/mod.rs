//! OTLP metrics (SPEC §5): with `OTEL_METRICS_EXPORTER=otlp`, the process's metrics (the registry
//! `GET /metrics` serves, SPEC §8) are pushed every `OTEL_METRIC_EXPORT_INTERVAL` (60 s unless
//! set) to `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (or the base endpoint), over gRPC or OTLP/HTTP
//! with the same TLS, headers and timeout settings as spans and logs, beside `/metrics`.
//!
//! Cumulative temporality, as Prometheus counts: a push that fails loses nothing, the next one
//! carries the totals, so a failure is not retried but noted (a WARN at once, then rate-limited
//! as for spans). Shutdown pushes once more, within [`SHUTDOWN_TIMEOUT`], so that the last
//! requests of a run are in the backend.

mod convert;

use std::{
    sync::{atomic::Ordering, Arc, Mutex, PoisonError},
    time::{SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use opentelemetry::Value;
use opentelemetry_http::HttpClient as _;
use opentelemetry_proto::tonic::{
    collector::metrics::v1::{
        metrics_service_client::MetricsServiceClient, ExportMetricsServiceRequest,
    },
    common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue},
    metrics::v1::{ResourceMetrics, ScopeMetrics},
    resource::v1::Resource,
};
use prost::Message as _;
use tokio::{runtime::Handle, task::JoinHandle};
use tracing::warn;

use super::{
    config::{OtlpConfig, OtlpProtocol, Resolved, Signal},
    export::{
        bad_endpoint, header_pairs, metadata, report_losses, resource, runtime_handle, StartError,
    },
    stats::ExportStats,
    transport::{grpc_channel, Connector, HyperHttpClient},
};
use crate::{metrics::Metrics, settings::env};

use super::export::SHUTDOWN_TIMEOUT;

/// A running metrics push.
#[derive(Debug)]
pub struct MetricExport {
    push: Arc<Push>,
    handle: Handle,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// What one push needs: the registry, where it goes, and what it says of itself.
struct Push {
    source: &'static Metrics,
    sender: Sender,
    resource: Resource,
    /// When the cumulative counts began: the export's start, close to the process's.
    start_ns: u64,
    stats: Arc<ExportStats>,
}

impl std::fmt::Debug for Push {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Push").finish_non_exhaustive()
    }
}

// One per process, made once: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sender {
    Grpc {
        client: MetricsServiceClient<tonic::transport::Channel>,
        metadata: tonic::metadata::MetadataMap,
    },
    Http {
        client: HyperHttpClient,
        url: String,
        headers: http::HeaderMap,
    },
}

impl MetricExport {
    /// Starts pushing `source` as `config` says, on the current Tokio runtime: the first push
    /// after one interval, then one per interval. Startup never waits for the collector.
    pub fn start(config: &OtlpConfig, source: &'static Metrics) -> Result<Arc<Self>, StartError> {
        let handle = runtime_handle(env::OTEL_METRICS_EXPORTER)?;
        let resolved = config.resolve(Signal::Metrics);
        if !(resolved.url.starts_with("http://") || resolved.url.starts_with("https://")) {
            return Err(bad_endpoint(&resolved, &"expected an http:// or https:// URL").into());
        }
        let stats = Arc::new(ExportStats::default());
        let sender = {
            let _runtime = handle.enter();
            sender(&resolved, &stats)?
        };
        let push = Arc::new(Push {
            source,
            sender,
            resource: proto_resource(&resource(config)),
            start_ns: unix_nanos(),
            stats: stats.clone(),
        });
        let interval = config.metric_interval();
        let ticker = {
            let push = push.clone();
            handle.spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                tick.tick().await; // the first tick is at once
                loop {
                    tick.tick().await;
                    // A failure is noted in the stats; the next push carries the totals.
                    let _ = push.once().await;
                }
            })
        };
        let reporter = handle.spawn(report_losses(stats, "metric pushes"));
        Ok(Arc::new(MetricExport {
            push,
            handle,
            tasks: Mutex::new(vec![ticker, reporter]),
        }))
    }

    /// Pushes successfully made so far.
    pub fn pushes(&self) -> u64 {
        self.push.stats.exported.load(Ordering::Relaxed)
    }

    /// Stops the interval and pushes the last values, waiting at most [`SHUTDOWN_TIMEOUT`]; a
    /// last push that fails is a WARN with the reason. Called by the logging guard.
    pub fn shutdown(&self) {
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            task.abort();
        }
        // On a thread of its own: the guard may be dropped on one of the runtime's threads,
        // where blocking on the runtime is not allowed.
        let (push, handle) = (self.push.clone(), self.handle.clone());
        let last = std::thread::Builder::new()
            .name("tracewire-metrics".into())
            .spawn(move || {
                handle.block_on(async move {
                    match tokio::time::timeout(SHUTDOWN_TIMEOUT, push.once()).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("no answer within {SHUTDOWN_TIMEOUT:?}")),
                    }
                })
            })
            .map_err(|e| e.to_string())
            .and_then(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err("the push panicked".into()))
            });
        if let Err(reason) = last {
            warn!(reason, "OTLP metrics: the last push failed");
        }
    }
}

impl Push {
    /// One push of every metric as they are now.
    async fn once(&self) -> Result<(), String> {
        let times = convert::Times {
            start: self.start_ns,
            now: unix_nanos(),
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "tracewire".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    metrics: convert::metrics(&self.source.encode(), times),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let noted = self.stats.transport_errors.load(Ordering::Relaxed);
        let result = self.sender.send(request).await;
        match &result {
            Ok(()) => {
                self.stats.exported.fetch_add(1, Ordering::Relaxed);
            }
            // The transport notes what it saw (a refused connection, a handshake, an HTTP
            // status); a gRPC status or a partial success is noted here.
            Err(reason) if self.stats.transport_errors.load(Ordering::Relaxed) == noted => {
                self.stats.note_transport_error(reason);
            }
            Err(_) => {}
        }
        result.map_err(|reason| self.stats.transport_error().unwrap_or(reason))
    }
}

impl Sender {
    async fn send(&self, request: ExportMetricsServiceRequest) -> Result<(), String> {
        let rejected = match self {
            Sender::Grpc { client, metadata } => {
                let mut call = tonic::Request::new(request);
                *call.metadata_mut() = metadata.clone();
                // The client is a handle on the shared channel: cloning it is cheap.
                let answer = client
                    .clone()
                    .export(call)
                    .await
                    .map_err(|status| format!("the collector answered {status}"))?;
                answer.into_inner().partial_success
            }
            Sender::Http {
                client,
                url,
                headers,
            } => {
                let mut builder = http::Request::post(url.as_str());
                if let Some(all) = builder.headers_mut() {
                    all.extend(headers.clone());
                }
                let request = builder
                    .header(http::header::CONTENT_TYPE, "application/x-protobuf")
                    .body(Bytes::from(request.encode_to_vec()))
                    .map_err(|e| e.to_string())?;
                let answer = client
                    .send_bytes(request)
                    .await
                    .map_err(|e| e.to_string())?;
                if !answer.status().is_success() {
                    return Err(format!("the collector answered {}", answer.status()));
                }
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse::decode(
                    answer.into_body(),
                )
                .ok()
                .and_then(|r| r.partial_success)
            }
        };
        match rejected {
            Some(p) if p.rejected_data_points > 0 => Err(format!(
                "the collector rejected {} data points: {}",
                p.rejected_data_points, p.error_message
            )),
            _ => Ok(()),
        }
    }
}

/// The sender for a resolved signal: gRPC through the shared channel, or HTTP through the
/// shared client, both over [`Connector`] (our TLS, failures noted in `stats`).
fn sender(resolved: &Resolved, stats: &Arc<ExportStats>) -> Result<Sender, StartError> {
    let tls = super::tls::client_config(resolved)?;
    Ok(match resolved.protocol {
        OtlpProtocol::Grpc => {
            let connector = Connector::new(tls, true, resolved.timeout, stats.clone());
            let channel = grpc_channel(&resolved.url, resolved.timeout, connector)
                .map_err(|e| bad_endpoint(resolved, &e))?;
            Sender::Grpc {
                client: MetricsServiceClient::new(channel),
                metadata: metadata(&resolved.headers),
            }
        }
        OtlpProtocol::HttpProtobuf => {
            let connector = Connector::new(tls, false, resolved.timeout, stats.clone());
            Sender::Http {
                client: HyperHttpClient::new(connector, resolved.timeout),
                url: resolved.url.clone(),
                headers: header_pairs(&resolved.headers),
            }
        }
    })
}

/// The SDK resource (the one spans and logs carry) as the OTLP message.
fn proto_resource(resource: &opentelemetry_sdk::Resource) -> Resource {
    Resource {
        attributes: resource
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: Some(AnyValue {
                    value: Some(match v {
                        Value::Bool(b) => any_value::Value::BoolValue(*b),
                        Value::I64(n) => any_value::Value::IntValue(*n),
                        Value::F64(x) => any_value::Value::DoubleValue(*x),
                        other => any_value::Value::StringValue(other.to_string()),
                    }),
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
