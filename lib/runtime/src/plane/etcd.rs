//! Discovery through etcd (SPEC §10): a worker's [`Registered`] instance (a lease kept alive,
//! its key under it, removed on shutdown) and the frontend's [`Discovery`] (the prefix listed,
//! then watched; the last known instances kept while etcd is away).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::Duration,
};

use etcd_client::{Client, ConnectOptions, EventType, GetOptions, PutOptions, WatchOptions};
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use super::distributed::{DistributedConfig, EndpointName, Registration};

/// How long a connection to etcd may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one etcd call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before trying etcd again after it failed.
const RETRY: Duration = Duration::from_millis(500);

/// Connects to etcd with its TLS and user (the connection itself reconnects while the process
/// runs; with a user, an expired token is renewed).
pub async fn connect(config: &DistributedConfig) -> Result<Client, etcd_client::Error> {
    let options = ConnectOptions::new()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_timeout(CALL_TIMEOUT)
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
    let options = config
        .etcd_security
        .apply(options)
        .map_err(|e| etcd_client::Error::InvalidArgs(e.to_string()))?;
    Client::connect(&config.etcd_endpoints, Some(options)).await
}

/// The instance a worker is registered as now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The lease id.
    pub instance_id: i64,
    /// The NATS subject to serve.
    pub subject: String,
}

