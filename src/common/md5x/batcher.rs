//! The per-core batcher: uploads running as tasks on one thread hand it
//! (state, buffer) and later take the state back; buffers submitted in the
//! meantime by other uploads are hashed together in SIMD lanes.
//!
//! Batching needs no waiting and no wakers. [`Md5Batcher::submit`] only
//! queues the job and returns a [`Ticket`]; the upload goes on with its I/O
//! (writing that buffer, reading the next), and while it awaits, other
//! uploads on the same thread run and queue theirs. The first
//! [`Ticket::wait`] that finds its job still queued hashes the whole queue
//! at once; the others find theirs done. A lone upload's `wait` hashes just
//! its own buffer on the scalar path, so nobody waits for company.
//!
//! (A yield inside an async call cannot do this portably: monoio puts a task
//! that wakes itself back at the *front* of its run queue, so nobody else
//! runs before it resumes.)
//!
//! Everything is plain `std` and `!Send`: one batcher per thread.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::{update_many, Isa, Md5State};

/// Buffers shorter than this are hashed at once in `submit`: batching them
/// saves less than the bookkeeping costs.
pub const MIN_BATCH_BYTES: usize = 4096;

/// Counters for judging whether batching happens under a real load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Jobs hashed.
    pub jobs: u64,
    /// Jobs that were hashed together with at least one other.
    pub batched: u64,
    /// Hashing passes that ran (one per lone job, one per group).
    pub passes: u64,
    /// Bytes hashed.
    pub bytes: u64,
}

/// A per-thread MD5 batcher; clones share one queue.
pub struct Md5Batcher<B: AsRef<[u8]>> {
    shared: Rc<Shared<B>>,
}

impl<B: AsRef<[u8]>> Clone for Md5Batcher<B> {
    fn clone(&self) -> Self {
        Self {
            shared: Rc::clone(&self.shared),
        }
    }
}

struct Shared<B> {
    isa: Isa,
    /// Jobs submitted and not yet hashed, in submission order.
    queue: RefCell<Vec<Rc<Slot<B>>>>,
    stats: Cell<BatchStats>,
}

type Slot<B> = RefCell<Job<B>>;

enum Job<B> {
    Queued(Md5State, B),
    Done(Md5State, B),
    Taken,
}

impl<B: AsRef<[u8]>> Default for Md5Batcher<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<B: AsRef<[u8]>> Md5Batcher<B> {
    /// A batcher on the widest path this CPU has.
    pub fn new() -> Self {
        Self::with_isa(Isa::best())
    }

    /// A batcher on `isa` (or the widest supported path below it).
    pub fn with_isa(isa: Isa) -> Self {
        Self {
            shared: Rc::new(Shared {
                isa: isa.usable(),
                queue: RefCell::new(Vec::new()),
                stats: Cell::new(BatchStats::default()),
            }),
        }
    }

    /// The path in use.
    pub fn isa(&self) -> Isa {
        self.shared.isa
    }

    /// Queues `buf` to be absorbed into `state`; the ticket gives both back.
    ///
    /// A buffer under [`MIN_BATCH_BYTES`] is hashed at once. When the queue
    /// reaches the kernel's lane count it is hashed at once too, since
    /// waiting for more would not widen the lanes.
    pub fn submit(&self, state: Md5State, buf: B) -> Ticket<B> {
        let small = buf.as_ref().len() < MIN_BATCH_BYTES;
        let slot = Rc::new(RefCell::new(Job::Queued(state, buf)));
        if small {
            self.shared.run(std::slice::from_ref(&slot));
        } else {
            let full = {
                let mut queue = self.shared.queue.borrow_mut();
                queue.push(Rc::clone(&slot));
                queue.len() >= self.shared.isa.lanes()
            };
            if full {
                self.flush();
            }
        }
        Ticket {
            shared: Rc::clone(&self.shared),
            slot,
        }
    }

    /// Hashes every queued job now.
    pub fn flush(&self) {
        self.shared.flush();
    }

    /// Jobs queued and not yet hashed.
    pub fn queued(&self) -> usize {
        self.shared.queue.borrow().len()
    }

    /// Counters since the batcher was made.
    pub fn stats(&self) -> BatchStats {
        self.shared.stats.get()
    }
}

impl<B: AsRef<[u8]>> Shared<B> {
    fn flush(&self) {
        let slots = std::mem::take(&mut *self.queue.borrow_mut());
        if !slots.is_empty() {
            self.run(&slots);
        }
    }

    /// Hashes the queued jobs among `slots` in one pass and marks them done.
    fn run(&self, slots: &[Rc<Slot<B>>]) {
        let mut jobs: Vec<_> = slots.iter().map(|s| s.borrow_mut()).collect();
        let mut lanes: Vec<(&mut Md5State, &[u8])> = jobs
            .iter_mut()
            .filter_map(|job| match &mut **job {
                Job::Queued(state, buf) => {
                    // Give up the unique borrow so the slice can outlive it.
                    let buf: &B = buf;
                    Some((state, buf.as_ref()))
                }
                _ => None,
            })
            .collect();
        let mut stats = self.stats.get();
        stats.jobs += lanes.len() as u64;
        if lanes.len() > 1 {
            stats.batched += lanes.len() as u64;
        }
        stats.passes += 1;
        stats.bytes += lanes.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
        self.stats.set(stats);
        update_many(self.isa, &mut lanes);
        drop(lanes);
        for job in &mut jobs {
            if let Job::Queued(state, buf) = std::mem::replace(&mut **job, Job::Taken) {
                **job = Job::Done(state, buf);
            }
        }
    }
}

/// A submitted job: redeem it with [`Ticket::wait`].
///
/// Dropping a ticket withdraws its job if it has not been hashed yet.
#[must_use = "the updated state is only available through the ticket"]
pub struct Ticket<B: AsRef<[u8]>> {
    shared: Rc<Shared<B>>,
    slot: Rc<Slot<B>>,
}

impl<B: AsRef<[u8]>> Ticket<B> {
    /// Whether the job has been hashed (so `wait` will not hash anything).
    pub fn is_done(&self) -> bool {
        matches!(&*self.slot.borrow(), Job::Done(..))
    }

    /// The updated state and the buffer. If the job is still queued, the
    /// whole queue is hashed now, together.
    pub fn wait(self) -> (Md5State, B) {
        if matches!(&*self.slot.borrow(), Job::Queued(..)) {
            self.shared.flush();
        }
        match std::mem::replace(&mut *self.slot.borrow_mut(), Job::Taken) {
            Job::Done(state, buf) => (state, buf),
            // `flush` runs every queued job and a ticket is redeemed once
            // (`wait` takes it by value), so this cannot happen.
            Job::Queued(..) | Job::Taken => unreachable!("md5x ticket job not hashed by flush"),
        }
    }
}

impl<B: AsRef<[u8]>> Drop for Ticket<B> {
    fn drop(&mut self) {
        if matches!(&*self.slot.borrow(), Job::Queued(..)) {
            self.shared
                .queue
                .borrow_mut()
                .retain(|s| !Rc::ptr_eq(s, &self.slot));
        }
    }
}
