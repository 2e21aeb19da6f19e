//! The object store of each storage policy: what `paco serve` prepares once
//! at start-up and every worker's object server wraps for its own thread.

use std::io;
use std::path::Path;
use std::rc::Rc;

use crate::common::hash::HashConf;
use crate::common::storage_policy::{Layout, Policies};

use super::hashed::HashedManager;
use super::onfile::OnfileManager;
use super::server::PolicyManager;

/// One policy's store, shareable between threads.
#[derive(Debug, Clone)]
pub enum PolicyStore {
    /// Swift's hashed layout on the device.
    Hashed(HashedManager),
    /// Swift-on-File under a mount.
    Onfile(OnfileManager),
}

impl PolicyStore {
    /// This thread's manager for the store.
    pub fn manager(&self) -> PolicyManager {
        match self {
            PolicyStore::Hashed(m) => PolicyManager::Hashed(Rc::new(m.clone())),
            PolicyStore::Onfile(m) => PolicyManager::Onfile(Rc::new(m.clone())),
        }
    }
}

/// Prepares the stores of every policy but a hashed policy 0 (the device's
/// own manager serves that one): hashed policies get `objects-N/` on the
/// device, onfile policies their mount, which must exist.
pub fn prepare(
    policies: &Policies,
    device_root: &Path,
    hash_conf: &HashConf,
    part_power: u8,
) -> io::Result<Vec<(u32, PolicyStore)>> {
    let mut stores = Vec::new();
    for p in policies.iter() {
        let store = match (p.layout, &p.mount) {
            (Layout::Hashed, _) if p.index == 0 => continue,
            (Layout::Hashed, _) => {
                let m = HashedManager::for_policy(
                    device_root.to_path_buf(),
                    hash_conf.clone(),
                    part_power,
                    p.index,
                )?;
                m.clean_tmp()?;
                PolicyStore::Hashed(m)
            }
            (Layout::Onfile, Some(mount)) => PolicyStore::Onfile(
                OnfileManager::new(mount.clone(), hash_conf.clone()).map_err(|e| {
                    io::Error::other(format!(
                        "policy {} ({}): onfile mount {}: {e}",
                        p.index,
                        p.name,
                        mount.display()
                    ))
                })?,
            ),
            (Layout::Onfile, None) => {
                return Err(io::Error::other(format!(
                    "policy {}: the onfile layout needs a mount",
                    p.index
                )))
            }
        };
        stores.push((p.index, store));
    }
    Ok(stores)
}
