//! An ordered, case-insensitive header list shared by requests and responses.

/// Header names keep the case they were given (responses title-case them when
/// written); lookups ignore case, as HTTP requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The first value of `name`, ignoring case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a header without removing earlier ones of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// Replaces every header of this name with one value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.remove(&name);
        self.entries.push((name, value.into()));
    }

    /// Removes every header of this name.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
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

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Headers {
            entries: iter.into_iter().collect(),
        }
    }
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
    fn title_cases_like_swift() {
        assert_eq!(title_case("x-object-meta-color"), "X-Object-Meta-Color");
        assert_eq!(title_case("ETAG"), "Etag");
        assert_eq!(title_case("x-object-meta-a_b"), "X-Object-Meta-A_b");
    }
}
