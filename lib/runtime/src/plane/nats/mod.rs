//! The request plane over NATS (SPEC §10): a call is one message to the instance's subject,
//! with the trace headers as NATS headers (through the `async_nats::HeaderMap` carrier of
//! `propagation`), answered by the protocol's lines ([`WorkerMessage`](super::WorkerMessage)),
//! one NATS message each, on the caller's inbox, in order. The frontend's [`NatsTransport`]
//! calls the instances etcd lists; the worker's [`serve_nats`] answers on its instance's
//! subject.

mod client;
pub(crate) mod connection;
mod serve;

pub use client::NatsTransport;
pub use connection::{connect, Connection};
pub use serve::serve_nats;
