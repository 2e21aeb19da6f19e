//! Static web (Swift's `staticweb` middleware): a container read
//! anonymously (or with `X-Web-Mode: true`) serves as a web site: index
//! pages (`X-Container-Meta-Web-Index`), custom error pages (`-Web-Error`),
//! HTML listings (`-Web-Listings`, `-Web-Listings-CSS`,
//! `-Web-Listings-Label`), directory markers (`-Web-Directory-Type`), and
//! redirects that add the trailing slash a directory URL needs.

use crate::db::ContainerInfo;
use crate::http::stream::LocalBoxFuture;
use crate::http::{Body, BodySource, Response};
use crate::proxy::auth::AuthResult;

use super::util::{is_success, truthy};
use super::{quote, Feature, Next, SwiftRequest};

/// The staticweb feature module.
pub struct StaticWeb;

impl Feature for StaticWeb {
    fn name(&self) -> &'static str {
        "staticweb"
    }

    fn claims(&self, req: &SwiftRequest) -> bool {
        req.source.is_none()
            && matches!(req.method(), "GET" | "HEAD")
            && req.path.container.is_some()
            && (matches!(*req.who, AuthResult::Anonymous | AuthResult::TempUrl { .. })
                || web_mode(req))
    }

    fn handle<'a>(
        &'a self,
        next: Next<'a>,
        req: &'a SwiftRequest,
        body: &'a mut BodySource<'_, '_>,
    ) -> LocalBoxFuture<'a, Response> {
        Box::pin(async move {
            let ctx = Ctx { next, req };
            if req.path.object.is_some() {
                ctx.object(body).await
            } else {
                ctx.container(body).await
            }
        })
    }
}

fn web_mode(req: &SwiftRequest) -> bool {
    req.headers().get("x-web-mode").is_some_and(truthy)
}

/// The container's web settings.
#[derive(Debug, Default, Clone)]
struct WebMeta {
    index: String,
    error: String,
    listings: String,
    label: String,
    css: String,
    dir_type: String,
}

impl WebMeta {
    fn from_info(info: Option<&ContainerInfo>) -> WebMeta {
        let Some(info) = info else {
            return WebMeta::default();
        };
        let get = |name: &str| {
            info.metadata
                .iter()
                .find(|(k, _)| {
                    k.len() > 17
                        && k[..17].eq_ignore_ascii_case("x-container-meta-")
                        && k[17..].eq_ignore_ascii_case(name)
                })
                .map(|(_, v)| v.trim().to_string())
                .unwrap_or_default()
        };
        WebMeta {
            index: get("web-index"),
            error: get("web-error"),
            listings: get("web-listings"),
            label: get("web-listings-label"),
            css: get("web-listings-css"),
            dir_type: get("web-directory-type"),
        }
    }
}

/// Python's `html.escape` (quotes included).
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// Python's round-half-even, as Swift's `human_readable` rounds.
fn round_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// Swift's `human_readable`: 1024-based with `Ki`, `Mi`, ... suffixes.
pub fn human_readable(bytes: u64) -> String {
    let mut value = bytes as f64;
    let suffixes = ['K', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y'];
    let mut index: Option<usize> = None;
    while value >= 1024.0 && index.map_or(0, |i| i + 1) < suffixes.len() {
        index = Some(index.map_or(0, |i| i + 1));
        value = round_even(value / 1024.0);
    }
    match index {
        None => format!("{}", value as u64),
        Some(i) => format!("{}{}i", round_even(value) as u64, suffixes[i]),
    }
}

struct Ctx<'a> {
    next: Next<'a>,
    req: &'a SwiftRequest,
}

