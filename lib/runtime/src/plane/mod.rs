//! The request plane between frontend and worker: a JSON request, a response of JSON lines
//! ([`WorkerMessage`]), with W3C trace context, `x-request-id` and `baggage` on every call,
//! over one of two transports.
//!
//! - [`PlaneClient`] (the frontend's side) holds a [`Transport`]: [`http`] to a fixed list of
//!   workers, or [`nats`] to the instances [`etcd`] lists; its [`TokenStream`] reads the lines
//!   of either.
//! - [`worker`] is the other side, for any [`worker::Engine`]: the `handle_payload` span and the
//!   protocol, carried by [`http`]'s routes and [`nats`]'s subscription; [`run_worker`] serves
//!   a worker process over both.
//! - [`distributed`] has the distributed runtime's settings and names (SPEC §10), [`security`]
//!   their TLS and credentials, [`etcd`] the
//!   registration under a lease and the discovery, [`connect`](mod@connect) the setup both
//!   binaries use.
//!
//! A worker serves [`INFO_PATH`] (its [`WorkerInfo`]) and `POST /<endpoint>` over HTTP; the
//! frontend learns each worker's endpoint and model from the former.

mod client;
pub mod connect;
pub mod distributed;
pub mod etcd;
pub mod http;
pub mod metrics;
pub mod nats;
mod protocol;
mod run;
pub mod security;
mod timing;
mod transport;
pub mod worker;

pub use client::{PlaneClient, PlaneError, TokenStream};
pub use http::InvalidWorkerUrl;
pub use protocol::{GenerateRequest, LogLine, WorkerInfo, WorkerMessage, INFO_PATH};
pub use run::run_worker;
pub use timing::TokenTimes;
pub use transport::{Frames, Started, Transport};
