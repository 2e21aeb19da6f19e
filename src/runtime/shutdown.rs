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
///
/// Waiters live in slots that each [`Wait`] frees when dropped, so the list
/// holds only the connections idle right now: a list that kept every
/// connection's waker ever made grew without bound and was scanned on every
/// poll (82% of a worker's CPU after a few hundred thousand connections).
#[derive(Default)]
pub struct LocalShutdown {
    set: Cell<bool>,
    waiters: RefCell<Slots>,
}

/// Wakers by slot, with the free slots kept for reuse.
#[derive(Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Slots {
    fn insert(&mut self, w: Waker) -> usize {
        match self.free.pop() {
            Some(i) => {
                debug_assert!(self.wakers[i].is_none(), "free slot {i} in use");
                self.wakers[i] = Some(w);
                i
            }
            None => {
                self.wakers.push(Some(w));
                self.wakers.len() - 1
            }
        }
    }

    fn remove(&mut self, i: usize) {
        if let Some(slot) = self.wakers.get_mut(i) {
            if slot.take().is_some() {
                self.free.push(i);
            }
        }
    }

    fn live(&self) -> usize {
        self.wakers.len() - self.free.len()
    }
}

impl LocalShutdown {
    /// Not triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes every waiter; later waits finish at once.
    pub fn trigger(&self) {
        self.set.set(true);
        let wakers: Vec<Waker> = {
            let mut slots = self.waiters.borrow_mut();
            slots.free.clear();
            slots.wakers.drain(..).flatten().collect()
        };
        // Woken outside the borrow: a waiter polled from `wake` must not
        // find the slots borrowed.
        for w in wakers {
            w.wake();
        }
    }

    /// Whether shutdown has begun on this worker.
    pub fn is_set(&self) -> bool {
        self.set.get()
    }

    /// Resolves when shutdown begins.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            owner: self,
            slot: None,
        }
    }

    /// Connections waiting right now (for tests and assertions).
    pub fn waiting(&self) -> usize {
        self.waiters.borrow().live()
    }
}

/// Future returned by [`LocalShutdown::wait`].
pub struct Wait<'a> {
    owner: &'a LocalShutdown,
    slot: Option<usize>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.owner.set.get() {
            self.slot = None;
            return Poll::Ready(());
        }
        let owner = self.owner;
        let mut slots = owner.waiters.borrow_mut();
        if let Some(i) = self.slot {
            // Slots are only emptied by `trigger`, which sets the flag.
            debug_assert!(matches!(slots.wakers.get(i), Some(Some(_))));
            if let Some(Some(w)) = slots.wakers.get_mut(i) {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                return Poll::Pending;
            }
        }
        self.slot = Some(slots.insert(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if !self.owner.set.get() {
                self.owner.waiters.borrow_mut().remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll_once(w: &mut Wait<'_>, waker: &Waker) -> Poll<()> {
        let mut cx = Context::from_waker(waker);
        Pin::new(w).poll(&mut cx)
    }

    #[test]
    fn dropped_waits_leave_no_waker_behind() {
        let s = LocalShutdown::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        for _ in 0..10_000 {
            let mut w = s.wait();
            assert!(poll_once(&mut w, &waker).is_pending());
            assert!(poll_once(&mut w, &waker).is_pending());
            assert_eq!(s.waiting(), 1);
        }
        assert_eq!(s.waiting(), 0);
        assert_eq!(s.waiters.borrow().wakers.len(), 1, "slot reused");
    }

    #[test]
    fn trigger_wakes_each_live_waiter_once() {
        let s = LocalShutdown::new();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut a = s.wait();
        let mut b = s.wait();
        let mut gone = s.wait();
        for w in [&mut a, &mut b, &mut gone] {
            assert!(poll_once(w, &waker).is_pending());
        }
        drop(gone);
        s.trigger();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        assert!(poll_once(&mut a, &waker).is_ready());
        assert!(poll_once(&mut b, &waker).is_ready());
        assert!(poll_once(&mut s.wait(), &waker).is_ready());
        assert_eq!(s.waiting(), 0);
    }
}
