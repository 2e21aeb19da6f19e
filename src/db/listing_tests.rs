//! Tests of the listing algorithm over an in-memory table: Swift's own
//! cases (test/unit/container/test_backend.py `test_list_objects_iter`
//! data set, expected rows worked out from Swift's algorithm) and a
//! randomized comparison with a naive definition of the semantics.

use rand::{Rng, SeedableRng};

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct N(String);

impl Named for N {
    fn name(&self) -> &str {
        &self.0
    }
}

/// Lists `names` (sorted, unique) with `p`; also returns how many range
/// queries were made.
fn run(names: &[String], p: &ListParams) -> (Vec<String>, usize) {
    let mut queries = 0;
    let out: Result<Vec<ListItem<N>>, ()> = list(p, |q, f| {
        queries += 1;
        let it: Box<dyn Iterator<Item = &String>> = if q.reverse {
            Box::new(names.iter().rev())
        } else {
            Box::new(names.iter())
        };
        for n in it.filter(|n| q.contains(n.as_bytes())).take(q.limit) {
            if !f(N(n.clone())) {
                break;
            }
        }
        Ok(())
    });
    let rows = out
        .unwrap_or_default()
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    (rows, queries)
}

fn swift_data() -> Vec<String> {
    let mut v = Vec::new();
    for a in 0..4 {
        for b in 0..125 {
            v.push(format!("{a}/{b:04}"));
        }
    }
    for b in 0..125 {
        v.push(format!("2/0051/{b:04}"));
        v.push(format!("3/{b:04}/0049"));
    }
    v.sort();
    v
}

