//! Listing parameters and JSON listings of the backend servers (Swift's
//! proxy always asks its backends for `format=json`).

use serde_json::{json, Value};

use crate::common::storage_policy::Policies;
use crate::common::timestamp::Timestamp;
use crate::db::{ContainerEntry, ListItem, ListParams, ObjectEntry};
use crate::http::{Request, Response};

/// Swift's container/account listing limit.
const MAX_LIMIT: usize = 10_000;

/// The listing query of a backend GET; the error is the response.
pub fn params(req: &Request) -> Result<ListParams, Response> {
    let get = |name: &str| {
        req.query_param_utf8(name)
            .map_err(|_| Response::text(400, "Invalid UTF8 or contains NULL"))
    };
    let mut p = ListParams::default();
    if let Some(l) = get("limit")? {
        match l.parse::<usize>() {
            Ok(n) if n <= MAX_LIMIT => p.limit = n,
            _ => {
                return Err(Response::text(
                    412,
                    &format!("Maximum limit is {MAX_LIMIT}"),
                ))
            }
        }
    }
    p.prefix = get("prefix")?;
    p.marker = get("marker")?;
    p.end_marker = get("end_marker")?;
    p.path = get("path")?;
    // Swift 2.22 and later take delimiters of any length.
    p.delimiter = get("delimiter")?.filter(|d| !d.is_empty());
    p.reverse = get("reverse")?.is_some_and(|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on" | "t" | "y"
        )
    });
    Ok(p)
}

/// `2024-05-01T12:00:00.000000`: Swift's listing `last_modified`.
pub fn iso8601(ts: &Timestamp) -> String {
    let secs = ts.secs();
    let micros = ((ts.as_secs_f64() - secs as f64) * 1e6)
        .round()
        .clamp(0.0, 999_999.0) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn json_response(items: Vec<Value>) -> Response {
    let body = Value::Array(items).to_string();
    let mut r = Response::text(200, &body);
    r.headers
        .set("Content-Type", "application/json; charset=utf-8");
    r
}

/// A container listing as Swift's container server writes it.
pub fn objects(items: Vec<ListItem<ObjectEntry>>) -> Response {
    json_response(
        items
            .into_iter()
            .map(|i| match i {
                ListItem::Entry(o) => json!({
                    "name": o.name,
                    "hash": o.hash,
                    "bytes": o.bytes,
                    "content_type": o.content_type,
                    "last_modified": iso8601(&o.last_modified),
                }),
                ListItem::Subdir(s) => json!({ "subdir": s }),
            })
            .collect(),
    )
}

/// An account listing as Swift's account server writes it (with each
/// container's policy name when the policy is configured).
pub fn containers(items: Vec<ListItem<ContainerEntry>>, policies: &Policies) -> Response {
    json_response(
        items
            .into_iter()
            .map(|i| match i {
                ListItem::Entry(c) => {
                    let mut v = json!({
                        "name": c.name,
                        "count": c.count,
                        "bytes": c.bytes,
                        "last_modified": iso8601(&c.last_modified),
                    });
                    let policy = u32::try_from(c.storage_policy_index)
                        .ok()
                        .and_then(|i| policies.get(i));
                    if let (Some(p), Some(o)) = (policy, v.as_object_mut()) {
                        o.insert("storage_policy".into(), p.name.clone().into());
                    }
                    v
                }
                ListItem::Subdir(s) => json!({ "subdir": s }),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(
            iso8601(&Timestamp::from_secs(0)),
            "1970-01-01T00:00:00.000000"
        );
        assert_eq!(
            iso8601(&Timestamp::parse("1700000000.12345").unwrap()),
            "2023-11-14T22:13:20.123450"
        );
        assert_eq!(
            iso8601(&Timestamp::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000"
        );
    }
}
