//! Swift's listing algorithm (container/backend.py `list_objects_iter`,
//! account/backend.py `list_containers_iter`), independent of the table it
//! reads: the caller supplies a range scan and this module decides which
//! ranges to scan and how rows become entries or `subdir`s.
//!
//! Semantics, as Swift's:
//! - `marker` / `end_marker` are exclusive bounds; with `reverse` the rows
//!   come in descending order, `marker` is the upper bound and `end_marker`
//!   the lower one.
//! - `prefix` restricts to names starting with it (as a range,
//!   `[prefix, prefix⁺)`, where `prefix⁺` is the prefix with its last
//!   character incremented).
//! - `delimiter` rolls every name that has the delimiter after the prefix
//!   into one `subdir` entry (the name up to and including the delimiter),
//!   once; the scan then jumps past all names under that subdir (forward:
//!   to `subdir⁺`; reverse: below `subdir`), so nested names cost one index
//!   seek per subdir, not one row each. A subdir equal to the original
//!   marker (end marker with `reverse`) is not repeated.
//! - `path` (legacy) = prefix `path/` + delimiter `/`, but only direct
//!   children are returned: deeper names are skipped (no `subdir` rows) and
//!   the name `path/` itself is excluded.
//! - `limit` counts entries and subdirs together.
//!
//! Deliberate differences, both in legacy `path` mode, where Swift skips a
//! subtree with bounds that also drop one legitimate direct child: forward,
//! Swift resumes with `name > child⁺`, losing an object named exactly
//! `child⁺` (`p/a0` after the subtree `p/a/…`); paco resumes with `>=`, as
//! Swift itself does in delimiter mode. In reverse, Swift resumes with
//! `name < child/`, losing an object named exactly `child/` (a direct child
//! in path mode); paco resumes below `child/` + NUL.
//!
//! Bounds are byte strings (UTF-8 order is code-point order, which is
//! SQLite's BINARY collation and Python's string order); `x⁺` increments the
//! last byte, which bounds exactly the same set of valid strings as
//! incrementing the last character.

/// Listing parameters (`GET` query parameters). Empty strings count as
/// absent, as in Swift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    /// Only names starting with this.
    pub prefix: Option<String>,
    /// Roll names up to the first delimiter after the prefix into subdirs.
    /// Swift's servers refuse delimiters longer than one character (or above
    /// U+00FE) with 412; callers check that, this code takes any string.
    pub delimiter: Option<String>,
    /// Only names after this (before it with `reverse`).
    pub marker: Option<String>,
    /// Only names before this (after it with `reverse`).
    pub end_marker: Option<String>,
    /// At most this many entries plus subdirs.
    pub limit: usize,
    /// Descending order.
    pub reverse: bool,
    /// Legacy `path=`: direct children of this "directory".
    pub path: Option<String>,
}

impl Default for ListParams {
    /// No filters, Swift's default limit of 10,000.
    fn default() -> Self {
        ListParams {
            prefix: None,
            delimiter: None,
            marker: None,
            end_marker: None,
            limit: 10_000,
            reverse: false,
            path: None,
        }
    }
}

/// One listing row: an entry, or a rolled-up prefix (`{"subdir": …}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem<T> {
    /// An object (container listing) or container (account listing).
    Entry(T),
    /// A prefix ending with the delimiter.
    Subdir(String),
}

impl<T: Named> ListItem<T> {
    /// The entry's name, or the subdir prefix.
    pub fn name(&self) -> &str {
        match self {
            ListItem::Entry(e) => e.name(),
            ListItem::Subdir(s) => s,
        }
    }
}

/// A row with a name.
pub trait Named {
    /// The row's name (the listing key).
    fn name(&self) -> &str;
}

impl Named for super::ObjectEntry {
    fn name(&self) -> &str {
        &self.name
    }
}

impl Named for super::ContainerEntry {
    fn name(&self) -> &str {
        &self.name
    }
}

/// One range scan over live rows, ordered by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeQuery {
    /// Lower bound and whether it is inclusive (`>=`) or not (`>`).
    pub lower: Option<(Vec<u8>, bool)>,
    /// Exclusive upper bound (`<`).
    pub upper: Option<Vec<u8>>,
    /// Descending order.
    pub reverse: bool,
    /// At most this many rows.
    pub limit: usize,
}

impl RangeQuery {
    /// Whether `name` lies in the range (for in-memory scans in tests).
    pub fn contains(&self, name: &[u8]) -> bool {
        let above = match &self.lower {
            None => true,
            Some((b, true)) => name >= b.as_slice(),
            Some((b, false)) => name > b.as_slice(),
        };
        let below = match &self.upper {
            None => true,
            Some(b) => name < b.as_slice(),
        };
        above && below
    }
}

impl RangeQuery {
    /// `base` (a `SELECT … WHERE <live rows>`) with this range appended,
    /// ordered by name. Parameters: `?1` lower bound, `?2` upper bound,
    /// `?3` limit; bind them with [`RangeQuery::sql_params`].
    pub fn sql(&self, base: &str) -> String {
        let mut sql = String::with_capacity(base.len() + 64);
        sql.push_str(base);
        match &self.lower {
            Some((_, true)) => sql.push_str(" AND name >= ?1"),
            Some((_, false)) => sql.push_str(" AND name > ?1"),
            None => {}
        }
        if self.upper.is_some() {
            sql.push_str(" AND name < ?2");
        }
        sql.push_str(if self.reverse {
            " ORDER BY name DESC LIMIT ?3"
        } else {
            " ORDER BY name LIMIT ?3"
        });
        sql
    }