#[allow(clippy::too_many_arguments)]
fn params(
    limit: usize,
    marker: &str,
    end_marker: Option<&str>,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    path: Option<&str>,
    reverse: bool,
) -> ListParams {
    ListParams {
        prefix: prefix.map(str::to_string),
        delimiter: delimiter.map(str::to_string),
        marker: Some(marker.to_string()),
        end_marker: end_marker.map(str::to_string),
        limit,
        reverse,
        path: path.map(str::to_string),
    }
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn swift_backend_cases() {
    let data = swift_data();
    let l = |p: ListParams| run(&data, &p).0;

    let r = l(params(100, "", None, None, Some(""), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[99].as_str()),
        (100, "0/0000", "0/0099")
    );
    let r = l(params(100, "", Some("0/0050"), None, Some(""), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[49].as_str()),
        (50, "0/0000", "0/0049")
    );
    let r = l(params(100, "0/0099", None, None, Some(""), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[99].as_str()),
        (100, "0/0100", "1/0074")
    );
    let r = l(params(55, "1/0074", None, None, Some(""), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[54].as_str()),
        (55, "1/0075", "2/0004")
    );
    let r = l(params(55, "2/0005", None, None, Some(""), None, true));
    assert_eq!(
        (r.len(), r[0].as_str(), r[54].as_str()),
        (55, "2/0004", "1/0075")
    );
    let r = l(params(10, "", None, Some("0/01"), Some(""), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[9].as_str()),
        (10, "0/0100", "0/0109")
    );
    let r = l(params(10, "", None, Some("0/"), Some("/"), None, false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[9].as_str()),
        (10, "0/0000", "0/0009")
    );
    let r = l(params(10, "", None, Some("0/"), Some("/"), None, true));
    assert_eq!(
        (r.len(), r[0].as_str(), r[9].as_str()),
        (10, "0/0124", "0/0115")
    );
    // Same through `path`.
    let r = l(params(10, "", None, None, Some(""), Some("0"), false));
    assert_eq!(
        (r.len(), r[0].as_str(), r[9].as_str()),
        (10, "0/0000", "0/0009")
    );
    let r = l(params(10, "", None, None, Some(""), Some("0"), true));
    assert_eq!(
        (r.len(), r[0].as_str(), r[9].as_str()),
        (10, "0/0124", "0/0115")
    );

    assert_eq!(
        l(params(10, "", None, Some(""), Some("/"), None, false)),
        names(&["0/", "1/", "2/", "3/"])
    );
    assert_eq!(
        l(params(10, "2", None, None, Some("/"), None, false)),
        names(&["2/", "3/"])
    );
    // The marker is the subdir itself: not repeated.
    assert_eq!(
        l(params(10, "2/", None, None, Some("/"), None, false)),
        names(&["3/"])
    );
    assert_eq!(
        l(params(10, "2/", None, None, Some("/"), None, true)),
        names(&["1/", "0/"])
    );
    assert_eq!(
        l(params(10, "20", None, None, Some("/"), None, true)),
        names(&["2/", "1/", "0/"])
    );
    // A marker inside a subdir: the subdir is still listed (Swift).
    assert_eq!(
        l(params(3, "2/0050", None, None, Some("/"), None, false)),
        names(&["2/", "3/"])
    );
    let r = l(params(
        10,
        "2/0050",
        None,
        Some("2/"),
        Some("/"),
        None,
        false,
    ));
    assert_eq!(
        r,
        names(&[
            "2/0051", "2/0051/", "2/0052", "2/0053", "2/0054", "2/0055", "2/0056", "2/0057",
            "2/0058", "2/0059"
        ])
    );
    assert_eq!(
        l(params(
            10,
            "3/0045",
            None,
            Some("3/"),
            Some("/"),
            None,
            false
        )),
        names(&[
            "3/0045/", "3/0046", "3/0046/", "3/0047", "3/0047/", "3/0048", "3/0048/", "3/0049",
            "3/0049/", "3/0050"
        ])
    );
}

#[test]
fn swift_backend_cases_with_slash_object() {
    let mut data = swift_data();
    data.push("3/0049/".to_string());
    data.sort();
    let l = |p: ListParams| run(&data, &p).0;
    assert_eq!(
        l(params(10, "3/0048", None, None, None, None, false)),
        names(&[
            "3/0048/0049",
            "3/0049",
            "3/0049/",
            "3/0049/0049",
            "3/0050",
            "3/0050/0049",
            "3/0051",
            "3/0051/0049",
            "3/0052",
            "3/0052/0049"
        ])
    );
    assert_eq!(
        l(params(
            10,
            "3/0048",
            None,
            Some("3/"),
            Some("/"),
            None,
            false
        )),
        names(&[
            "3/0048/", "3/0049", "3/0049/", "3/0050", "3/0050/", "3/0051", "3/0051/", "3/0052",
            "3/0052/", "3/0053"
        ])
    );
    assert_eq!(
        l(params(
            10,
            "",
            None,
            Some("3/0049/"),
            Some("/"),
            None,
            false
        )),
        names(&["3/0049/", "3/0049/0049"])
    );
    assert_eq!(
        l(params(10, "", None, None, None, Some("3/0049"), false)),
        names(&["3/0049/0049"])
    );
    assert_eq!(
        l(params(2, "", None, Some("3/"), Some("/"), None, false)),
        names(&["3/0000", "3/0000/"])
    );
    assert_eq!(
        l(params(2, "", None, None, None, Some("3"), false)),
        names(&["3/0000", "3/0001"])
    );
}

#[test]
fn subdirs_are_skipped_with_one_query_each() {
    // 50 subdirs of 1000 names each: listing the subdirs must not visit
    // their contents.
    let mut data = Vec::new();
    for d in 0..50 {
        for f in 0..1000 {
            data.push(format!("d{d:02}/f{f:04}"));
        }
    }
    data.sort();
    let (rows, queries) = run(&data, &params(100, "", None, None, Some("/"), None, false));
    assert_eq!(rows.len(), 50);
    assert!(queries <= 51, "{queries} queries");
    let (rows, queries) = run(&data, &params(100, "", None, None, Some("/"), None, true));
    assert_eq!(rows.first().map(String::as_str), Some("d49/"));
    assert_eq!(rows.len(), 50);
    assert!(queries <= 51, "{queries} queries");
}

#[test]
fn path_mode_keeps_direct_children_next_to_skipped_subtrees() {
    // Swift would drop "p/a0" (it resumes with `name > "p/a0"`).
    let data = names(&["p/", "p/a/x", "p/a/y", "p/a0", "p/b"]);
    assert_eq!(
        run(&data, &params(10, "", None, None, None, Some("p"), false)).0,
        names(&["p/a0", "p/b"])
    );
    assert_eq!(
        run(&data, &params(10, "", None, None, None, Some("p/"), true)).0,
        names(&["p/b", "p/a0"])
    );
    // Swift would drop "q/a/" in reverse (it resumes with `name < "q/a/"`).
    let data = names(&["q/a/", "q/a/x", "q/b"]);
    assert_eq!(
        run(&data, &params(10, "", None, None, None, Some("q"), true)).0,
        names(&["q/b", "q/a/"])
    );
    assert_eq!(
        run(&data, &params(10, "", None, None, None, Some("q"), false)).0,
        names(&["q/a/", "q/b"])
    );
}

#[test]
fn successor_and_find() {
    assert_eq!(successor(b"ab"), b"ac".to_vec());
    assert_eq!(successor(b"a\xff"), b"b".to_vec());
    assert_eq!(successor(b""), Vec::<u8>::new());
    assert_eq!(find(b"a/b/c", b"/", 2), Some(3));
    assert_eq!(find(b"a/b", b"/", 9), None);
    assert_eq!(find(b"a::b", b"::", 0), Some(1));
}

/// The semantics stated plainly: filter, map to subdir-or-name, drop
/// repeats and the marker's subdir, cut at the limit.
fn naive(all: &[String], p: &ListParams) -> Vec<String> {
    let ne = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let (mut lo, mut hi) = (ne(&p.marker), ne(&p.end_marker));
    if p.reverse {
        std::mem::swap(&mut lo, &mut hi);
    }
    let (prefix, delim, path) = match &p.path {
        Some(path) => {
            let pp = if path.is_empty() {
                String::new()
            } else {
                format!("{}/", path.trim_end_matches('/'))
            };
            (pp.clone(), Some("/".to_string()), Some(pp))
        }
        None => (p.prefix.clone().unwrap_or_default(), ne(&p.delimiter), None),
    };
    let mut names: Vec<&String> = all
        .iter()
        .filter(|n| n.starts_with(&prefix))
        .filter(|n| lo.as_ref().is_none_or(|m| *n > m))
        .filter(|n| hi.as_ref().is_none_or(|m| *n < m))
        .collect();
    if p.reverse {
        names.reverse();
    }
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if path.as_ref() == Some(n) {
            continue;
        }
        let (key, is_subdir) = match &delim {
            None => (n.clone(), false),
            Some(d) => match n[prefix.len()..].find(d.as_str()) {
                Some(i) => {
                    let end = prefix.len() + i + d.len();
                    if path.is_some() {
                        if n.len() > end {
                            continue;
                        }
                        (n.clone(), false)
                    } else {
                        (n[..end].to_string(), true)
                    }
                }
                None => (n.clone(), false),
            },
        };
        if is_subdir && (out.last() == Some(&key) || lo.as_ref() == Some(&key)) {
            continue;
        }
        out.push(key);
    }
    out.truncate(p.limit);
    out
}

