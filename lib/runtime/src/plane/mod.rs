//! The request plane between frontend and worker: HTTP/1.1, a JSON request, a response of JSON
//! lines ([`WorkerMessage`]), with W3C trace context and `x-request-id` on every call.
//!
//! A worker serves [`INFO_PATH`] (its [`WorkerInfo`]) and `POST /<endpoint>`; the frontend's
//! [`PlaneClient`] learns each worker's endpoint and model from the former.
//!
//! With the distributed runtime (SPEC §10, `ETCD_ENDPOINTS` and `NATS_SERVER`) the same
//! protocol lines travel over NATS instead: [`distributed`] has the settings and names,
//! [`etcd`] the worker's registration under a lease and the frontend's discovery, [`nats`] the
//! transport (the propagation carriers for NATS headers, a worker's subscription);
//! [`PlaneClient::distributed`] calls the instances etcd lists. [`worker`] is the other side:
//! the worker's endpoint, for any [`worker::Engine`].

mod client;
pub mod distributed;
pub mod etcd;
pub mod nats;
mod protocol;
mod timing;
pub mod worker;

pub use client::{InvalidWorkerUrl, PlaneClient, PlaneError, TokenStream};
pub use protocol::{GenerateRequest, WorkerInfo, WorkerMessage, INFO_PATH};
pub use timing::TokenTimes;