/// A worker's registration, kept alive by a task until [`deregister`](Self::deregister).
pub struct Registered {
    current: watch::Receiver<Instance>,
    stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl Registered {
    /// Takes a lease of `config.lease_ttl`, puts `name`'s key for it with `model`, and keeps
    /// the lease alive. If etcd loses the lease (it was away longer than the TTL), a new lease
    /// is taken and the instance registered again under it: a new instance id and subject,
    /// announced through [`current`](Self::current).
    pub async fn register(
        mut client: Client,
        config: &DistributedConfig,
        name: EndpointName,
        model: String,
    ) -> Result<Registered, etcd_client::Error> {
        let ttl = config.lease_ttl.as_secs() as i64;
        let first = put_instance(&mut client, &name, &model, ttl).await?;
        let (tx, current) = watch::channel(first);
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(keep_alive(client, name, model, ttl, tx, stopped));
        Ok(Registered {
            current,
            stop: Some(stop),
        })
    }

    /// The instance now, and its changes.
    pub fn current(&self) -> watch::Receiver<Instance> {
        self.current.clone()
    }

    /// Revokes the lease, which deletes the key: the frontends stop sending at once.
    pub async fn deregister(mut self) {
        let Some(stop) = self.stop.take() else { return };
        let (done, revoked) = oneshot::channel();
        if stop.send(done).is_ok() {
            let _ = tokio::time::timeout(CALL_TIMEOUT, revoked).await;
        }
    }
}

async fn put_instance(
    client: &mut Client,
    name: &EndpointName,
    model: &str,
    ttl: i64,
) -> Result<Instance, etcd_client::Error> {
    let lease = client.lease_grant(ttl, None).await?.id();
    let instance = Instance {
        instance_id: lease,
        subject: name.subject(lease),
    };
    let value = Registration {
        model: model.to_owned(),
        subject: instance.subject.clone(),
        instance_id: lease,
    };
    let key = name.key(lease);
    let json = serde_json::to_string(&value).unwrap_or_default();
    client
        .put(key.clone(), json, Some(PutOptions::new().with_lease(lease)))
        .await?;
    info!(key, instance_id = lease, ttl_s = ttl, "registered in etcd");
    Ok(instance)
}

/// What the keep-alive task does next.
#[derive(Clone, Copy)]
enum Next {
    /// Renew the lease every third of its TTL.
    Renew,
    /// etcd failed: see whether the lease survived.
    Check,
    /// The lease is gone: register under a new one.
    Register,
}

/// Renews the lease until told to stop, then revokes it; registers again if etcd lost it.
async fn keep_alive(
    mut client: Client,
    name: EndpointName,
    model: String,
    ttl: i64,
    current: watch::Sender<Instance>,
    mut stop: oneshot::Receiver<oneshot::Sender<()>>,
) {
    let period = Duration::from_millis((ttl as u64 * 1000 / 3).max(200));
    let mut next = Next::Renew;
    loop {
        let lease = current.borrow().instance_id;
        let step = next;
        let action = async {
            match step {
                Next::Renew => match renew(&mut client, lease, period).await {
                    Ok(()) => Next::Register,
                    Err(e) => {
                        warn!(instance_id = lease, error = %e, "etcd keep-alive failed; retrying");
                        Next::Check
                    }
                },
                Next::Check => {
                    tokio::time::sleep(RETRY).await;
                    match client.lease_time_to_live(lease, None).await {
                        Ok(r) if r.ttl() > 0 => Next::Renew,
                        Ok(_) => Next::Register,
                        Err(_) => Next::Check,
                    }
                }
                Next::Register => {
                    tokio::time::sleep(RETRY).await;
                    match put_instance(&mut client, &name, &model, ttl).await {
                        Ok(instance) => {
                            warn!(
                                old_instance_id = lease,
                                instance_id = instance.instance_id,
                                "the etcd lease expired; registered again under a new lease"
                            );
                            let _ = current.send(instance);
                            Next::Renew
                        }
                        Err(e) => {
                            warn!(error = %e, "cannot register in etcd; retrying");
                            Next::Register
                        }
                    }
                }
            }
        };
        let stopped = tokio::select! {
            done = &mut stop => Some(done),
            step = action => {
                next = step;
                None
            }
        };
        if let Some(done) = stopped {
            match client.lease_revoke(lease).await {
                Ok(_) => info!(
                    key = name.key(lease),
                    instance_id = lease,
                    "deregistered from etcd"
                ),
                Err(e) => {
                    warn!(key = name.key(lease), error = %e, "cannot revoke the lease; the key expires with it")
                }
            }
            if let Ok(done) = done {
                let _ = done.send(());
            }
            return;
        }
    }
}

/// Renews `lease` every `period`; returns when etcd says it is gone, fails when etcd does.
async fn renew(
    client: &mut Client,
    lease: i64,
    period: Duration,
) -> Result<(), etcd_client::Error> {
    let (mut keeper, mut responses) = client.lease_keep_alive(lease).await?;
    loop {
        keeper.keep_alive().await?;
        match responses.message().await? {
            Some(r) if r.ttl() > 0 => tokio::time::sleep(period).await,
            Some(_) => return Ok(()),
            None => {
                return Err(etcd_client::Error::LeaseKeepAliveError(
                    "the keep-alive stream ended".into(),
                ))
            }
        }
    }
}

/// A known instance, and what tells its callers it is gone.
struct Known {
    registration: Registration,
    gone: watch::Sender<bool>,
}

/// The instances of one endpoint, kept current from etcd.
pub struct Discovery {
    known: Arc<Mutex<BTreeMap<String, Known>>>,
    next: AtomicUsize,
}

/// One instance picked for a call.
pub struct Picked {
    /// What its key says.
    pub registration: Registration,
    /// Turns `true` when its key disappears.
    pub gone: watch::Receiver<bool>,
}

impl Discovery {
    /// Lists `name`'s instances, then watches them in a task for as long as the process runs.
    /// While etcd is away the last known instances stay; on its return they are listed again.
    pub async fn start(
        mut client: Client,
        name: EndpointName,
    ) -> Result<Arc<Discovery>, etcd_client::Error> {
        let discovery = Arc::new(Discovery {
            known: Arc::default(),
            next: AtomicUsize::new(0),
        });
        let prefix = name.prefix();
        let revision = discovery.list(&mut client, &prefix).await?;
        let watching = Arc::clone(&discovery);
        tokio::spawn(async move { watching.watch(client, prefix, revision).await });
        Ok(discovery)
    }

    /// The next live instance serving `model`, round-robin.
    pub fn pick(&self, model: &str) -> Option<Picked> {
        let known = lock(&self.known);
        let serving: Vec<&Known> = known
            .values()
            .filter(|k| k.registration.model == model)
            .collect();
        if serving.is_empty() {
            return None;
        }
        let chosen = serving[self.next.fetch_add(1, Ordering::Relaxed) % serving.len()];
        Some(Picked {
            registration: chosen.registration.clone(),
            gone: chosen.gone.subscribe(),
        })
    }

