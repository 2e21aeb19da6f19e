//! The device notation of `swift-ring-builder`: `r1z2-10.0.0.1:6200/sdb`
//! to add a device, and search values such as `d3`, `r1z2` or
//! `10.0.0.1:6200/sdb` to pick devices.

/// What `add` parsed: `r<region>z<zone>-<ip>:<port>[R<ip>:<port>]/<device>[_<meta>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AddSpec {
    /// Region (1 when the value starts at `z`, as Swift defaults).
    pub region: u32,
    /// Zone.
    pub zone: u32,
    /// Server address (IPv6 without brackets).
    pub ip: String,
    /// Server port.
    pub port: u16,
    /// Replication address and port, if given after `R`.
    pub replication: Option<(String, u16)>,
    /// Device name.
    pub device: String,
    /// Text after `_`.
    pub meta: String,
}

/// A search value: every given part must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Search {
    /// `d<id>`.
    pub id: Option<u32>,
    /// `r<region>`.
    pub region: Option<u32>,
    /// `z<zone>`.
    pub zone: Option<u32>,
    /// The address.
    pub ip: Option<String>,
    /// `:<port>`.
    pub port: Option<u16>,
    /// `/<device>`.
    pub device: Option<String>,
    /// `_<meta>` (substring match).
    pub meta: Option<String>,
}

fn number<T: std::str::FromStr>(s: &str, tag: char) -> Option<(Option<T>, &str)> {
    let Some(rest) = s.strip_prefix(tag) else {
        return Some((None, s));
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let n = rest[..end].parse().ok()?;
    Some((Some(n), &rest[end..]))
}

/// `ip[:port]` or `[v6][:port]`, returning the rest of the string.
fn address(s: &str) -> Option<(Option<String>, Option<u16>, &str)> {
    let (ip, rest) = if let Some(v6) = s.strip_prefix('[') {
        let end = v6.find(']')?;
        (Some(v6[..end].to_string()), &v6[end + 1..])
    } else {
        let end = s.find([':', '/', '_', 'R']).unwrap_or(s.len());
        let ip = &s[..end];
        ((!ip.is_empty()).then(|| ip.to_string()), &s[end..])
    };
    if let Some(ip) = &ip {
        let ok = ip.parse::<std::net::IpAddr>().is_ok()
            || ip
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return None;
        }
    }
    match rest.strip_prefix(':') {
        Some(p) => {
            let end = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
            let port = p[..end].parse().ok()?;
            Some((ip, Some(port), &p[end..]))
        }
        None => Some((ip, None, rest)),
    }
}

fn valid_device_name(d: &str) -> bool {
    !d.is_empty() && d != "." && d != ".." && !d.contains('/')
}

/// Parses an `add` value.
pub fn parse_add(value: &str) -> Result<AddSpec, String> {
    let bad =
        || format!("invalid device {value:?}: expected r<region>z<zone>-<ip>:<port>/<device>");
    let (region, rest) = number::<u32>(value, 'r').ok_or_else(bad)?;
    let (zone, rest) = number::<u32>(rest, 'z').ok_or_else(bad)?;
    let zone = zone.ok_or_else(bad)?;
    let rest = rest.strip_prefix('-').ok_or_else(bad)?;
    let (ip, port, rest) = address(rest).ok_or_else(bad)?;
    let (ip, port) = (ip.ok_or_else(bad)?, port.ok_or_else(bad)?);
    let (replication, rest) = match rest.strip_prefix('R') {
        Some(r) => {
            let (rip, rport, rest) = address(r).ok_or_else(bad)?;
            (
                Some((rip.unwrap_or_else(|| ip.clone()), rport.unwrap_or(port))),
                rest,
            )
        }
        None => (None, rest),
    };
    let rest = rest.strip_prefix('/').ok_or_else(bad)?;
    let (device, meta) = match rest.find('_') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    if !valid_device_name(device) {
        return Err(format!("invalid device name {device:?}"));
    }
    Ok(AddSpec {
        region: region.unwrap_or(1),
        zone,
        ip,
        port,
        replication,
        device: device.to_string(),
        meta: meta.to_string(),
    })
}

