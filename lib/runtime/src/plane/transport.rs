//! The seam between the frontend's [`PlaneClient`](super::PlaneClient) and a transport: a
//! [`Transport`] reaches the workers (HTTP: a fixed list, round-robin; NATS: the instances
//! etcd lists) and starts a generation, whose answer it hands back as [`Frames`], the bytes of
//! the protocol's lines as they arrive. The lines themselves are read once, for every
//! transport, by [`TokenStream`](super::TokenStream).

use bytes::Bytes;
use futures_util::stream::BoxStream;

use super::{GenerateRequest, PlaneError, WorkerInfo};

/// The bytes of one answer as they arrive; an `Err` ends it (the worker died, the connection
/// broke).
pub type Frames = BoxStream<'static, Result<Bytes, PlaneError>>;

/// A started generation: the worker serving it (its URL, or NATS subject) and its answer.
pub struct Started {
    /// The worker, as the `wire` loggers and errors name it.
    pub worker: String,
    /// The instance serving the call, as `request completed` names it (`worker_instance`): the
    /// worker's URL over HTTP, its instance id over NATS.
    pub instance: String,
    /// The answer's bytes.
    pub frames: Frames,
}

/// How the frontend reaches its workers.
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Starts a generation on the next reachable worker serving the model. Called inside the
    /// span whose trace the call continues.
    async fn generate(&self, request: &GenerateRequest) -> Result<Started, PlaneError>;

    /// What each reachable worker says of itself.
    async fn infos(&self) -> Vec<WorkerInfo>;

    /// The workers' URLs (their NATS subjects on the NATS plane).
    fn worker_urls(&self) -> Vec<String>;
}
