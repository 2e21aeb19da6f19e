//! Bodies that are not a client connection: a stream of chunks produced on
//! demand (a file's parts, bytes in memory, or several objects' pieces in a
//! row), and [`BodySource`], what a PUT reads from — the client's socket on
//! the hot path, or a stream for server-side copies and manifests.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;

use monoio::buf::IoBufMut;

use super::body::{read_all, BodyError, BodyReader};
use super::response::{FileBody, Part};

/// A boxed local future (the runtime is thread-per-core; nothing is `Send`).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A body produced chunk by chunk.
pub trait BodyStream {
    /// Appends the next bytes to `buf`, up to its spare capacity; `Ok(0)` at
    /// the end. The buffer always comes back. An error mid-body means the
    /// body cannot be completed (a response then closes its connection).
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)>;
}

/// A streamed response body of known length.
pub struct StreamBody {
    /// Bytes the stream will produce (the `Content-Length`).
    pub len: u64,
    /// The producer.
    pub stream: Box<dyn BodyStream>,
}

impl std::fmt::Debug for StreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamBody")
            .field("len", &self.len)
            .finish()
    }
}

/// Streams the parts of a [`FileBody`] (a whole object, ranges, multipart
/// framing) without loading the file.
pub struct FileStream {
    file: Rc<monoio::fs::File>,
    parts: std::vec::IntoIter<Part>,
    /// Literal bytes not yet handed out, and how far they were taken.
    bytes: Vec<u8>,
    bytes_pos: usize,
    /// The file range being read: next offset and end.
    range: Option<(u64, u64)>,
}

impl FileStream {
    /// A stream over `fb`'s parts, in order.
    pub fn new(fb: FileBody) -> Self {
        FileStream {
            file: fb.file,
            parts: fb.parts.into_iter(),
            bytes: Vec::new(),
            bytes_pos: 0,
            range: None,
        }
    }

    async fn next(&mut self, mut buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        loop {
            let spare = buf.capacity() - buf.len();
            if self.bytes_pos < self.bytes.len() {
                let n = spare.min(self.bytes.len() - self.bytes_pos);
                buf.extend_from_slice(&self.bytes[self.bytes_pos..self.bytes_pos + n]);
                self.bytes_pos += n;
                return (Ok(n), buf);
            }
            if let Some((pos, end)) = self.range {
                if pos < end {
                    let start = buf.len();
                    let want = (spare as u64).min(end - pos) as usize;
                    let (res, slice) = self
                        .file
                        .read_at(buf.slice_mut(start..start + want), pos)
                        .await;
                    let buf = slice.into_inner();
                    return match res {
                        Ok(0) => (
                            Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "object file shorter than its metadata says",
                            )),
                            buf,
                        ),
                        Ok(n) => {
                            self.range = Some((pos + n as u64, end));
                            (Ok(n), buf)
                        }
                        Err(e) => (Err(e), buf),
                    };
                }
                self.range = None;
            }
            match self.parts.next() {
                None => return (Ok(0), buf),
                Some(Part::Bytes(b)) => {
                    self.bytes = b;
                    self.bytes_pos = 0;
                }
                Some(Part::Range { offset, len }) => self.range = Some((offset, offset + len)),
            }
        }
    }
}

impl BodyStream for FileStream {
    fn read(&mut self, buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        Box::pin(self.next(buf))
    }
}

/// Streams bytes held in memory.
pub struct BytesStream {
    bytes: Vec<u8>,
    pos: usize,
}

impl BytesStream {
    /// A stream of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        BytesStream { bytes, pos: 0 }
    }
}

impl BodyStream for BytesStream {
    fn read(&mut self, mut buf: Vec<u8>) -> LocalBoxFuture<'_, (io::Result<usize>, Vec<u8>)> {
        let n = (buf.capacity() - buf.len()).min(self.bytes.len() - self.pos);
        buf.extend_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.pos += n;
        Box::pin(std::future::ready((Ok(n), buf)))
    }
}

/// Where a request body comes from. The client variant reads the socket
/// directly (no boxing, no extra copy); the others feed in-process
/// subrequests.
pub enum BodySource<'a, 'c> {
    /// No body.
    Empty,
    /// The client connection's body.
    Client(&'a mut BodyReader<'c>),
    /// A stream produced in process (a copy's source, a manifest).
    Stream(Box<dyn BodyStream + 'a>),
}

impl BodySource<'_, '_> {
    /// A body of `bytes` held in memory.
    pub fn bytes(bytes: Vec<u8>) -> Self {
        BodySource::Stream(Box::new(BytesStream::new(bytes)))
    }

    /// Sends `chunk` of the answer while the body is still being read (see
    /// [`BodyReader::send_early`]); false when the body does not come from
    /// a client connection that allows it.
    pub async fn send_early(
        &mut self,
        answer: &super::Response,
        chunk: &[u8],
    ) -> std::io::Result<bool> {
        match self {
            BodySource::Client(r) => r.send_early(answer, chunk).await,
            _ => Ok(false),
        }
    }

    /// Appends body bytes to `buf`, up to its spare capacity; `Ok(0)` at the
    /// end (see [`BodyReader::read`]).
    pub async fn read(&mut self, buf: Vec<u8>) -> (Result<usize, BodyError>, Vec<u8>) {
        match self {
            BodySource::Empty => (Ok(0), buf),
            BodySource::Client(r) => r.read(buf).await,
            BodySource::Stream(s) => {
                let (res, buf) = s.read(buf).await;
                (res.map_err(BodyError::Io), buf)
            }
        }
    }

    /// Reads the rest of the body into memory, refusing more than `limit`
    /// bytes (for small bodies such as manifests, never object data).
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, BodyError> {
        read_all(limit, async |buf| self.read(buf).await).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_stream_fills_buffers_in_order() {
        let mut s = BytesStream::new(b"hello world".to_vec());
        let mut out = Vec::new();
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("runtime")
            .block_on(async {
                loop {
                    let (res, buf) = s.read(Vec::with_capacity(4)).await;
                    let n = res.expect("read");
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf);
                }
            });
        assert_eq!(out, b"hello world");
    }
}
