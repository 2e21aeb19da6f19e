//! The backend seam: the one way the proxy reaches storage. Today every
//! device is local, so a backend request is a direct call into the
//! in-process object server with the client's body stream — no socket, no
//! copy. Remote devices (HTTP to a peer node) plug in here with the rings.

use std::rc::Rc;

use crate::http::{BodySource, Headers, Response};
use crate::obj::server::{ObjRequest, ObjectServer};

/// Routes backend requests to the servers that hold the data.
pub struct Backend {
    objects: Rc<ObjectServer>,
}

impl Backend {
    /// A backend whose every device is served by `objects` in this process.
    pub fn local(objects: Rc<ObjectServer>) -> Self {
        Backend { objects }
    }

    /// Sends an object request (`headers` already carry `X-Timestamp`).
    pub async fn object(
        &self,
        method: &str,
        account: &str,
        container: &str,
        object: &str,
        headers: &Headers,
        body: &mut BodySource<'_, '_>,
    ) -> Response {
        let req = ObjRequest {
            method,
            account,
            container,
            object,
            headers,
        };
        self.objects.handle(&req, body).await
    }
}
