//! Background work that runs inside the node on its own threads, paced so
//! it never competes with requests for long.

pub mod expirer;
pub mod updater;

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::runtime::shutdown::ShutdownFlag;

/// Starts thread `paco-{what}` with its own monoio runtime, on which `setup`
/// builds the daemon (its state may be `!Send`) and returns the pass; the
/// pass runs every `interval`, checking `flag` each `tick`, until `flag` is
/// set.
pub(crate) fn spawn_paced<S, P, F>(
    what: &'static str,
    interval: Duration,
    tick: Duration,
    flag: ShutdownFlag,
    setup: S,
) -> std::io::Result<JoinHandle<()>>
where
    S: FnOnce() -> P + Send + 'static,
    P: FnMut() -> F,
    F: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name(format!("paco-{what}"))
        .spawn(move || {
            let mut rt = match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("{what} runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let mut pass = setup();
                let mut waited = interval;
                while !flag.is_set() {
                    if waited >= interval {
                        waited = Duration::ZERO;
                        pass().await;
                    }
                    monoio::time::sleep(tick).await;
                    waited += tick;
                }
            });
        })
}
