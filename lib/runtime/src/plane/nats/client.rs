//! The frontend's side of the NATS plane: a call to the next live instance serving the model,
//! among those etcd lists, round-robin; the request on the instance's subject with the trace
//! headers, the answer on a new inbox, one protocol line a message.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::{debug, trace};

use super::connection::{connected, Connection, FIRST_MESSAGE};
use crate::{
    plane::{
        distributed::EndpointName,
        etcd::Discovery,
        transport::{Frames, Started, Transport},
        GenerateRequest, PlaneClient, PlaneError, WorkerInfo,
    },
    propagation::inject_into,
    wire,
};

/// NATS calls to the instances of one endpoint that etcd lists.
pub struct NatsTransport {
    nats: async_nats::Client,
    losses: watch::Receiver<u64>,
    discovery: Arc<Discovery>,
    name: EndpointName,
}

impl PlaneClient {
    /// A client for the instances of `name` that `discovery` lists, called over `nats`.
    pub fn distributed(nats: Connection, discovery: Arc<Discovery>, name: EndpointName) -> Self {
        PlaneClient::over(NatsTransport {
            nats: nats.client,
            losses: nats.losses,
            discovery,
            name,
        })
    }
}

#[async_trait::async_trait]
impl Transport for NatsTransport {
    /// One call to the next live instance serving the model: its subject gets the request with
    /// the trace headers, the answer comes on a new inbox; the first message within
    /// 30 s (`FIRST_MESSAGE`), the rest until the instance's key disappears.
    async fn generate(&self, request: &GenerateRequest) -> Result<Started, PlaneError> {
        let Some(picked) = self.discovery.pick(&request.model) else {
            return Err(if self.discovery.instances().is_empty() {
                PlaneError::NoWorker(0)
            } else {
                PlaneError::UnknownModel(request.model.clone())
            });
        };
        let subject = picked.registration.subject;
        let instance = picked.registration.instance_id.to_string();
        let unavailable = |reason: String| {
            debug!(target: wire::TRANSPORT, subject, reason, "NATS call failed");
            PlaneError::Unavailable(reason)
        };
        let mut lost = self.losses.clone();
        lost.mark_unchanged();
        if !connected(&self.nats) {
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
        debug!(target: wire::REQUEST, subject, headers = %wire::Headers(&headers), "sending request");
        let body = Bytes::from(serde_json::to_vec(request).unwrap_or_default());
        trace!(target: wire::REQUEST, body = %body.escape_ascii(), "request body");
        self.nats
            .publish_with_reply_and_headers(subject.clone(), inbox, headers, body)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let mut gone = picked.gone;
        let first = tokio::select! {
            first = tokio::time::timeout(FIRST_MESSAGE, messages.next()) => first,
            _ = gone.wait_for(|gone| *gone) => return Err(unavailable("the instance left etcd".into())),
            _ = lost.changed() => return Err(unavailable("the NATS connection was lost".into())),
        };
        let first = match first {
            Ok(Some(message)) => message,
            Ok(None) => return Err(unavailable("the subscription closed".into())),
            Err(_) => {
                return Err(PlaneError::Broken {
                    worker: subject,
                    reason: format!("no answer within {} s", FIRST_MESSAGE.as_secs()),
                })
            }
        };
        if first.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Err(unavailable("no responders on the subject".into()));
        }
        let none = async_nats::HeaderMap::new();
        debug!(target: wire::RESPONSE, subject, headers = %wire::Headers(first.headers.as_ref().unwrap_or(&none)), "received response");
        let answer = Answer {
            worker: subject.clone(),
            messages,
            gone,
            lost,
        };
        Ok(Started {
            worker: subject,
            instance,
            frames: answer.frames(first.payload),
        })
    }

    async fn infos(&self) -> Vec<WorkerInfo> {
        let name = &self.name;
        self.discovery
            .instances()
            .into_iter()
            .map(|r| WorkerInfo {
                model: r.model,
                namespace: name.namespace.clone(),
                component: name.component.clone(),
                endpoint: name.endpoint.clone(),
                instance_id: r.instance_id.to_string(),
            })
            .collect()
    }

    fn worker_urls(&self) -> Vec<String> {
        let instances = self.discovery.instances();
        instances.into_iter().map(|r| r.subject).collect()
    }
}

/// The rest of an answer: NATS messages on the call's inbox, while the instance is listed and
/// the connection holds.
struct Answer {
    worker: String,
    messages: async_nats::Subscriber,
    /// Turns `true` when the instance's key disappears (it died or left).
    gone: watch::Receiver<bool>,
    /// Changes when the NATS connection is lost (the rest of the answer may never come).
    lost: watch::Receiver<u64>,
}

impl Answer {
    /// The answer's payloads, `first` (already read) first; it ends with an error when the
    /// instance goes, the connection is lost or the subscription closes.
    fn frames(self, first: Bytes) -> Frames {
        let rest = futures_util::stream::unfold(Some(self), |answer| async move {
            let mut answer = answer?;
            let broken = |reason: &str| PlaneError::Broken {
                worker: answer.worker.clone(),
                reason: reason.to_owned(),
            };
            let next = tokio::select! {
                message = answer.messages.next() => match message {
                    Some(m) => Ok(m.payload),
                    None => Err(broken("the NATS subscription closed")),
                },
                _ = answer.gone.wait_for(|gone| *gone) => {
                    Err(broken("the worker's key disappeared from etcd (it died or left)"))
                }
                _ = answer.lost.changed() => {
                    debug!(target: wire::TRANSPORT, worker = answer.worker, "the NATS connection was lost mid-answer");
                    let reason = "the NATS connection was lost during the call".to_owned();
                    Err(PlaneError::Unavailable(reason))
                }
            };
            let more = next.is_ok().then_some(answer);
            Some((next, more))
        });
        futures_util::stream::once(std::future::ready(Ok(first)))
            .chain(rest)
            .boxed()
    }
}
