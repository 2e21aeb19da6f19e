//! Storage policies, after Swift's `storage_policy.py`: each container is
//! bound to one policy when it is created, and the policy decides where
//! and how its objects are stored (the DiskFile layout).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Swift's name for policy 0 when none is configured.
pub const LEGACY_POLICY_NAME: &str = "Policy-0";

/// How a policy lays objects out on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Swift's hashed layout under the device (`objects/` for policy 0,
    /// `objects-N/` for policy N).
    #[default]
    Hashed,
    /// Swift-on-File: each object is a plain file
    /// `<mount>/<account>/<container>/<object>`.
    Onfile,
}

/// One `[[policies]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoragePolicy {
    /// The policy index containers record (`X-Backend-Storage-Policy-Index`).
    pub index: u32,
    /// The name clients give in `X-Storage-Policy`.
    pub name: String,
    /// Other names clients may use for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Containers created without `X-Storage-Policy` get this policy.
    #[serde(default)]
    pub default: bool,
    /// Existing containers keep working; new ones may not choose it.
    #[serde(default)]
    pub deprecated: bool,
    /// The on-disk layout.
    #[serde(default)]
    pub layout: Layout,
    /// For `onfile`: the directory (a GPFS, Gluster or NFS mount) holding
    /// `<account>/<container>/<object>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<PathBuf>,
}

impl StoragePolicy {
    /// The legacy single policy: `Policy-0`, hashed, default.
    pub fn legacy() -> Self {
        StoragePolicy {
            index: 0,
            name: LEGACY_POLICY_NAME.into(),
            aliases: Vec::new(),
            default: true,
            deprecated: false,
            layout: Layout::Hashed,
            mount: None,
        }
    }

    /// The name and the aliases, in that order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }

    /// Swift's `aliases` in `/info`: every name, comma separated.
    pub fn aliases_text(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        for n in self.names() {
            if !names.iter().any(|m| m.eq_ignore_ascii_case(n)) {
                names.push(n);
            }
        }
        names.join(", ")
    }
}

/// The configured policies, checked: unique indexes and names, policy 0
/// present, exactly one default that is not deprecated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policies {
    /// Sorted by index.
    list: Vec<StoragePolicy>,
    default: u32,
}

