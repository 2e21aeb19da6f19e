//! An ordered, case-insensitive header list shared by requests and responses.

/// Header names keep the case they were given (responses title-case them when
/// written); lookups ignore case, as HTTP requires.
///
/// Every name and value lives in one text buffer and the list holds their
/// spans, so a head of N headers costs two allocations rather than 2N + 1
/// (and so does each copy of it: the proxy copies a request's headers for
/// the backend request).
#[derive(Clone, Default)]
pub struct Headers {
    text: String,
    entries: Vec<Entry>,
    /// Bytes of `text` no entry uses any more (left by removals).
    dead: usize,
}

/// Where one header's name and value are in [`Headers::text`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    name_len: u32,
    value_len: u32,
}

impl Entry {
    fn name<'a>(&self, text: &'a str) -> &'a str {
        let s = self.start as usize;
        &text[s..s + self.name_len as usize]
    }

    fn value<'a>(&self, text: &'a str) -> &'a str {
        let s = (self.start + self.name_len) as usize;
        &text[s..s + self.value_len as usize]
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Headers {}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty list with room for `n` headers of `bytes` bytes in all.
    pub fn with_capacity(n: usize, bytes: usize) -> Self {
        Headers {
            text: String::with_capacity(bytes),
            entries: Vec::with_capacity(n),
            dead: 0,
        }
    }

    /// The first value of `name`, ignoring case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.name(&self.text).eq_ignore_ascii_case(name))
            .map(|e| e.value(&self.text))
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header without removing earlier ones of the same name.
    pub fn append(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let (name, value) = (name.as_ref(), value.as_ref());
        // Heads are limited far below 4 GiB; a list that big is a bug.
        let start = u32::try_from(self.text.len()).expect("headers over 4 GiB");
        self.text.push_str(name);
        self.text.push_str(value);
        self.entries.push(Entry {
            start,
            name_len: name.len() as u32,
            value_len: value.len() as u32,
        });
    }

    /// Replaces every header of this name with one value.
    pub fn set(&mut self, name: impl AsRef<str>, value: impl AsRef<str>) {
        let name = name.as_ref();
        self.remove(name);
        self.append(name, value);
    }

    /// Removes every header of this name.
    pub fn remove(&mut self, name: &str) {
        let text = &self.text;
        let mut dead = 0;
        self.entries.retain(|e| {
            let keep = !e.name(text).eq_ignore_ascii_case(name);
            if !keep {
                dead += (e.name_len + e.value_len) as usize;
            }
            keep
        });
        self.dead += dead;
        // Many replacements of the same header would otherwise grow the
        // text without bound.
        if self.dead > 1024 && self.dead > self.text.len() / 2 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut text = String::with_capacity(self.text.len() - self.dead);
        for e in &mut self.entries {
            let s = e.start as usize;
            let len = (e.name_len + e.value_len) as usize;
            e.start = text.len() as u32;
            text.push_str(&self.text[s..s + len]);
        }
        self.text = text;
        self.dead = 0;
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.name(&self.text), e.value(&self.text)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut h = Headers::new();
        for (n, v) in iter {
            h.append(n, v);
        }
        h
    }
}

/// Whether `name` starts with `prefix`, ignoring ASCII case (header-name
/// checks without a lowercased copy).
pub fn starts_with_ignore_case(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len()
        && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// `x-object-meta-foo_bar` → `X-Object-Meta-Foo_bar`: the form Swift returns
/// header names in.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_set_replaces() {
        let mut h = Headers::new();
        h.append("Content-Type", "text/plain");
        h.append("x-a", "1");
        h.append("X-A", "2");
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get("x-a"), Some("1"));
        h.set("x-A", "3");
        assert_eq!(
            h.iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("x-a"))
                .count(),
            1
        );
        assert_eq!(h.get("X-a"), Some("3"));
    }

    #[test]
    fn removals_keep_order_and_compact() {
        let mut h = Headers::new();
        h.append("A", "1");
        h.append("B", "2");
        h.append("a", "3");
        h.remove("a");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![("B", "2")]);
        for i in 0..10_000 {
            h.set("X-Long", "v".repeat(i % 50));
            h.append("K", "x");
            h.remove("k");
        }
        assert!(h.text.len() < 4096, "text grew to {}", h.text.len());
        assert_eq!(h.get("b"), Some("2"));
        assert_eq!(h.get("x-long"), Some("v".repeat(9999 % 50).as_str()));
        let copy: Headers = h.iter().collect();
        assert_eq!(copy, h);
        assert_eq!(format!("{h:?}"), format!("{copy:?}"));
        h.append("", "");
        assert_eq!(h.get(""), Some(""));
        assert_ne!(copy, h);
    }

    #[test]
    fn title_cases_like_swift() {
        assert_eq!(title_case("x-object-meta-color"), "X-Object-Meta-Color");
        assert_eq!(title_case("ETAG"), "Etag");
        assert_eq!(title_case("x-object-meta-a_b"), "X-Object-Meta-A_b");
    }
}
