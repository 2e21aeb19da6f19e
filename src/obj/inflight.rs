//! A bounded hand-off between one producer (the receive loop) and a fixed
//! set of write lanes, all futures of the same task: the producer queues
//! jobs, each lane takes the next one and runs it, so up to `limit` file
//! writes are in flight at once while the producer receives the next
//! buffer.
//!
//! A direct (`O_DIRECT`) write waits for the device; with one write in
//! flight a single upload would run at one buffer per device round trip.
//! The queue is the bound on memory: the producer waits while `limit` jobs
//! are queued or running, so an upload holds at most `limit` buffers in
//! writes plus the one it is filling.
//!
//! The first failed job stops the pipe: queued jobs are dropped unwritten,
//! jobs already running finish (io_uring owns their buffers until then),
//! and the producer's next [`Pipe::wait_slot`] reports the failure.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

/// Lanes (writes in flight) of one upload's pipe.
pub const LANES: usize = 4;

/// The hand-off; `T` is a job, `E` what a failed job reports.
pub struct Pipe<T, E> {
    queue: RefCell<VecDeque<T>>,
    /// Jobs queued or running.
    outstanding: Cell<usize>,
    /// No more jobs will come.
    closed: Cell<bool>,
    /// Stop: queued jobs are dropped (a job failed or the body did).
    stopped: Cell<bool>,
    error: RefCell<Option<E>>,
    lanes: RefCell<[Option<Waker>; LANES]>,
    producer: RefCell<Option<Waker>>,
}

impl<T, E> Default for Pipe<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> Pipe<T, E> {
    /// An open pipe with room for [`LANES`] jobs.
    pub fn new() -> Self {
        Pipe {
            queue: RefCell::new(VecDeque::with_capacity(LANES)),
            outstanding: Cell::new(0),
            closed: Cell::new(false),
            stopped: Cell::new(false),
            error: RefCell::new(None),
            lanes: RefCell::new(Default::default()),
            producer: RefCell::new(None),
        }
    }