    /// Every live instance.
    pub fn instances(&self) -> Vec<Registration> {
        lock(&self.known)
            .values()
            .map(|k| k.registration.clone())
            .collect()
    }

    /// Replaces the known instances with what etcd lists now; returns the revision listed.
    async fn list(&self, client: &mut Client, prefix: &str) -> Result<i64, etcd_client::Error> {
        let listed = client
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await?;
        let mut now = BTreeMap::new();
        for kv in listed.kvs() {
            let key = String::from_utf8_lossy(kv.key()).into_owned();
            if let Some(registration) = parse(&key, kv.value()) {
                now.insert(key, registration);
            }
        }
        let mut known = lock(&self.known);
        known.retain(|key, k| {
            let keep = now.get(key) == Some(&k.registration);
            if !keep {
                let _ = k.gone.send(true);
                info!(
                    key,
                    instance_id = k.registration.instance_id,
                    "instance removed"
                );
            }
            keep
        });
        for (key, registration) in now {
            known.entry(key.clone()).or_insert_with(|| {
                info!(
                    key,
                    instance_id = registration.instance_id,
                    model = registration.model,
                    "instance added"
                );
                Known {
                    registration,
                    gone: watch::channel(false).0,
                }
            });
        }
        Ok(listed.header().map_or(0, |h| h.revision()))
    }

    async fn watch(&self, mut client: Client, prefix: String, mut revision: i64) {
        loop {
            if let Err(e) = self.follow(&mut client, &prefix, revision).await {
                warn!(error = %e, instances = lock(&self.known).len(), "etcd watch lost; keeping the last known instances");
            }
            loop {
                tokio::time::sleep(RETRY).await;
                match self.list(&mut client, &prefix).await {
                    Ok(listed) => {
                        revision = listed;
                        break;
                    }
                    Err(_) => continue,
                }
            }
        }
    }

    /// Applies the changes after `revision` until the watch ends.
    async fn follow(
        &self,
        client: &mut Client,
        prefix: &str,
        revision: i64,
    ) -> Result<(), etcd_client::Error> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let mut stream = client.watch(prefix, Some(options)).await?;
        while let Some(response) = stream.message().await? {
            if response.canceled() {
                return Err(etcd_client::Error::WatchError(format!(
                    "watch canceled (compacted at {})",
                    response.compact_revision()
                )));
            }
            for event in response.events() {
                let Some(kv) = event.kv() else { continue };
                let key = String::from_utf8_lossy(kv.key()).into_owned();
                let mut known = lock(&self.known);
                match event.event_type() {
                    EventType::Put => {
                        let Some(registration) = parse(&key, kv.value()) else {
                            continue;
                        };
                        info!(
                            key,
                            instance_id = registration.instance_id,
                            model = registration.model,
                            "instance added"
                        );
                        if let Some(old) = known.insert(
                            key,
                            Known {
                                registration,
                                gone: watch::channel(false).0,
                            },
                        ) {
                            let _ = old.gone.send(true);
                        }
                    }
                    EventType::Delete => {
                        if let Some(old) = known.remove(&key) {
                            info!(
                                key,
                                instance_id = old.registration.instance_id,
                                "instance removed"
                            );
                            let _ = old.gone.send(true);
                        }
                    }
                }
            }
        }
        Err(etcd_client::Error::WatchError(
            "the watch stream ended".into(),
        ))
    }
}

/// An instance's value, or `None` (with a WARN) if it is not one.
fn parse(key: &str, value: &[u8]) -> Option<Registration> {
    match serde_json::from_slice::<Registration>(value) {
        Ok(r) if !r.subject.is_empty() && !r.subject.contains([' ', '*', '>']) => Some(r),
        Ok(r) => {
            warn!(
                key,
                subject = r.subject,
                "malformed instance in etcd (bad subject); skipped"
            );
            None
        }
        Err(e) => {
            warn!(key, error = %e, value = %String::from_utf8_lossy(value), "malformed instance in etcd; skipped");
            None
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
