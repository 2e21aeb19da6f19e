//! The object updater: retries container updates that could not be made at
//! write time (`async_pending/`), as Swift's `object-updater` does.

use std::path::PathBuf;
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::obj::updates::{run_pending, ContainerUpdater};
use crate::runtime::shutdown::ShutdownFlag;

/// Starts the updater thread: every `interval` it applies what is pending
/// under `device_root`, until `flag` is set. `make_updater` runs on that
/// thread (updaters are `!Send`).
pub fn spawn<F>(
    device_root: PathBuf,
    interval: Duration,
    flag: ShutdownFlag,
    make_updater: F,
) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() -> Rc<dyn ContainerUpdater> + Send + 'static,
{
    let tick = Duration::from_millis(100);
    super::spawn_paced("updater", interval, tick, flag, move || {
        let updater = make_updater();
        move || {
            let (device_root, updater) = (device_root.clone(), updater.clone());
            async move {
                match run_pending(&device_root, &*updater).await {
                    Ok((0, 0)) => {}
                    Ok((applied, left)) => {
                        tracing::info!(applied, left, "object updater pass")
                    }
                    Err(e) => tracing::warn!("object updater: {e}"),
                }
            }
        }
    })
}