/// Parses a search value; at least one part is required.
pub fn parse_search(value: &str) -> Result<Search, String> {
    let bad = || format!("invalid search value {value:?}");
    let (id, rest) = number::<u32>(value, 'd').ok_or_else(bad)?;
    let (region, rest) = number::<u32>(rest, 'r').ok_or_else(bad)?;
    let (zone, rest) = number::<u32>(rest, 'z').ok_or_else(bad)?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let (ip, port, rest) = address(rest).ok_or_else(bad)?;
    let (device, meta) = match rest.strip_prefix('/') {
        Some(d) => match d.find('_') {
            Some(i) => (Some(d[..i].to_string()), Some(d[i + 1..].to_string())),
            None => (Some(d.to_string()), None),
        },
        None => match rest.strip_prefix('_') {
            Some(m) => (None, Some(m.to_string())),
            None if rest.is_empty() => (None, None),
            None => return Err(bad()),
        },
    };
    let s = Search {
        id,
        region,
        zone,
        ip,
        port,
        device,
        meta,
    };
    if s == Search::default() {
        return Err(bad());
    }
    Ok(s)
}

impl Search {
    /// Whether `dev` matches every part of the search.
    pub fn matches(&self, dev: &super::Device) -> bool {
        self.id.is_none_or(|v| v == dev.id)
            && self.region.is_none_or(|v| v == dev.region)
            && self.zone.is_none_or(|v| v == dev.zone)
            && self.ip.as_ref().is_none_or(|v| *v == dev.ip)
            && self.port.is_none_or(|v| v == dev.port)
            && self.device.as_ref().is_none_or(|v| *v == dev.device)
            && self
                .meta
                .as_ref()
                .is_none_or(|v| dev.meta.contains(v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_values() {
        let a = parse_add("r1z2-127.0.0.1:6200/sda").unwrap();
        assert_eq!((a.region, a.zone, a.port), (1, 2, 6200));
        assert_eq!((a.ip.as_str(), a.device.as_str()), ("127.0.0.1", "sda"));
        let a = parse_add("z3-[::1]:6201R[::2]:6301/sdb_fast disk").unwrap();
        assert_eq!((a.region, a.zone, a.ip.as_str()), (1, 3, "::1"));
        assert_eq!(a.replication, Some(("::2".into(), 6301)));
        assert_eq!((a.device.as_str(), a.meta.as_str()), ("sdb", "fast disk"));
        for bad in [
            "",
            "r1-1.2.3.4:1/sda",
            "r1z1-1.2.3.4/sda",
            "r1z1-1.2.3.4:70000/sda",
            "r1z1-1.2.3.4:1",
            "r1z1-1.2.3.4:1/",
            "r1z1-1.2.3.4:1/..",
            "r1z1-a b:1/sda",
            "rxz1-1.2.3.4:1/sda",
        ] {
            assert!(parse_add(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_values() {
        assert_eq!(parse_search("d74").unwrap().id, Some(74));
        let s = parse_search("r4z1-1.2.3.4:5678/sdb1").unwrap();
        assert_eq!(s.region, Some(4));
        assert_eq!(s.zone, Some(1));
        assert_eq!(s.ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(s.port, Some(5678));
        assert_eq!(s.device.as_deref(), Some("sdb1"));
        assert_eq!(parse_search(":5678").unwrap().port, Some(5678));
        assert_eq!(
            parse_search("/sdb1").unwrap().device.as_deref(),
            Some("sdb1")
        );
        assert_eq!(
            parse_search("_shiny").unwrap().meta.as_deref(),
            Some("shiny")
        );
        assert!(parse_search("").is_err());
        assert!(parse_search("d").is_err());
    }
}
