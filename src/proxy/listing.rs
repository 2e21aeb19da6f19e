//! Rendering account and container listings as Swift's `listing_formats`
//! does: plain text, JSON or XML, chosen by `format=` or `Accept`.

use crate::common::timestamp::Timestamp;

use crate::http::{Request, Response};

/// One listing row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// An object in a container listing.
    Object {
        /// Name.
        name: String,
        /// ETag.
        hash: String,
        /// Size in bytes.
        bytes: u64,
        /// Content type.
        content_type: String,
        /// When it was written.
        last_modified: Timestamp,
        /// Fields feature modules add to JSON rows (`symlink_path`,
        /// `slo_etag`, ...), in order.
        extra: Vec<(String, serde_json::Value)>,
    },
    /// A container in an account listing.
    Container {
        /// Name.
        name: String,
        /// Objects in it.
        count: u64,
        /// Bytes in it.
        bytes: u64,
        /// Its put timestamp.
        last_modified: Timestamp,
        /// Its storage policy's name.
        policy: String,
    },
    /// A rolled-up prefix (`delimiter`).
    Subdir(String),
}

impl Row {
    /// The row's name (the prefix for a subdir).
    pub fn name(&self) -> &str {
        match self {
            Row::Object { name, .. } | Row::Container { name, .. } | Row::Subdir(name) => name,
        }
    }
}

/// Splits a stored listing hash `etag; key=value; ...` (Swift's
/// container-update overrides) into the plain hash and the JSON fields the
/// symlink and SLO modules publish: `symlink_path` (under
/// `/<version>/<account>/`), `symlink_etag`, `symlink_bytes`, `slo_etag`.
/// Unknown parameters stay in the hash, as Swift leaves them.
pub fn split_hash_params(
    stored: &str,
    version: &str,
    account: &str,
) -> (String, Vec<(String, serde_json::Value)>) {
    let mut parts = stored.split(';');
    let mut hash = parts.next().unwrap_or("").trim().to_string();
    let mut extra = Vec::new();
    let mut target = None;
    let mut target_account = None;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "symlink_target" => target = Some(v.to_string()),
            "symlink_target_account" => target_account = Some(v.to_string()),
            "symlink_target_etag" => extra.push(("symlink_etag".to_string(), v.into())),
            "symlink_target_bytes" => {
                let n: u64 = v.parse().unwrap_or(0);
                extra.push(("symlink_bytes".to_string(), n.into()));
            }
            "slo_etag" => extra.push(("slo_etag".to_string(), format!("\"{v}\"").into())),
            _ => hash.push_str(&format!("; {k}={v}")),
        }
    }
    if let Some(t) = target {
        let acct = target_account.unwrap_or_else(|| super::mw::quote(account));
        extra.push((
            "symlink_path".to_string(),
            format!("/{version}/{acct}/{}", t.trim_start_matches('/')).into(),
        ));
    }
    (hash, extra)
}

/// A listing format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One name per line.
    Plain,
    /// JSON array.
    Json,
    /// XML; `text_xml` when the client asked for `text/xml`.
    Xml {
        /// Answer as `text/xml` rather than `application/xml`.
        text_xml: bool,
    },
}

impl Format {
    /// The Content-Type header for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Xml { text_xml: false } => "application/xml; charset=utf-8",
            Format::Xml { text_xml: true } => "text/xml; charset=utf-8",
        }
    }
}

/// Picks the format from `?format=` or else from `Accept` (406 when Accept
/// allows none of them), as Swift does.
pub fn choose_format(req: &Request) -> Result<Format, Response> {
    if let Some(f) = req.query_param("format") {
        return Ok(match f.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "xml" => Format::Xml { text_xml: false },
            _ => Format::Plain,
        });
    }
    let Some(accept) = req.headers.get("accept") else {
        return Ok(Format::Plain);
    };
    // (format, media type) in Swift's preference order for equal quality.
    let offers = [
        (Format::Plain, "text/plain"),
        (Format::Json, "application/json"),
        (Format::Xml { text_xml: false }, "application/xml"),
        (Format::Xml { text_xml: true }, "text/xml"),
    ];
    let mut best: Option<(f32, usize, Format)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        if q <= 0.0 {
            continue;
        }
        let (mtype, msub) = media.split_once('/').unwrap_or((media.as_str(), ""));
        for (i, (fmt, offer)) in offers.iter().enumerate() {
            let (otype, osub) = offer.split_once('/').unwrap_or((offer, ""));
            let matches =
                (mtype == "*" && msub == "*") || (mtype == otype && (msub == "*" || msub == osub));
            // Exact types beat wildcards at equal quality.
            let specificity = if msub == "*" { 0 } else { 1 };
            let score = q + specificity as f32 * 0.0001;
            if matches && best.is_none_or(|(bq, bi, _)| score > bq || (score == bq && i < bi)) {
                best = Some((score, i, *fmt));
            }
        }
    }
    best.map(|(_, _, f)| f).ok_or_else(|| Response::status(406))
}