impl Ctx<'_> {
    fn container_name(&self) -> &str {
        self.req.container()
    }

    /// The decoded path as the client asked for it (with its trailing
    /// slash, if any).
    fn client_path(&self) -> String {
        let p = &self.req.path;
        let mut s = format!("/{}/{}/{}", p.version, p.account, self.container_name());
        match p.object.as_deref() {
            Some(o) => {
                s.push('/');
                s.push_str(o);
            }
            None if self.req.head.raw_path.ends_with('/') => s.push('/'),
            None => {}
        }
        s
    }

    fn ends_with_slash(&self) -> bool {
        self.client_path().ends_with('/')
    }

    async fn meta(&self) -> Result<WebMeta, Response> {
        let p = &self.req.path;
        let info = self
            .next
            .proxy()
            .container_info(&p.account, self.container_name())
            .await?;
        Ok(WebMeta::from_info(info.as_ref()))
    }

    /// A subrequest by the same caller (a temporary URL's user included).
    async fn sub(
        &self,
        method: &str,
        object: Option<&str>,
        query: &str,
        copy_headers: bool,
    ) -> Response {
        let p = &self.req.path;
        let mut sub = self.req.sub(
            method,
            &p.account,
            Some(self.container_name()),
            object,
            query,
            "SW",
        );
        if copy_headers {
            sub.head.headers = self.req.head.headers.clone();
        }
        self.next.call_empty(&sub).await
    }

    fn redirect_with_slash(&self) -> Response {
        let host = self.req.headers().get("host").unwrap_or("localhost");
        let location = format!("http://{host}{}/", quote(&self.client_path()));
        Response::status(301).with_header("Location", location)
    }

    /// The error answer, with the container's error page
    /// (`<status><web-error>`) as its body when there is one.
    async fn error_response(&self, resp: Response, meta: &WebMeta) -> Response {
        if meta.error.is_empty() {
            return resp;
        }
        let page = format!("{}{}", resp.status, meta.error);
        let got = self.sub("GET", Some(&page), "", false).await;
        if is_success(got.status) {
            let mut r = got;
            r.status = resp.status;
            r
        } else {
            resp
        }
    }

    async fn container(&self, body: &mut BodySource<'_, '_>) -> Response {
        // Authorized as a listing of the container would be.
        let auth = self.sub("HEAD", None, "", false).await;
        let meta = match self.meta().await {
            Ok(m) => m,
            Err(r) => return r,
        };
        if matches!(auth.status, 401 | 403) {
            return self.error_response(auth, &meta).await;
        }
        if meta.listings.is_empty() && meta.index.is_empty() {
            if web_mode(self.req) {
                return Response::status(404);
            }
            return self.next.call(self.req, body).await;
        }
        if !self.ends_with_slash() {
            return self.redirect_with_slash();
        }
        if meta.index.is_empty() {
            return self.listing(&meta, "").await;
        }
        let resp = self
            .sub(self.req.method(), Some(&meta.index), "", true)
            .await;
        if resp.status == 404 {
            return self.listing(&meta, "").await;
        }
        if !is_success(resp.status) && !(300..400).contains(&resp.status) {
            return self.error_response(resp, &meta).await;
        }
        resp
    }

    async fn object(&self, body: &mut BodySource<'_, '_>) -> Response {
        let resp = self.next.call(self.req, body).await;
        let mut status = resp.status;
        let length = resp
            .headers
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| resp.body.len());
        // Only a tiny body can be a directory marker; anything else that
        // succeeded goes back untouched, with no container lookup.
        if (is_success(status) || (300..400).contains(&status)) && length > 1 {
            return resp;
        }
        let mut meta = match self.meta().await {
            Ok(m) => m,
            Err(r) => return r,
        };
        if is_success(status) || (300..400).contains(&status) {
            let dir_type = if meta.dir_type.is_empty() {
                "application/directory"
            } else {
                meta.dir_type.as_str()
            };
            if resp.headers.get("content-type") == Some(dir_type) {
                status = 404;
            } else {
                return resp;
            }
        }
        if status != 404 {
            meta.error.clear();
            return resp;
        }
        if meta.listings.is_empty() && meta.index.is_empty() {
            return resp;
        }
        let object = self.req.object();
        let mut status = 404;
        if !meta.index.is_empty() {
            let mut path = object.to_string();
            if !path.ends_with('/') {
                path.push('/');
            }
            path.push_str(&meta.index);
            let index = self.sub(self.req.method(), Some(&path), "", true).await;
            status = index.status;
            if is_success(status) || (300..400).contains(&status) {
                if !self.ends_with_slash() {
                    return self.redirect_with_slash();
                }
                return index;
            }
        }
        if status != 404 {
            return resp;
        }
        if !self.ends_with_slash() {
            let query = format!(
                "limit=1&delimiter=/&format=json&prefix={}",
                quote(&format!("{object}/"))
            );
            let found = self.sub("GET", None, &query, false).await;
            let any = is_success(found.status)
                && body_json(&found).is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()));
            if !any {
                return self.error_response(Response::status(404), &meta).await;
            }
            return self.redirect_with_slash();
        }
        self.listing(&meta, object).await
    }

    /// The HTML listing of `prefix` (a directory ending in `/`, or "").
    async fn listing(&self, meta: &WebMeta, prefix: &str) -> Response {
        let path = self.client_path();
        let label = if meta.label.is_empty() {
            path.clone()
        } else {
            let rest: Vec<&str> = path.split('/').skip(4).collect();
            format!("{}/{}", meta.label, rest.join("/"))
        };
        if !truthy(&meta.listings) {
            let mut body = format!(
                "<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of {}</title>\n",
                escape(&label)
            );
            if meta.css.is_empty() {
                body.push_str(
                    "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n",
                );
            } else {
                body.push_str(&format!(
                    "  <link rel=\"stylesheet\" type=\"text/css\" href=\"{}\" />\n",
                    css_path(&meta.css, prefix)
                ));
            }
            body.push_str(
                "</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing.   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>",
            );
            if !meta.index.is_empty() {
                body.push_str(&format!(
                    "<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: {}</b>.  However, this file is not found.</p>",
                    meta.index
                ));
            }
            body.push_str(" </body>\n</html>\n");
            return self.error_response(Response::text(404, &body), meta).await;
        }
        let mut query = "delimiter=/&format=json".to_string();
        if !prefix.is_empty() {
            query.push_str(&format!("&prefix={}", quote(prefix)));
        }
        let resp = self.sub("GET", None, &query, false).await;
        if !is_success(resp.status) {
            return self.error_response(resp, meta).await;
        }
        let rows = body_json(&resp)
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default();
        if !prefix.is_empty() && rows.is_empty() {
            return self.error_response(Response::status(404), meta).await;
        }
        let tempurl_qs = self.tempurl_query();
        let tempurl_prefix = if matches!(*self.req.who, AuthResult::TempUrl { .. }) {
            self.req.param("temp_url_prefix").unwrap_or_default()
        } else {
            String::new()
        };
        let mut body = format!(
            "<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of {}</title>\n",
            escape(&label)
        );
        if meta.css.is_empty() {
            body.push_str("  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n   a {text-decoration: none;}\n  </style>\n");
        } else {
            body.push_str(&format!(
                "  <link rel=\"stylesheet\" type=\"text/css\" href=\"{}\" />\n",
                css_path(&meta.css, prefix)
            ));
        }
        body.push_str(&format!(
            " </head>\n <body>\n  <h1 id=\"title\">Listing of {}</h1>\n  <table id=\"listing\">\n   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n    <th class=\"colsize\">Size</th>\n    <th class=\"coldate\">Date</th>\n   </tr>\n",
            escape(&label)
        ));
        if prefix.len() > tempurl_prefix.len() {
            body.push_str(&format!(
                "   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../{tempurl_qs}\">../</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n"
            ));
        }
        let strip = |s: &str| s.strip_prefix(prefix).unwrap_or(s).to_string();
        for row in &rows {
            if let Some(subdir) = row.get("subdir").and_then(|v| v.as_str()) {
                let subdir = strip(subdir);
                body.push_str(&format!(
                    "   <tr class=\"item subdir\">\n    <td class=\"colname\"><a href=\"./{}{tempurl_qs}\">{}</a></td>\n    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n",
                    quote(&subdir).replace('.', "%2E"),
                    escape(&subdir)
                ));
            }
        }
        for row in &rows {
            let Some(name) = row.get("name").and_then(|v| v.as_str()) else {
                continue;
            };
            let name = strip(name);
            let ctype = row
                .get("content_type")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let bytes = row.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0);
            let modified = row
                .get("last_modified")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let modified = escape(modified);
            let modified = modified.split('.').next().unwrap_or("").replace('T', " ");
            let classes: Vec<String> = ctype
                .split('/')
                .map(|t| format!("type-{}", escape(&t.to_lowercase())))
                .collect();
            body.push_str(&format!(
                "   <tr class=\"item {}\">\n    <td class=\"colname\"><a href=\"./{}{tempurl_qs}\">{}</a></td>\n    <td class=\"colsize\">{}</td>\n    <td class=\"coldate\">{}</td>\n   </tr>\n",
                classes.join(" "),
                quote(&name).replace('.', "%2E"),
                escape(&name),
                human_readable(bytes),
                modified
            ));
        }
        body.push_str("  </table>\n </body>\n</html>\n");
        let mut r = Response::empty(200);
        r.headers.set("Content-Type", "text/html; charset=UTF-8");
        r.headers.set("X-Backend-Content-Generator", "staticweb");
        r.body = Body::Bytes(body.into_bytes());
        r
    }

    /// Links in a listing reached through a prefix temporary URL carry
    /// that URL's signature.
    fn tempurl_query(&self) -> String {
        if !matches!(*self.req.who, AuthResult::TempUrl { .. }) {
            return String::new();
        }
        let Some(prefix) = self.req.param("temp_url_prefix") else {
            return String::new();
        };
        let mut parts = vec![
            format!("temp_url_prefix={}", quote(&prefix)),
            format!(
                "temp_url_expires={}",
                quote(&self.req.param("temp_url_expires").unwrap_or_default())
            ),
            format!(
                "temp_url_sig={}",
                self.req.param("temp_url_sig").unwrap_or_default()
            ),
        ];
        if self.req.param("inline").is_some() {
            parts.push("inline".into());
        }
        format!("?{}", parts.join("&amp;"))
    }
}

fn css_path(css: &str, prefix: &str) -> String {
    if css.starts_with('/') || css.starts_with("http://") || css.starts_with("https://") {
        // `quote(css, ':/')`: the scheme's colon stays.
        quote(css).replace("%3A", ":")
    } else {
        format!(
            "{}{}",
            "../".repeat(prefix.matches('/').count()),
            quote(css)
        )
    }
}

fn body_json(resp: &Response) -> Option<serde_json::Value> {
    match &resp.body {
        Body::Bytes(b) => serde_json::from_slice(b).ok(),
        Body::Empty => None,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_swifts() {
        assert_eq!(human_readable(0), "0");
        assert_eq!(human_readable(1023), "1023");
        assert_eq!(human_readable(1024), "1Ki");
        assert_eq!(human_readable(1536), "2Ki");
        assert_eq!(human_readable(2560), "2Ki", "half to even");
        assert_eq!(human_readable(5 * 1024 * 1024), "5Mi");
    }

    #[test]
    fn css_paths_climb_out_of_directories() {
        assert_eq!(css_path("s.css", "a/b/"), "../../s.css");
        assert_eq!(css_path("/s.css", "a/"), "/s.css");
        assert_eq!(css_path("http://x/s.css", ""), "http://x/s.css");
    }
}
