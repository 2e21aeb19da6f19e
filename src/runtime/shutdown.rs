//! Shutdown signalling: one process-wide flag set by the signal thread, and
//! a per-worker notifier that wakes every connection waiting between requests.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Set once, by the thread that receives SIGINT/SIGTERM.
#[derive(Debug, Default, Clone)]
pub struct ShutdownFlag(Arc<AtomicBool>);

impl ShutdownFlag {
    /// A flag not yet set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every worker to stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A worker's view of shutdown: connections await [`LocalShutdown::wait`]
/// while idle, and the accept loop calls [`LocalShutdown::trigger`] when it
/// sees the process-wide flag.
#[derive(Default)]
pub struct LocalShutdown {
    set: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl LocalShutdown {
    /// Not triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every waiter; later waits finish at once.
    pub fn trigger(&self) {
        self.set.set(true);
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Whether shutdown has begun on this worker.
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Resolves when shutdown begins.
    pub fn wait(&self) -> Wait<'_> {
        Wait { owner: self }
    }
}

/// Future returned by [`LocalShutdown::wait`].
pub struct Wait<'a> {
    owner: &'a LocalShutdown,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.owner.set.get() {
            return Poll::Ready(());
        }
        let mut waiters = self.owner.waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