/// Swift's ISO form of a listing's `last_modified` (microseconds, no zone).
pub fn isoformat(ts: Timestamp) -> String {
    let ticks = ts.ticks();
    let secs = ticks.div_euclid(100_000);
    let micros = ticks.rem_euclid(100_000) * 10;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders rows; `root` is `container` or `account` and `root_name` its name.
pub fn render(format: Format, root: &str, root_name: &str, rows: &[Row]) -> Vec<u8> {
    match format {
        Format::Plain => {
            let mut out = String::new();
            for r in rows {
                out.push_str(r.name());
                out.push('\n');
            }
            out.into_bytes()
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| match r {
                    Row::Object {
                        name,
                        hash,
                        bytes,
                        content_type,
                        last_modified,
                        extra,
                    } => {
                        let mut v = serde_json::json!({
                            "hash": hash, "last_modified": isoformat(*last_modified), "bytes": bytes,
                            "name": name, "content_type": content_type,
                        });
                        if let Some(m) = v.as_object_mut() {
                            for (k, x) in extra {
                                m.insert(k.clone(), x.clone());
                            }
                        }
                        v
                    }
                    Row::Container {
                        name,
                        count,
                        bytes,
                        last_modified,
                        policy,
                    } => serde_json::json!({
                        "name": name, "count": count, "bytes": bytes,
                        "last_modified": isoformat(*last_modified),
                        "storage_policy": policy,
                    }),
                    Row::Subdir(name) => serde_json::json!({ "subdir": name }),
                })
                .collect();
            serde_json::Value::Array(items).to_string().into_bytes()
        }
        Format::Xml { .. } => {
            let mut out = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} name=\"{}\">",
                xml_escape(root_name)
            );
            for r in rows {
                match r {
                    Row::Object {
                        name,
                        hash,
                        bytes,
                        content_type,
                        last_modified,
                        ..
                    } => out.push_str(&format!(
                        "<object><name>{}</name><hash>{}</hash><bytes>{bytes}</bytes><content_type>{}</content_type><last_modified>{}</last_modified></object>",
                        xml_escape(name),
                        xml_escape(hash),
                        xml_escape(content_type),
                        isoformat(*last_modified)
                    )),
                    Row::Container {
                        name,
                        count,
                        bytes,
                        last_modified,
                        policy,
                    } => out.push_str(&format!(
                        "<container><name>{}</name><count>{count}</count><bytes>{bytes}</bytes><last_modified>{}</last_modified><storage_policy>{}</storage_policy></container>",
                        xml_escape(name),
                        isoformat(*last_modified),
                        xml_escape(policy)
                    )),
                    Row::Subdir(name) => out.push_str(&format!(
                        "<subdir name=\"{0}\"><name>{0}</name></subdir>",
                        xml_escape(name)
                    )),
                }
            }
            out.push_str(&format!("</{root}>"));
            out.into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoformat_matches_swift() {
        // python3 -c "from datetime import *; print(datetime.fromtimestamp(1700000000.12345, timezone.utc))"
        let ts = Timestamp::parse("1700000000.12345").expect("ts");
        assert_eq!(isoformat(ts), "2023-11-14T22:13:20.123450");
        assert_eq!(
            isoformat(Timestamp::parse("0").expect("ts")),
            "1970-01-01T00:00:00.000000"
        );
        let leap = Timestamp::parse("951782400").expect("ts"); // 2000-02-29
        assert_eq!(isoformat(leap), "2000-02-29T00:00:00.000000");
    }

    #[test]
    fn hash_params_become_fields() {
        let (h, extra) = split_hash_params(
            "d41d; symlink_target=c/o%20x; symlink_target_etag=abc; symlink_target_bytes=5; foo=1",
            "v1",
            "AUTH_t",
        );
        assert_eq!(h, "d41d; foo=1");
        let m: std::collections::HashMap<_, _> = extra.into_iter().collect();
        assert_eq!(m["symlink_path"], "/v1/AUTH_t/c/o%20x");
        assert_eq!(m["symlink_etag"], "abc");
        assert_eq!(m["symlink_bytes"], 5);
        assert_eq!(split_hash_params("abc", "v1", "a").0, "abc");
    }

    #[test]
    fn renders_each_format() {
        let ts = Timestamp::parse("1700000000").expect("ts");
        let rows = vec![
            Row::Object {
                name: "a<&>\"".into(),
                hash: "h".into(),
                bytes: 3,
                content_type: "text/plain".into(),
                last_modified: ts,
                extra: vec![],
            },
            Row::Subdir("d/".into()),
        ];
        assert_eq!(
            render(Format::Plain, "container", "c", &rows),
            b"a<&>\"\nd/\n"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&render(Format::Json, "container", "c", &rows)).expect("json");
        assert_eq!(json[0]["bytes"], 3);
        assert_eq!(json[1]["subdir"], "d/");
        let xml = String::from_utf8(render(
            Format::Xml { text_xml: false },
            "container",
            "c",
            &rows,
        ))
        .expect("utf8");
        assert!(xml.contains("<name>a&lt;&amp;&gt;&quot;</name>"));
        assert!(xml.contains("<subdir name=\"d/\"><name>d/</name></subdir>"));
        assert!(xml.ends_with("</container>"));
    }
}
