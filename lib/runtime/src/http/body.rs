//! Reading a request body whole, with a limit: a body over it is told apart from one that could
//! not be read, by type, so that a server answers 413 for the one and 400 for the other.

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the limit (answer 413).
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The connection failed or the body was malformed (answer 400).
    #[error("cannot read the request body: {0}")]
    Unreadable(String),
}

/// The whole body, at most `limit` bytes.
pub async fn read_body<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(BodyError::TooLarge { limit })
        }
        Err(e) => Err(BodyError::Unreadable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    #[test]
    fn over_the_limit_is_told_apart() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let read = |n: usize| rt.block_on(read_body(Full::new(Bytes::from(vec![b'x'; n])), 8));
        assert_eq!(read(8).unwrap().len(), 8);
        assert!(matches!(read(9), Err(BodyError::TooLarge { limit: 8 })));
    }
}
