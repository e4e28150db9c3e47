//! The request plane over HTTP/1.1: the frontend's [`HttpTransport`] to a fixed list of
//! workers, and the worker's routes ([`app`], [`BoundWorker`]). The trace headers are the
//! HTTP headers, read and written through the `http::HeaderMap` carrier.

mod client;
mod serve;

pub use client::{HttpTransport, InvalidWorkerUrl};
pub use serve::{app, app_with, BoundWorker};
