//! Per-thread pool of large I/O buffers, so streaming a body allocates
//! nothing per request once a worker is warm.

use std::cell::RefCell;

/// Buffers kept per thread; more are allocated under load and freed on return.
const MAX_POOLED: usize = 64;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with at least `capacity` bytes of room, reused when possible.
pub fn take(capacity: usize) -> Vec<u8> {
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        match pool.iter().position(|b| b.capacity() >= capacity) {
            Some(i) => {
                let mut b = pool.swap_remove(i);
                b.clear();
                b
            }
            None => Vec::with_capacity(capacity),
        }
    })
}

/// Hands a buffer back for reuse.
pub fn give(buf: Vec<u8>) {
    if buf.capacity() == 0 {
        return;
    }
    POOL.with(|p| {
        let mut pool = p.borrow_mut();
        if pool.len() < MAX_POOLED {
            pool.push(buf);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn buffers_are_reused() {
        let b = super::take(1000);
        let ptr = b.as_ptr();
        super::give(b);
        let again = super::take(500);
        assert_eq!(again.as_ptr(), ptr);
        assert!(again.is_empty());
    }
}