/// Characters Swift allows in a policy name (it goes into header names).
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl Policies {
    /// Validates `configured` the way Swift's `StoragePolicyCollection`
    /// does; an empty list means the legacy single policy.
    pub fn new(configured: &[StoragePolicy]) -> Result<Self, String> {
        let mut list: Vec<StoragePolicy> = if configured.is_empty() {
            vec![StoragePolicy::legacy()]
        } else {
            configured.to_vec()
        };
        list.sort_by_key(|p| p.index);
        for (i, p) in list.iter().enumerate() {
            if i > 0 && list[i - 1].index == p.index {
                return Err(format!(
                    "Duplicate index {} conflicts with {}",
                    p.index,
                    list[i - 1].name
                ));
            }
            let mut seen: Vec<&str> = Vec::new();
            for n in p.names() {
                if !valid_name(n) {
                    return Err(format!(
                        "Names are used as HTTP headers, and can only contain \
                         letters, digits and '-'. Invalid name {n:?} (policy {})",
                        p.index
                    ));
                }
                if n.eq_ignore_ascii_case(LEGACY_POLICY_NAME) && p.index != 0 {
                    return Err(format!(
                        "The name {LEGACY_POLICY_NAME} is reserved for policy index 0. \
                         Invalid name {n:?}"
                    ));
                }
                if seen.iter().any(|s| s.eq_ignore_ascii_case(n)) {
                    return Err(format!(
                        "The name {n} is already assigned to policy {}",
                        p.index
                    ));
                }
                seen.push(n);
            }
            for other in &list[..i] {
                if let Some(n) = p
                    .names()
                    .find(|n| other.names().any(|o| o.eq_ignore_ascii_case(n)))
                {
                    return Err(format!(
                        "Duplicate name {n} conflicts with policy {}",
                        other.index
                    ));
                }
            }
            if p.deprecated && p.default {
                return Err(format!(
                    "Deprecated policy can not be default. Invalid config (policy {})",
                    p.index
                ));
            }
            match (p.layout, &p.mount) {
                (Layout::Hashed, Some(_)) => {
                    return Err(format!(
                        "policy {}: mount is only for the onfile layout",
                        p.index
                    ))
                }
                (Layout::Onfile, None) => {
                    return Err(format!(
                        "policy {}: the onfile layout needs a mount",
                        p.index
                    ))
                }
                (Layout::Onfile, Some(m)) if !m.is_absolute() => {
                    return Err(format!(
                        "policy {}: mount must be an absolute path",
                        p.index
                    ))
                }
                _ => {}
            }
        }
        if list[0].index != 0 {
            return Err(
                "You must specify a storage policy section for policy index 0 \
                        in order to define multiple policies"
                    .into(),
            );
        }
        if list.iter().all(|p| p.deprecated) {
            return Err("Unable to find policy that's not deprecated!".into());
        }
        let defaults: Vec<&StoragePolicy> = list.iter().filter(|p| p.default).collect();
        let default = match defaults.as_slice() {
            [one] => one.index,
            [] if list.len() == 1 => list[0].index,
            [] => return Err("Unable to find default policy".into()),
            [a, b, ..] => {
                return Err(format!(
                    "Duplicate default {} conflicts with {}",
                    b.name, a.name
                ))
            }
        };
        Ok(Policies { list, default })
    }

    /// Every policy, by index.
    pub fn iter(&self) -> impl Iterator<Item = &StoragePolicy> {
        self.list.iter()
    }

    /// How many policies there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Always false: policy 0 exists.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The policy with this index.
    pub fn get(&self, index: u32) -> Option<&StoragePolicy> {
        self.list.iter().find(|p| p.index == index)
    }

    /// The policy one of whose names is `name` (case-insensitive, as Swift).
    pub fn by_name(&self, name: &str) -> Option<&StoragePolicy> {
        self.list
            .iter()
            .find(|p| p.names().any(|n| n.eq_ignore_ascii_case(name)))
    }

    /// The default policy.
    pub fn default_policy(&self) -> &StoragePolicy {
        // `new` proved the default exists.
        self.get(self.default).unwrap_or(&self.list[0])
    }

    /// The name a container of policy `index` reports (`X-Storage-Policy`);
    /// an index no longer configured reports its number.
    pub fn name_of(&self, index: i64) -> String {
        u32::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .map_or_else(|| index.to_string(), |p| p.name.clone())
    }

    /// Swift's `/info` `policies`: every policy not deprecated.
    pub fn info(&self) -> serde_json::Value {
        let list: Vec<serde_json::Value> = self
            .list
            .iter()
            .filter(|p| !p.deprecated)
            .map(|p| {
                let mut v = serde_json::json!({
                    "name": p.name,
                    "aliases": p.aliases_text(),
                });
                if p.index == self.default {
                    v["default"] = serde_json::Value::Bool(true);
                }
                v
            })
            .collect();
        serde_json::Value::Array(list)
    }
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            list: vec![StoragePolicy::legacy()],
            default: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashed(index: u32, name: &str) -> StoragePolicy {
        StoragePolicy {
            index,
            name: name.into(),
            default: false,
            ..StoragePolicy::legacy()
        }
    }

    #[test]
    fn empty_means_the_legacy_policy() {
        let p = Policies::new(&[]).expect("valid");
        assert_eq!(p.len(), 1);
        assert_eq!(p.default_policy().name, "Policy-0");
        assert_eq!(
            p.info(),
            serde_json::json!([{"name": "Policy-0", "aliases": "Policy-0", "default": true}])
        );
    }

    #[test]
    fn single_policy_without_default_becomes_default() {
        let p = Policies::new(&[hashed(0, "gold")]).expect("valid");
        assert_eq!(p.default_policy().name, "gold");
    }

    #[test]
    fn swifts_rules_are_enforced() {
        let gold = StoragePolicy {
            default: true,
            ..hashed(0, "gold")
        };
        let cases: Vec<(Vec<StoragePolicy>, &str)> = vec![
            (vec![gold.clone(), hashed(0, "silver")], "Duplicate index"),
            (vec![gold.clone(), hashed(1, "GOLD")], "Duplicate name"),
            (
                vec![hashed(0, "a"), hashed(1, "b")],
                "Unable to find default",
            ),
            (
                vec![
                    gold.clone(),
                    StoragePolicy {
                        default: true,
                        ..hashed(1, "b")
                    },
                ],
                "Duplicate default",
            ),
            (
                vec![StoragePolicy {
                    default: true,
                    ..hashed(1, "b")
                }],
                "policy index 0",
            ),
            (vec![gold.clone(), hashed(1, "Policy-0")], "reserved"),
            (vec![gold.clone(), hashed(1, "bad name")], "Invalid name"),
            (
                vec![StoragePolicy {
                    deprecated: true,
                    ..gold.clone()
                }],
                "Deprecated policy can not be default",
            ),
            (
                vec![
                    gold.clone(),
                    StoragePolicy {
                        layout: Layout::Onfile,
                        ..hashed(1, "files")
                    },
                ],
                "needs a mount",
            ),
            (
                vec![
                    gold.clone(),
                    StoragePolicy {
                        aliases: vec!["x".into(), "X".into()],
                        ..hashed(1, "files")
                    },
                ],
                "already assigned",
            ),
        ];
        for (list, want) in cases {
            let err = Policies::new(&list).expect_err(want);
            assert!(err.contains(want), "{err:?} should mention {want:?}");
        }
    }

    #[test]
    fn lookups_and_info() {
        let p = Policies::new(&[
            StoragePolicy {
                aliases: vec!["yellow".into()],
                ..hashed(0, "gold")
            },
            StoragePolicy {
                default: true,
                ..hashed(2, "silver")
            },
            StoragePolicy {
                deprecated: true,
                ..hashed(1, "bronze")
            },
        ])
        .expect("valid");
        assert_eq!(p.by_name("YELLOW").map(|p| p.index), Some(0));
        assert_eq!(p.default_policy().index, 2);
        assert_eq!(p.name_of(1), "bronze");
        assert_eq!(p.name_of(7), "7");
        assert_eq!(
            p.info(),
            serde_json::json!([
                {"name": "gold", "aliases": "gold, yellow"},
                {"name": "silver", "aliases": "silver", "default": true},
            ])
        );
    }
}