#[test]
fn randomized_against_naive() {
    let alphabet = ["a", "b", "/", "é", "0", "-", "\u{1F600}"];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let word = |rng: &mut rand::rngs::StdRng, max: usize| -> String {
        let len = rng.gen_range(0..=max);
        (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect()
    };
    for round in 0..3000 {
        let mut data: Vec<String> = (0..rng.gen_range(1..60))
            .map(|_| word(&mut rng, 5))
            .filter(|w| !w.is_empty())
            .collect();
        data.sort();
        data.dedup();
        let opt = |rng: &mut rand::rngs::StdRng, max: usize| {
            if rng.gen_bool(0.5) {
                Some(word(rng, max))
            } else {
                None
            }
        };
        let p = ListParams {
            prefix: opt(&mut rng, 2),
            delimiter: if rng.gen_bool(0.6) {
                Some(alphabet[rng.gen_range(0..alphabet.len())].to_string())
            } else {
                None
            },
            marker: opt(&mut rng, 3),
            end_marker: opt(&mut rng, 3),
            limit: rng.gen_range(0..20),
            reverse: rng.gen_bool(0.5),
            path: if rng.gen_bool(0.15) {
                opt(&mut rng, 2)
            } else {
                None
            },
        };
        let got = run(&data, &p).0;
        let want = naive(&data, &p);
        assert_eq!(got, want, "round {round}: {p:?} over {data:?}");
    }
}