    fn wake_lanes(&self) {
        for w in self.lanes.borrow_mut().iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    fn wake_producer(&self) {
        if let Some(w) = self.producer.borrow_mut().take() {
            w.wake();
        }
    }

    /// Waits until a job may be queued; `false` when the pipe stopped
    /// (a job failed), so the producer should stop too.
    pub async fn wait_slot(&self) -> bool {
        poll_fn(|cx| {
            if self.stopped.get() {
                Poll::Ready(false)
            } else if self.outstanding.get() < LANES {
                Poll::Ready(true)
            } else {
                *self.producer.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Queues `job` (after [`Pipe::wait_slot`] said there is room).
    pub fn push(&self, job: T) {
        debug_assert!(!self.closed.get());
        self.outstanding.set(self.outstanding.get() + 1);
        self.queue.borrow_mut().push_back(job);
        self.wake_lanes();
    }

    /// No more jobs: lanes exit once the queue is empty.
    pub fn close(&self) {
        self.closed.set(true);
        self.wake_lanes();
    }

    /// No more jobs, and queued ones are dropped: lanes exit once their
    /// running job is done.
    pub fn abandon(&self) {
        self.stopped.set(true);
        self.close();
    }

    /// The first failure a job reported.
    pub fn take_error(&self) -> Option<E> {
        self.error.borrow_mut().take()
    }

    /// Runs jobs with `run` until the pipe is closed and empty (or
    /// stopped); one lane of [`LANES`].
    pub async fn lane<F, Fut>(&self, id: usize, mut run: F)
    where
        F: FnMut(T) -> Fut,
        Fut: std::future::Future<Output = Result<(), E>>,
    {
        loop {
            let job = poll_fn(|cx| {
                if self.stopped.get() {
                    let dropped = std::mem::take(&mut *self.queue.borrow_mut());
                    self.outstanding.set(self.outstanding.get() - dropped.len());
                    return Poll::Ready(None);
                }
                if let Some(job) = self.queue.borrow_mut().pop_front() {
                    return Poll::Ready(Some(job));
                }
                if self.closed.get() {
                    return Poll::Ready(None);
                }
                self.lanes.borrow_mut()[id] = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            let Some(job) = job else { return };
            let res = run(job).await;
            self.outstanding.set(self.outstanding.get() - 1);
            if let Err(e) = res {
                let mut error = self.error.borrow_mut();
                if error.is_none() {
                    *error = Some(e);
                }
                drop(error);
                self.stopped.set(true);
                self.wake_lanes();
            }
            self.wake_producer();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rt() -> monoio::Runtime<monoio::time::TimeDriver<monoio::LegacyDriver>> {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime")
    }

    /// Jobs run up to LANES at a time, never more, and all of them run.
    #[test]
    fn runs_every_job_with_bounded_concurrency() {
        rt().block_on(async {
            let pipe: Pipe<u32, ()> = Pipe::new();
            let running = Cell::new(0usize);
            let peak = Cell::new(0usize);
            let done = RefCell::new(Vec::new());
            let run = |job: u32| {
                let (running, peak, done) = (&running, &peak, &done);
                async move {
                    running.set(running.get() + 1);
                    peak.set(peak.get().max(running.get()));
                    monoio::time::sleep(Duration::from_millis(1 + u64::from(job % 3))).await;
                    running.set(running.get() - 1);
                    done.borrow_mut().push(job);
                    Ok(())
                }
            };
            let producer = async {
                for job in 0..20 {
                    assert!(pipe.wait_slot().await);
                    assert!(pipe.outstanding.get() < LANES);
                    pipe.push(job);
                }
                pipe.close();
            };
            monoio::join!(
                producer,
                pipe.lane(0, run),
                pipe.lane(1, run),
                pipe.lane(2, run),
                pipe.lane(3, run)
            );
            let mut done = done.into_inner();
            done.sort();
            assert_eq!(done, (0..20).collect::<Vec<_>>());
            assert_eq!(peak.get(), LANES);
            assert!(pipe.take_error().is_none());
        });
    }

    /// A failing job stops the producer and drops queued jobs; running
    /// ones finish; the first error is kept.
    #[test]
    fn first_failure_stops_the_pipe() {
        rt().block_on(async {
            let pipe: Pipe<u32, u32> = Pipe::new();
            let started = RefCell::new(Vec::new());
            let run = |job: u32| {
                let started = &started;
                async move {
                    started.borrow_mut().push(job);
                    monoio::time::sleep(Duration::from_millis(2)).await;
                    // Job 6 fails too, but later: the first error is kept.
                    if job == 6 {
                        monoio::time::sleep(Duration::from_millis(10)).await;
                    }
                    if job == 5 || job == 6 {
                        Err(job)
                    } else {
                        Ok(())
                    }
                }
            };
            let pushed = Cell::new(0u32);
            let producer = async {
                for job in 0..100 {
                    if !pipe.wait_slot().await {
                        break;
                    }
                    pipe.push(job);
                    pushed.set(job + 1);
                }
                pipe.close();
            };
            monoio::join!(
                producer,
                pipe.lane(0, run),
                pipe.lane(1, run),
                pipe.lane(2, run),
                pipe.lane(3, run)
            );
            assert_eq!(pipe.take_error(), Some(5));
            assert!(pushed.get() < 100, "producer went on: {}", pushed.get());
            // Nothing queued after the failure ran: only jobs that had
            // lanes around the time job 5 failed.
            assert!(started.borrow().iter().all(|&j| j < 5 + 2 * LANES as u32));
            assert_eq!(pipe.outstanding.get(), 0);
        });
    }

    /// Abandoning drops what is queued and lets the lanes exit.
    #[test]
    fn abandon_drops_queued_jobs() {
        rt().block_on(async {
            let pipe: Pipe<u32, ()> = Pipe::new();
            let ran = Cell::new(0);
            let run = |_job: u32| {
                let ran = &ran;
                async move {
                    ran.set(ran.get() + 1);
                    Ok(())
                }
            };
            let producer = async {
                for job in 0..3 {
                    assert!(pipe.wait_slot().await);
                    pipe.push(job);
                }
                pipe.abandon();
            };
            // The producer runs first (join polls in order), so every job
            // is still queued when it abandons.
            monoio::join!(producer, pipe.lane(0, run), pipe.lane(1, run));
            assert_eq!(ran.get(), 0);
            assert_eq!(pipe.outstanding.get(), 0);
        });
    }
}
