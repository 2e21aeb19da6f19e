//! Reading listing parameters from a request with Swift's checks.

use crate::db::ListParams;
use crate::http::{Request, Response};

use super::listing::{choose_format, Format};

/// The format (`?format=` or `Accept`) and the parameters of a listing
/// request, checked in that order as Swift does.
pub fn format_and_params(
    req: &Request,
    max_limit: usize,
) -> Result<(Format, ListParams), Response> {
    Ok((choose_format(req)?, from_request(req, max_limit)?))
}

/// Listing parameters from `req`; `max_limit` is the constraint's listing
/// limit. Errors are Swift's: 412 over the limit, 400
/// for parameters that are not UTF-8.
pub fn from_request(req: &Request, max_limit: usize) -> Result<ListParams, Response> {
    let get = |name: &str| {
        req.query_param_utf8(name)
            .map_err(|_| Response::text(400, &format!("{name} must be valid UTF-8")))
    };
    let mut p = ListParams {
        limit: max_limit,
        ..ListParams::default()
    };
    if let Some(limit) = get("limit")? {
        if !limit.is_empty() && limit.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = limit.parse().unwrap_or(usize::MAX);
            if n > max_limit {
                return Err(Response::text(
                    412,
                    &format!("Maximum limit is {max_limit}"),
                ));
            }
            p.limit = n;
        }
    }
    p.prefix = get("prefix")?.filter(|s| !s.is_empty());
    p.marker = get("marker")?.filter(|s| !s.is_empty());
    p.end_marker = get("end_marker")?.filter(|s| !s.is_empty());
    p.path = get("path")?;
    // Swift 2.22 and later accept multi-character delimiters.
    p.delimiter = get("delimiter")?.filter(|s| !s.is_empty());
    p.reverse = get("reverse")?.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on" | "t" | "y"
        )
    });
    Ok(p)
}