    /// The three parameters of [`RangeQuery::sql`] (unused ones are bound
    /// but not referenced). Bounds are bound as TEXT from raw bytes, so a
    /// bound that is not valid UTF-8 still compares bytewise with names.
    pub fn sql_params(&self) -> [SqlText<'_>; 2] {
        let lower = self.lower.as_ref().map_or(&[][..], |(b, _)| b.as_slice());
        let upper = self.upper.as_deref().unwrap_or(&[]);
        [SqlText(lower), SqlText(upper)]
    }

    /// The limit as an SQL integer.
    pub fn sql_limit(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX)
    }
}

/// Bytes bound as SQLite TEXT (compared with BINARY collation, i.e.
/// memcmp, like every name in the tables).
#[derive(Debug, Clone, Copy)]
pub struct SqlText<'a>(pub &'a [u8]);

impl rusqlite::ToSql for SqlText<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(self.0),
        ))
    }
}

/// The smallest byte string above every string that starts with `s`
/// (`s` with its last byte incremented). UTF-8 never has a 0xFF byte, but
/// carry past one anyway.
pub fn successor(s: &[u8]) -> Vec<u8> {
    let mut out = s.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xFF {
            out.push(last + 1);
            return out;
        }
    }
    // All 0xFF (or empty): nothing is above; an empty bound is never used.
    out
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Runs Swift's listing over `scan`, which must call its callback with the
/// live rows in the query's range, in order (descending with `reverse`),
/// at most `limit` of them, and stop as soon as the callback returns false.
pub fn list<T, E, S>(params: &ListParams, mut scan: S) -> Result<Vec<ListItem<T>>, E>
where
    T: Named,
    S: FnMut(&RangeQuery, &mut dyn FnMut(T) -> bool) -> Result<(), E>,
{
    let limit = params.limit;
    let reverse = params.reverse;
    let mut results: Vec<ListItem<T>> = Vec::new();
    let bytes = |s: &Option<String>| non_empty(s).map_or_else(Vec::new, |s| s.as_bytes().to_vec());
    let (mut marker, mut end_marker) = (bytes(&params.marker), bytes(&params.end_marker));
    if reverse {
        std::mem::swap(&mut marker, &mut end_marker);
    }
    let (prefix, delimiter, path): (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) = match &params.path
    {
        Some(p) => {
            let p = if p.is_empty() {
                String::new()
            } else {
                format!("{}/", p.trim_end_matches('/'))
            };
            (
                p.clone().into_bytes(),
                Some(b"/".to_vec()),
                Some(p.into_bytes()),
            )
        }
        None => (
            params.prefix.clone().unwrap_or_default().into_bytes(),
            non_empty(&params.delimiter).map(|d| d.as_bytes().to_vec()),
            None,
        ),
    };
    let end_prefix = if prefix.is_empty() {
        Vec::new()
    } else {
        successor(&prefix)
    };
    let orig_marker = marker.clone();
    let mut force_gte = false;

    while results.len() < limit {
        let upper = if !end_marker.is_empty() && (prefix.is_empty() || end_marker < end_prefix) {
            Some(end_marker.clone())
        } else if !prefix.is_empty() {
            Some(end_prefix.clone())
        } else {
            None
        };
        let lower = if force_gte {
            force_gte = false;
            Some((marker.clone(), true))
        } else if !marker.is_empty() && (prefix.is_empty() || marker >= prefix) {
            Some((marker.clone(), false))
        } else if !prefix.is_empty() {
            Some((prefix.clone(), true))
        } else {
            None
        };
        let query = RangeQuery {
            lower,
            upper,
            reverse,
            limit: limit - results.len(),
        };
        let Some(delim) = delimiter.as_deref() else {
            scan(&query, &mut |row| {
                results.push(ListItem::Entry(row));
                true
            })?;
            return Ok(results);
        };
        let mut rows = 0usize;
        let mut full = false;
        scan(&query, &mut |row: T| {
            rows += 1;
            let name = row.name().as_bytes();
            if reverse {
                end_marker = name.to_vec();
            } else {
                marker = name.to_vec();
            }
            if results.len() >= limit {
                full = true;
                return false;
            }
            let end = find(name, delim, prefix.len());
            if let Some(path) = &path {
                if name == path.as_slice() {
                    return true;
                }
                if let Some(end) = end.filter(|e| name.len() > e + delim.len()) {
                    let dir = &name[..end + delim.len()];
                    if reverse {
                        // Below everything under `dir` but not below `dir`
                        // itself (a direct child named `…/`): `dir` + NUL.
                        end_marker = dir.to_vec();
                        end_marker.push(0);
                    } else {
                        marker = successor(dir);
                        force_gte = true;
                    }
                    return false;
                }
            } else if let Some(end) = end {
                let dir = &name[..end + delim.len()];
                if reverse {
                    end_marker = dir.to_vec();
                } else {
                    marker = successor(dir);
                    force_gte = true;
                }
                if dir != orig_marker.as_slice() {
                    results.push(ListItem::Subdir(String::from_utf8_lossy(dir).into_owned()));
                }
                return false;
            }
            results.push(ListItem::Entry(row));
            true
        })?;
        if full || rows == 0 {
            break;
        }
    }
    Ok(results)
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
