//! The connection to the NATS server, shared by both sides: it reconnects by itself, and counts
//! its losses so that a call in flight ends at once.

use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::{plane::security::NatsSecurity, wire};

/// The target of the NATS plane's own lines (connection events, the subscription), as before
/// the plane had a folder per transport.
pub(crate) const NATS_TARGET: &str = "tracewire_runtime::plane::nats";

/// How long the first message of an answer may take; the rest are bounded by the instance's
/// lease (its key disappears when it dies).
pub(crate) const FIRST_MESSAGE: Duration = Duration::from_secs(30);

/// A NATS connection and how many times it was lost so far: a call in flight when it is lost
/// may never get the rest of its answer, so it ends at once instead of waiting.
#[derive(Clone)]
pub struct Connection {
    /// The client (it reconnects by itself, and restores its subscriptions).
    pub client: Client,
    /// Incremented at each disconnection.
    pub losses: watch::Receiver<u64>,
}

/// Connects to the NATS server as `name`, with `security`'s TLS and credentials;
/// disconnections and reconnections are logged and counted. A server that refuses the
/// credentials later (an expired JWT) is a WARN, and the client keeps reconnecting.
pub async fn connect(
    url: &str,
    name: &str,
    security: &NatsSecurity,
) -> Result<Connection, async_nats::ConnectError> {
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
                    Event::Disconnected => {
                        warn!(target: NATS_TARGET, "NATS connection lost; reconnecting")
                    }
                    Event::Connected => {
                        info!(target: NATS_TARGET, "NATS connection (re)established")
                    }
                    Event::ClientError(e) => {
                        warn!(target: NATS_TARGET, error = %e, "NATS client error; reconnecting")
                    }
                    Event::ServerError(e) => {
                        warn!(target: NATS_TARGET, error = %e, "NATS server error")
                    }
                    other => debug!(target: wire::TRANSPORT, event = %other, "NATS event"),
                }
            }
        });
    let options = security
        .apply(url, options)
        .map_err(|e| async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::Tls, e))?;
    let client = async_nats::connect_with_options(url, options).await?;
    Ok(Connection { client, losses })
}

/// Whether the client is connected now (a call made while it is not fails at once).
pub(crate) fn connected(client: &Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}
