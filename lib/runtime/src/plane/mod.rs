//! The request plane between frontend and worker: HTTP/1.1, a JSON request, a response of JSON
//! lines ([`WorkerMessage`]), with W3C trace context and `x-request-id` on every call.
//!
//! A worker serves [`INFO_PATH`] (its [`WorkerInfo`]) and `POST /<endpoint>`; the frontend's
//! [`PlaneClient`] learns each worker's endpoint and model from the former.

mod client;
pub mod distributed;
pub mod etcd;
pub mod nats;
mod protocol;
mod timing;

pub use client::{InvalidWorkerUrl, PlaneClient, PlaneError, TokenStream};
pub use protocol::{GenerateRequest, WorkerInfo, WorkerMessage, INFO_PATH};
pub use timing::TokenTimes;
