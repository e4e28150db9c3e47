//! The distributed runtime's settings and names (SPEC §10): `ETCD_ENDPOINTS` and `NATS_SERVER`
//! (both or neither), their TLS and credentials (`security`), `DYN_LEASE_TTL_S`; the etcd key and the NATS subject of an instance, and
//! what its key holds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::security::{EtcdSecurity, NatsSecurity};
use crate::settings::{
    env::{self, Lookup},
    ConfigError, Origin,
};

/// Where the distributed runtime's servers are, and how to connect to them.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributedConfig {
    /// etcd endpoints (`http://host:port` or `https://host:port`).
    pub etcd_endpoints: Vec<String>,
    /// etcd's TLS and user.
    pub etcd_security: EtcdSecurity,
    /// The NATS server (`nats://host:port` or `tls://host:port`).
    pub nats_server: String,
    /// NATS's TLS and credentials.
    pub nats_security: NatsSecurity,
    /// A worker's lease: its key disappears this long after the worker stops renewing it.
    pub lease_ttl: Duration,
}

/// `DYN_LEASE_TTL_S` unless set.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
const MAX_LEASE_TTL_S: u64 = 3600;

impl DistributedConfig {
    /// Reads the process environment: `None` when neither server is set.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(&env::process_env)
    }

    /// Reads the variables through `lookup`.
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Option<Self>, ConfigError> {
        let set = |name| lookup(name).filter(|v: &String| !v.trim().is_empty());
        let (etcd, nats) = match (set(env::ETCD_ENDPOINTS), set(env::NATS_SERVER)) {
            (None, None) => return Ok(None),
            (Some(etcd), Some(nats)) => (etcd, nats),
            (Some(etcd), None) => {
                return Err(ConfigError::invalid(
                    Origin::Env(env::ETCD_ENDPOINTS),
                    &etcd,
                    "NATS_SERVER must be set too: the distributed runtime needs both, the HTTP plane neither",
                ))
            }
            (None, Some(nats)) => {
                return Err(ConfigError::invalid(
                    Origin::Env(env::NATS_SERVER),
                    &nats,
                    "ETCD_ENDPOINTS must be set too: the distributed runtime needs both, the HTTP plane neither",
                ))
            }
        };
        let etcd_endpoints = etcd
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| {
                check_url(e, &["http", "https"]).map_err(|reason| {
                    ConfigError::invalid(Origin::Env(env::ETCD_ENDPOINTS), e, reason)
                })?;
                Ok(e.to_owned())
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let nats_server = nats.trim().to_owned();
        check_url(&nats_server, &["nats", "tls"]).map_err(|reason| {
            ConfigError::invalid(Origin::Env(env::NATS_SERVER), &nats_server, reason)
        })?;
        let lease_ttl = match lookup(env::DYN_LEASE_TTL_S) {
            None => DEFAULT_LEASE_TTL,
            Some(v) => match v.trim().parse::<u64>() {
                Ok(s) if (1..=MAX_LEASE_TTL_S).contains(&s) => Duration::from_secs(s),
                _ => {
                    return Err(ConfigError::invalid(
                        Origin::Env(env::DYN_LEASE_TTL_S),
                        &v,
                        format!("expected seconds from 1 to {MAX_LEASE_TTL_S}"),
                    ))
                }
            },
        };
        let etcd_security = EtcdSecurity::from_lookup(lookup, &etcd_endpoints)?;
        let nats_security = NatsSecurity::from_lookup(lookup, &nats_server)?;
        Ok(Some(DistributedConfig {
            etcd_endpoints,
            etcd_security,
            nats_server,
            nats_security,
            lease_ttl,
        }))
    }
}

/// `scheme://host:port` with one of `schemes`, nothing after the port.
fn check_url(url: &str, schemes: &[&str]) -> Result<(), String> {
    let expected = format!("expected {}://host:port", schemes[0]);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(expected);
    };
    let port = rest
        .rsplit_once(':')
        .and_then(|(host, port)| (!host.is_empty()).then_some(port));
    match port.map(str::parse::<u16>) {
        Some(Ok(_)) if schemes.contains(&scheme) => Ok(()),
        _ => Err(expected),
    }
}

