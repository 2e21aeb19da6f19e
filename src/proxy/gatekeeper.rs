//! Swift's gatekeeper: headers only storage and the proxy's own modules may
//! set or see. Client requests lose them on the way in, client responses on
//! the way out; subrequests inside the proxy keep them (the feature modules
//! keep their state in sysmeta).

use crate::http::headers::starts_with_ignore_case;
use crate::http::{Headers, Response};

/// Whether `name` is internal (backend or system metadata).
pub fn is_internal(name: &str) -> bool {
    [
        "x-backend-",
        "x-object-sysmeta-",
        "x-container-sysmeta-",
        "x-account-sysmeta-",
        "x-object-transient-sysmeta-",
    ]
    .iter()
    .any(|p| starts_with_ignore_case(name, p))
}

/// Drops internal headers a client sent.
pub fn strip_request(headers: &mut Headers) {
    strip(headers);
}

/// Drops internal headers from a response going to a client.
pub fn strip_response(resp: &mut Response) {
    strip(&mut resp.headers);
}

fn strip(headers: &mut Headers) {
    if !headers.iter().any(|(n, _)| is_internal(n)) {
        return;
    }
    let internal: Vec<String> = headers
        .iter()
        .filter(|(n, _)| is_internal(n))
        .map(|(n, _)| n.to_string())
        .collect();
    for n in internal {
        headers.remove(&n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_headers_are_dropped_and_others_kept() {
        let mut h = Headers::new();
        h.set("X-Backend-Raw-Meta", "x");
        h.set("X-Object-Sysmeta-Slo-Etag", "e");
        h.set("X-Object-Meta-Color", "blue");
        strip_request(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h.get("x-object-meta-color"), Some("blue"));
    }
}
