//! Closing monoio files by an awaited close, never by a drop.
//!
//! A dropped monoio file submits its CLOSE and then, since that op was never
//! awaited, an `ASYNC_CANCEL` for it (the `async-cancel` feature, which the
//! recv timeouts need). By then the close has completed inline, so the
//! kernel finds nothing to cancel only after walking every io-wq worker of
//! the ring: 11–17% of a 4 KiB GET's CPU when measured. Files that reach
//! the end of a request close through these instead.

use std::rc::Rc;

use monoio::fs::File;

/// Closes a file that was only read from, waiting for the ring's close. A
/// failed close of such a file loses nothing, so its error is ignored.
pub async fn close_read_only(file: File) {
    let _ = file.close().await;
}

/// Closes a shared read-only file when this is its last holder; otherwise
/// only lets go of this reference (the last holder closes it).
pub async fn close_shared(file: Rc<File>) {
    if let Ok(f) = Rc::try_unwrap(file) {
        close_read_only(f).await;
    }
}
