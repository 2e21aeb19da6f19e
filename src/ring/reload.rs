//! A ring that follows its file: every `reload_time` the file's mtime and
//! size are compared with those of the loaded ring, and a changed file is
//! loaded in place, as Swift's `Ring` does (default every 15 s), so pushing
//! a new ring to a node needs no restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::{Ring, RingError};
use crate::common::hash::HashConf;

/// Swift's default `reload_time`.
pub const DEFAULT_RELOAD_TIME: Duration = Duration::from_secs(15);

/// A ring file kept loaded, reloaded when it changes.
pub struct ReloadingRing {
    path: PathBuf,
    hash: HashConf,
    reload_time: Duration,
    state: Mutex<State>,
}

struct State {
    ring: Arc<Ring>,
    stamp: (SystemTime, u64),
    next_check: Instant,
}

fn stamp(path: &Path) -> Result<(SystemTime, u64), RingError> {
    let md = std::fs::metadata(path).map_err(|e| RingError::io(path, e))?;
    let mtime = md.modified().map_err(|e| RingError::io(path, e))?;
    Ok((mtime, md.len()))
}

impl ReloadingRing {
    /// Loads `path` now; a ring that cannot be loaded at start is an error.
    pub fn open(path: &Path, hash: HashConf, reload_time: Duration) -> Result<Self, RingError> {
        let stamp = stamp(path)?;
        let ring = Arc::new(Ring::load(path, hash.clone())?);
        Ok(ReloadingRing {
            path: path.to_path_buf(),
            hash,
            reload_time,
            state: Mutex::new(State {
                ring,
                stamp,
                next_check: Instant::now() + reload_time,
            }),
        })
    }

    /// The current ring, first reloading it if `reload_time` has passed and
    /// the file changed.
    pub fn get(&self) -> Arc<Ring> {
        self.get_at(Instant::now())
    }

    /// [`ReloadingRing::get`] at a given instant (for tests and callers that
    /// already read the clock).
    pub fn get_at(&self, now: Instant) -> Arc<Ring> {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now >= st.next_check {
            st.next_check = now + self.reload_time;
            if let Err(e) = self.reload_if_changed(&mut st) {
                // Like Swift, a bad new file leaves the working ring in use.
                tracing::warn!(ring = %self.path.display(), error = %e, "ring reload failed; keeping the loaded ring");
            }
        }
        st.ring.clone()
    }

    fn reload_if_changed(&self, st: &mut State) -> Result<bool, RingError> {
        let now_stamp = stamp(&self.path)?;
        if now_stamp == st.stamp {
            return Ok(false);
        }
        let ring = Ring::load(&self.path, self.hash.clone())?;
        // Take the stamp from before the read: a write racing with the load
        // changes the stamp again and is picked up at the next check.
        st.stamp = now_stamp;
        st.ring = Arc::new(ring);
        tracing::info!(ring = %self.path.display(), "ring reloaded");
        Ok(true)
    }

    /// Checks the file now, whatever the interval; true if a new ring was loaded.
    pub fn check_now(&self) -> Result<bool, RingError> {
        let mut st = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        st.next_check = Instant::now() + self.reload_time;
        self.reload_if_changed(&mut st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::ringdata::tests::sample;

    fn write(path: &Path, part_power: u32, version: u64) {
        let mut data = sample(part_power, false);
        data.version = Some(version);
        data.save(path, 2).unwrap();
    }

    #[test]
    fn reloads_after_the_interval_when_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object.ring.gz");
        write(&path, 6, 1);
        let rr = ReloadingRing::open(&path, HashConf::default(), Duration::from_secs(15)).unwrap();
        let t0 = Instant::now();
        assert_eq!(rr.get_at(t0).data().version, Some(1));
        write(&path, 8, 2);
        // Not yet due: the old ring stays.
        assert_eq!(
            rr.get_at(t0 + Duration::from_secs(1)).data().version,
            Some(1)
        );
        let r = rr.get_at(t0 + Duration::from_secs(16));
        assert_eq!(r.data().version, Some(2));
        assert_eq!(r.partition_count(), 256);
        // Unchanged file: nothing is reloaded.
        assert!(!rr.check_now().unwrap());
    }

    #[test]
    fn a_broken_new_file_keeps_the_old_ring() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("object.ring.gz");
        write(&path, 6, 1);
        let rr = ReloadingRing::open(&path, HashConf::default(), Duration::ZERO).unwrap();
        std::fs::write(&path, b"garbage, not a ring").unwrap();
        assert!(rr.check_now().is_err());
        assert_eq!(rr.get().data().version, Some(1));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(rr.get().data().version, Some(1));
        write(&path, 6, 3);
        assert_eq!(rr.get().data().version, Some(3));
    }
}
