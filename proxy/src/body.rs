//! The body of every answer the proxy writes: the bytes, read whole, and the trailers that
//! came with them (a gRPC answer's status travels in its trailers, so the Gateway must relay
//! them; `http_body_util::Full` carries none).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// A whole body, then its trailers, if any.
#[derive(Debug, Default)]
pub struct Reply {
    data: Option<Bytes>,
    trailers: Option<hyper::HeaderMap>,
}

impl Reply {
    /// A body without trailers.
    pub fn new(data: Bytes) -> Reply {
        Reply::with_trailers(data, None)
    }

    /// A body followed by `trailers` (an empty map sends none).
    pub fn with_trailers(data: Bytes, trailers: Option<hyper::HeaderMap>) -> Reply {
        Reply {
            data: (!data.is_empty()).then_some(data),
            trailers: trailers.filter(|t| !t.is_empty()),
        }
    }
}

impl Reply {
    /// The body's bytes (empty when there are none).
    pub(crate) fn data(&self) -> &Bytes {
        static EMPTY: Bytes = Bytes::new();
        self.data.as_ref().unwrap_or(&EMPTY)
    }
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test(flavor = "current_thread")]
    async fn data_then_trailers() {
        let mut trailers = hyper::HeaderMap::new();
        trailers.insert("grpc-status", hyper::header::HeaderValue::from_static("0"));
        let collected = Reply::with_trailers(Bytes::from_static(b"abc"), Some(trailers))
            .collect()
            .await
            .expect("infallible");
        assert_eq!(
            collected.trailers().and_then(|t| t.get("grpc-status")),
            Some(&hyper::header::HeaderValue::from_static("0"))
        );
        assert_eq!(collected.to_bytes(), Bytes::from_static(b"abc"));
        let empty = Reply::new(Bytes::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }
}
