//! HTTP/1.1 server side on httparse: request heads, body framing, responses
//! and the per-connection loop. Knows nothing of Swift beyond header names.

pub mod body;
pub mod conditional;
pub mod conn;
pub mod headers;
pub mod multipart;
pub mod range;
pub mod request;
pub mod response;
pub mod sendfile;
pub mod stream;

pub use body::{BodyError, BodyReader};
pub use headers::Headers;
pub use request::Request;
pub use response::{Body, Response};
pub use stream::{BodySource, BodyStream, StreamBody};

/// Hard limits of the HTTP layer, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest request line (Swift's `max_request_line`).
    pub max_request_line: usize,
    /// Longest single header line (Swift's `max_header_size`).
    pub max_header_line: usize,
    /// Most headers in one request.
    pub max_headers: usize,
    /// Largest whole request head.
    pub max_head_bytes: usize,
    /// Idle wait for the next request on a keep-alive connection.
    pub idle_timeout: std::time::Duration,
    /// Longest wait for the next piece of a request or for the client to take
    /// the next piece of a response.
    pub client_timeout: std::time::Duration,
    /// Size of the buffers bodies stream through.
    pub io_buffer_size: usize,
    /// Send large cached file bodies with `sendfile`.
    pub sendfile: bool,
}

#[cfg(test)]
impl Limits {
    /// Swift's default limits with one-second timeouts, for unit tests.
    pub(crate) fn for_tests() -> Limits {
        Limits {
            max_request_line: 8192,
            max_header_line: 8192,
            max_headers: 126,
            max_head_bytes: 256 * 1024,
            idle_timeout: std::time::Duration::from_secs(1),
            client_timeout: std::time::Duration::from_secs(1),
            io_buffer_size: 65536,
            sendfile: true,
        }
    }
}