/// Which endpoint an instance serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointName {
    /// `namespace`.
    pub namespace: String,
    /// `component`.
    pub component: String,
    /// `endpoint`.
    pub endpoint: String,
}

impl EndpointName {
    /// The etcd prefix under which every instance of every endpoint is registered.
    pub const ROOT: &'static str = "v1/instances/";

    /// The etcd key of instance `instance_id`.
    pub fn key(&self, instance_id: i64) -> String {
        format!("{}{:x}", self.prefix(), instance_id)
    }

    /// The etcd prefix of this endpoint's instances.
    pub fn prefix(&self) -> String {
        format!(
            "{}{}/{}/{}/",
            Self::ROOT,
            self.namespace,
            self.component,
            self.endpoint
        )
    }

    /// The NATS subject instance `instance_id` serves.
    pub fn subject(&self, instance_id: i64) -> String {
        format!(
            "{}.{}.{}-{:x}",
            self.namespace, self.component, self.endpoint, instance_id
        )
    }
}

/// What an instance's key holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    /// The model it serves.
    pub model: String,
    /// The NATS subject it serves on.
    pub subject: String,
    /// Its etcd lease id.
    pub instance_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Option<DistributedConfig>, String> {
        let map: HashMap<_, _> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DistributedConfig::from_lookup(&|n| map.get(n).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn both_servers_or_neither() {
        assert_eq!(from(&[]), Ok(None));
        let c = from(&[
            (
                "ETCD_ENDPOINTS",
                "http://127.0.0.1:2379, http://10.0.0.2:2379",
            ),
            ("NATS_SERVER", "nats://127.0.0.1:4222"),
            ("DYN_LEASE_TTL_S", "3"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.etcd_endpoints.len(), 2);
        assert_eq!(c.lease_ttl, Duration::from_secs(3));
        let cases = [
            (
                vec![("ETCD_ENDPOINTS", "http://127.0.0.1:2379")],
                "ETCD_ENDPOINTS: \"http://127.0.0.1:2379\": NATS_SERVER must be set too",
            ),
            (
                vec![("NATS_SERVER", "nats://127.0.0.1:4222")],
                "NATS_SERVER: \"nats://127.0.0.1:4222\": ETCD_ENDPOINTS must be set too",
            ),
            (
                vec![
                    ("ETCD_ENDPOINTS", "127.0.0.1:2379"),
                    ("NATS_SERVER", "nats://127.0.0.1:4222"),
                ],
                "ETCD_ENDPOINTS: \"127.0.0.1:2379\": expected http://host:port",
            ),
            (
                vec![
                    ("ETCD_ENDPOINTS", "http://127.0.0.1:2379"),
                    ("NATS_SERVER", "http://127.0.0.1:4222"),
                ],
                "NATS_SERVER: \"http://127.0.0.1:4222\": expected nats://host:port",
            ),
            (
                vec![
                    ("ETCD_ENDPOINTS", "http://127.0.0.1:2379"),
                    ("NATS_SERVER", "nats://127.0.0.1:4222"),
                    ("DYN_LEASE_TTL_S", "0"),
                ],
                "DYN_LEASE_TTL_S: \"0\": expected seconds from 1 to 3600",
            ),
        ];
        for (vars, want) in cases {
            let err = from(&vars).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn keys_and_subjects() {
        let name = EndpointName {
            namespace: "dynamo".into(),
            component: "backend".into(),
            endpoint: "generate".into(),
        };
        assert_eq!(
            name.key(0x694d_9a3c_1f2e_0b11),
            "v1/instances/dynamo/backend/generate/694d9a3c1f2e0b11"
        );
        assert_eq!(
            name.subject(0x694d_9a3c_1f2e_0b11),
            "dynamo.backend.generate-694d9a3c1f2e0b11"
        );
    }
}
