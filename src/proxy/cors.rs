//! CORS on containers, as Swift's proxy does it: preflight `OPTIONS`
//! answered from the container's `X-Container-Meta-Access-Control-*`
//! metadata, and allow/expose headers added to actual requests from an
//! allowed origin (strict mode).

use crate::http::{Headers, Response};

/// A container's CORS settings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CorsInfo {
    /// Space-separated allowed origins (`*` for any).
    pub allow_origin: Option<String>,
    /// Extra headers to expose.
    pub expose_headers: Option<String>,
    /// Preflight cache lifetime.
    pub max_age: Option<String>,
}

impl CorsInfo {
    /// Reads the settings from container metadata (`X-Container-Meta-...`).
    pub fn from_meta<'a>(meta: impl Iterator<Item = (&'a str, &'a str)>) -> CorsInfo {
        let mut c = CorsInfo::default();
        for (k, v) in meta {
            match k.to_ascii_lowercase().as_str() {
                "x-container-meta-access-control-allow-origin" => {
                    c.allow_origin = Some(v.to_string())
                }
                "x-container-meta-access-control-expose-headers" => {
                    c.expose_headers = Some(v.to_string())
                }
                "x-container-meta-access-control-max-age" => c.max_age = Some(v.to_string()),
                _ => {}
            }
        }
        c
    }

    /// Whether `origin` may make cross-origin requests.
    pub fn allows(&self, origin: &str) -> bool {
        self.allow_origin.as_deref().is_some_and(|list| {
            list.split(' ')
                .map(str::trim)
                .any(|o| o == "*" || o == origin)
        })
    }

    fn allows_any(&self) -> bool {
        self.allow_origin
            .as_deref()
            .is_some_and(|l| l.trim() == "*")
    }
}

/// Headers every CORS response exposes.
const DEFAULT_EXPOSE: &[&str] = &[
    "cache-control",
    "content-language",
    "content-type",
    "expires",
    "last-modified",
    "pragma",
    "etag",
    "x-timestamp",
    "x-trans-id",
    "x-openstack-request-id",
];

/// Answers a preflight `OPTIONS` with `allowed` methods.
pub fn preflight(req: &Headers, cors: Option<&CorsInfo>, allowed: &[&str]) -> Response {
    let allow = allowed.join(", ");
    let mut resp = Response::empty(200).with_header("Allow", allow.clone());
    let Some(origin) = req.get("origin") else {
        return resp;
    };
    let Some(cors) = cors else {
        return resp;
    };
    let method_ok = req
        .get("access-control-request-method")
        .is_some_and(|m| allowed.contains(&m));
    if !cors.allows(origin) || !method_ok {
        return Response::status(401).with_header("Allow", allow);
    }
    let allow_origin = if cors.allows_any() { "*" } else { origin };
    resp.headers
        .set("Access-Control-Allow-Origin", allow_origin);
    resp.headers.set("Vary", "Origin");
    if let Some(age) = &cors.max_age {
        resp.headers.set("Access-Control-Max-Age", age.clone());
    }
    resp.headers.set("Access-Control-Allow-Methods", allow);
    if let Some(h) = req.get("access-control-request-headers") {
        let list: Vec<&str> = h
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !list.is_empty() {
            resp.headers
                .set("Access-Control-Allow-Headers", list.join(", "));
        }
    }
    resp
}

/// Adds the CORS headers to an actual response for a request from
/// `origin`, when the container allows that origin.
pub fn decorate(resp: &mut Response, origin: &str, cors: &CorsInfo) {
    if !cors.allows(origin) {
        return;
    }
    let mut expose: Vec<String> = DEFAULT_EXPOSE.iter().map(|s| s.to_string()).collect();
    for (k, _) in resp.headers.iter() {
        let l = k.to_ascii_lowercase();
        if l.starts_with("x-object-meta-") || l.starts_with("x-container-meta-") {
            expose.push(l);
        }
    }
    if let Some(extra) = &cors.expose_headers {
        expose.extend(
            extra
                .split(' ')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_lowercase()),
        );
    }
    let allow_origin = if cors.allows_any() { "*" } else { origin };
    resp.headers
        .set("Access-Control-Allow-Origin", allow_origin);
    resp.headers
        .set("Access-Control-Expose-Headers", expose.join(", "));
    if !cors.allows_any() {
        // The answer depends on the request's Origin: caches must know.
        let vary = match resp.headers.get("vary") {
            Some(v) if !v.to_ascii_lowercase().contains("origin") => format!("{v}, Origin"),
            Some(v) => v.to_string(),
            None => "Origin".to_string(),
        };
        resp.headers.set("Vary", vary);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(origin: &str) -> CorsInfo {
        CorsInfo::from_meta(
            [
                ("X-Container-Meta-Access-Control-Allow-Origin", origin),
                ("X-Container-Meta-Access-Control-Max-Age", "60"),
            ]
            .into_iter(),
        )
    }

    fn req(origin: &str, method: &str) -> Headers {
        let mut h = Headers::new();
        h.set("Origin", origin);
        h.set("Access-Control-Request-Method", method);
        h.set(
            "Access-Control-Request-Headers",
            "x-auth-token, content-type",
        );
        h
    }

    #[test]
    fn preflight_allows_listed_origins_only() {
        let methods = ["GET", "HEAD", "PUT"];
        let c = cors("http://a.com http://b.com");
        let r = preflight(&req("http://b.com", "PUT"), Some(&c), &methods);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.headers.get("access-control-allow-origin"),
            Some("http://b.com")
        );
        assert_eq!(r.headers.get("access-control-max-age"), Some("60"));
        assert_eq!(
            r.headers.get("access-control-allow-headers"),
            Some("x-auth-token, content-type")
        );
        assert_eq!(
            preflight(&req("http://c.com", "PUT"), Some(&c), &methods).status,
            401
        );
        assert_eq!(
            preflight(&req("http://a.com", "COPY"), Some(&c), &methods).status,
            401
        );
        assert_eq!(
            preflight(&req("http://a.com", "GET"), None, &methods).status,
            200
        );
        let star = preflight(&req("http://x.org", "GET"), Some(&cors("*")), &methods);
        assert_eq!(star.headers.get("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn actual_requests_expose_metadata() {
        let mut r = Response::empty(200).with_header("X-Object-Meta-Color", "red");
        decorate(&mut r, "http://a.com", &cors("http://a.com"));
        assert_eq!(
            r.headers.get("access-control-allow-origin"),
            Some("http://a.com")
        );
        assert!(r
            .headers
            .get("access-control-expose-headers")
            .expect("expose")
            .contains("x-object-meta-color"));
        let mut r = Response::empty(200);
        decorate(&mut r, "http://evil.com", &cors("http://a.com"));
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
}
