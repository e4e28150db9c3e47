//! The request plane over NATS (SPEC §10): a call is one message to the instance's subject, with
//! the trace headers as NATS headers (through the propagation carriers), answered by the
//! worker's lines of today's protocol ([`WorkerMessage`](super::WorkerMessage)), one NATS
//! message each, on the caller's inbox, in order.

use std::{future::Future, time::Duration};

use async_nats::{Client, ConnectOptions, Event, HeaderMap, Message};
use futures_util::StreamExt;
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::etcd::Instance;
use crate::{
    propagation::{Extractor, Injector},
    wire,
};

/// How long the first message of an answer may take; the rest are bounded by the instance's
/// lease (its key disappears when it dies).
pub(crate) const FIRST_MESSAGE: Duration = Duration::from_secs(30);

impl Extractor for HeaderMap {
    fn get_all(&self, name: &str) -> Vec<&[u8]> {
        HeaderMap::get_all(self, name)
            .map(|v| v.as_str().as_bytes())
            .collect()
    }
}

impl Injector for HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        self.insert(name, value.as_str());
    }
}

/// The headers of a NATS message as the `wire` loggers show them.
pub struct Headers<'a>(pub Option<&'a HeaderMap>);

impl std::fmt::Display for Headers<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut map = f.debug_map();
        if let Some(headers) = self.0 {
            for (name, values) in headers.iter() {
                for value in values {
                    map.entry(&AsRef::<str>::as_ref(name), &value.as_str());
                }
            }
        }
        map.finish()
    }
}

/// A NATS connection and how many times it was lost so far: a call in flight when it is lost
/// may never get the rest of its answer, so it ends at once instead of waiting.
#[derive(Clone)]
pub struct Connection {
    /// The client (it reconnects by itself, and restores its subscriptions).
    pub client: Client,
    /// Incremented at each disconnection.
    pub losses: watch::Receiver<u64>,
}

/// Connects to the NATS server as `name`; disconnections and reconnections are logged and
/// counted.
pub async fn connect(url: &str, name: &str) -> Result<Connection, async_nats::ConnectError> {
    let (lost, losses) = watch::channel(0_u64);
    let options = ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            if let Event::Disconnected = event {
                lost.send_modify(|n| *n += 1);
            }
            async move {
                match event {
                    Event::Disconnected => warn!("NATS connection lost; reconnecting"),
                    Event::Connected => info!("NATS connection (re)established"),
                    other => debug!(target: wire::TRANSPORT, event = %other, "NATS event"),
                }
            }
        });
    let client = async_nats::connect_with_options(url, options).await?;
    Ok(Connection { client, losses })
}

/// Serves the subject of `instance` (and of the instance it becomes, if it registers again)
/// until `shutdown` resolves; `handle` gets each message (and spawns what answers it).
pub async fn serve(
    client: Client,
    mut instance: watch::Receiver<Instance>,
    shutdown: impl Future<Output = ()>,
    handle: impl Fn(Message),
) -> Result<(), async_nats::SubscribeError> {
    tokio::pin!(shutdown);
    loop {
        let subject = instance.borrow_and_update().subject.clone();
        let mut messages = client.subscribe(subject.clone()).await?;
        info!(subject, "serving on NATS");
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = messages.unsubscribe().await;
                    return Ok(());
                }
                changed = instance.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let _ = messages.unsubscribe().await;
                    break;
                }
                message = messages.next() => match message {
                    Some(message) => handle(message),
                    None => break,
                },
            }
        }
    }
}

/// Whether the client is connected now (a call made while it is not fails at once).
pub(crate) fn connected(client: &Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}
