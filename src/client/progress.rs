//! The terminal side of the client commands: a one-line progress bar on
//! stderr (only when stderr is a terminal), and retry/fallback notes that do
//! not tear the bar.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::swift::Session;
use super::upload::Progress;

/// Whether a progress bar is being drawn (notes then clear its line first).
static DRAWING: AtomicBool = AtomicBool::new(false);

/// Prints one note line on stderr, above the progress bar if there is one.
pub fn note(line: &str) {
    let mut err = std::io::stderr().lock();
    if DRAWING.load(Ordering::Relaxed) {
        let _ = write!(err, "\r\x1b[K");
    }
    let _ = writeln!(err, "paco: {line}");
}

/// Human-readable bytes.
pub fn human(n: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A progress bar drawn by its own thread until [`Bar::finish`].
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Starts drawing when `enabled` and stderr is a terminal; otherwise a
    /// bar that draws nothing.
    pub fn start(enabled: bool, session: Arc<Session>, progress: Arc<Progress>, sent: bool) -> Bar {
        let stop = Arc::new(AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return Bar { stop, thread: None };
        }
        DRAWING.store(true, Ordering::Relaxed);
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut last = (0u64, Instant::now());
            let mut rate = 0.0;
            while !s.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let c = &session.counters;
                let bytes = if sent {
                    c.bytes_sent.load(Ordering::Relaxed)
                } else {
                    c.bytes_received.load(Ordering::Relaxed)
                };
                let now = Instant::now();
                let dt = now.duration_since(last.1).as_secs_f64();
                if dt >= 1.0 {
                    rate = (bytes - last.0) as f64 / dt;
                    last = (bytes, now);
                }
                let total = progress.total.load(Ordering::Relaxed);
                let of = if progress.total_known.load(Ordering::Relaxed) && total > 0 {
                    format!(" / {} ({:.0}%)", human(total as f64), {
                        100.0 * (bytes.min(total) as f64) / total as f64
                    })
                } else {
                    String::new()
                };
                let segs = progress.segments_total.load(Ordering::Relaxed);
                let seg = format!(
                    "segment {}{}",
                    progress.segments_done.load(Ordering::Relaxed) + 1,
                    if segs > 0 {
                        format!("/{segs}")
                    } else {
                        String::new()
                    }
                );
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[K[{:6.1}s] {}{of}  {}/s  {seg}  retries {}",
                    start.elapsed().as_secs_f64(),
                    human(bytes as f64),
                    human(rate),
                    c.retries.load(Ordering::Relaxed)
                );
                let _ = err.flush();
            }
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        });
        Bar {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops drawing and clears the line.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        DRAWING.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(512.0), "512 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
    }
}
