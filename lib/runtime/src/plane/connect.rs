//! Setting up the distributed runtime (SPEC §10) for a process: the connections to NATS and
//! etcd, and for a frontend, the client of the instances etcd lists. Each failure is one error
//! naming the server.

use std::io;

use super::{
    client::error_chain,
    distributed::{DistributedConfig, EndpointName},
    etcd::{self, Discovery},
    nats::{self, Connection},
    security::shown_url,
    PlaneClient,
};

/// Connects to NATS as `client_name`, then to etcd.
pub async fn connect(
    config: &DistributedConfig,
    client_name: &str,
) -> io::Result<(Connection, etcd_client::Client)> {
    let nats = nats::connect(&config.nats_server, client_name, &config.nats_security)
        .await
        .map_err(|e| {
            io::Error::other(format!(
                "cannot connect to NATS at {}: {}",
                shown_url(&config.nats_server),
                error_chain(&e)
            ))
        })?;
    let etcd = etcd::connect(config).await.map_err(|e| {
        io::Error::other(format!(
            "cannot connect to etcd at {}: {}",
            config.etcd_endpoints.join(","),
            error_chain(&e)
        ))
    })?;
    Ok((nats, etcd))
}

/// A client of the instances of `name` (a frontend's, or a prefill worker's of its decode
/// workers), connecting as `client_name`: connected to both servers, the instances listed,
/// then watched.
pub async fn discover(
    config: &DistributedConfig,
    name: EndpointName,
    client_name: &str,
) -> io::Result<PlaneClient> {
    let (nats, etcd) = connect(config, client_name).await?;
    let discovery = Discovery::start(etcd, name.clone()).await.map_err(|e| {
        io::Error::other(format!(
            "cannot list the instances in etcd at {}: {e}",
            config.etcd_endpoints.join(",")
        ))
    })?;
    Ok(PlaneClient::distributed(nats, discovery, name))
}
