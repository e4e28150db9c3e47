//! A response body fed from a channel: the handler returns at once, and a task (which can hold
//! the request's span) sends the chunks as they are produced.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame};
use tokio::sync::mpsc;

/// The receiving end, to use as a response body; the stream ends when every sender is dropped.
#[derive(Debug)]
pub struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl ChannelBody {
    /// A body and the sender that feeds it; `capacity` chunks may wait unsent.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use http_body_util::BodyExt;
    /// let (tx, body) = tracewire_runtime::http::ChannelBody::new(16);
    /// tokio::spawn(async move {
    ///     for event in ["data: a\n\n", "data: b\n\n"] {
    ///         if tx.send(event.into()).await.is_err() {
    ///             return; // the client went away
    ///         }
    ///     }
    /// });
    /// // Use it as `axum::body::Body::new(body)`; here, read it back.
    /// assert_eq!(body.collect().await.unwrap().to_bytes(), "data: a\n\ndata: b\n\n");
    /// # });
    /// ```
    pub fn new(capacity: usize) -> (mpsc::Sender<Bytes>, Self) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, ChannelBody { rx })
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}
