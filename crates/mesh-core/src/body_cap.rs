//! A size cap on response bodies, shared by every HTTP client of the project (Kubernetes, Consul,
//! Prometheus, tracing backends, Kiali). Pure bookkeeping: the clients feed it the chunks they
//! read, and it refuses the body as soon as it would pass the cap, so a hostile or broken server
//! cannot make a client hold gigabytes.
//!
//! ```
//! use mesh_core::body_cap::CappedBody;
//! let mut body = CappedBody::new(8, None).unwrap();
//! body.push(b"1234").unwrap();
//! let err = body.push(b"56789").unwrap_err();
//! assert_eq!(err.limit, 8);
//! assert!(CappedBody::new(8, Some(9)).is_err(), "a declared length over the cap fails at once");
//! ```

/// The default cap: 64 MiB, far above any answer a control plane gives for one object or query,
/// far below what would hurt a client.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024 * 1024;

/// A body that would pass its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the answer is larger than the {limit}-byte cap")]
pub struct BodyTooLarge {
    /// The cap, in bytes.
    pub limit: usize,
}

/// A response body read chunk by chunk under a cap.
#[derive(Debug)]
pub struct CappedBody {
    buf: Vec<u8>,
    limit: usize,
}

impl CappedBody {
    /// An empty body capped at `limit` bytes; `declared` is the `Content-Length`, if any.
    ///
    /// # Errors
    /// [`BodyTooLarge`] when the declared length already passes the cap.
    pub fn new(limit: usize, declared: Option<u64>) -> Result<Self, BodyTooLarge> {
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(BodyTooLarge { limit });
        }
        let reserve = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit));
        Ok(Self {
            buf: Vec::with_capacity(reserve),
            limit,
        })
    }

    /// Appends a chunk.
    ///
    /// # Errors
    /// [`BodyTooLarge`] when the body would pass the cap; the chunk is not kept.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BodyTooLarge> {
        if self.buf.len().saturating_add(chunk.len()) > self.limit {
            return Err(BodyTooLarge { limit: self.limit });
        }
        self.buf.extend_from_slice(chunk);
        Ok(())
    }

    /// The body read so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}
