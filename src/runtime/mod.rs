//! Thread-per-core runtime: one pinned worker thread per core, each with its
//! own monoio runtime and its own `SO_REUSEPORT` listener, serving every
//! connection it accepts from start to end on that thread.

pub mod closing;
pub mod iowq;
pub mod shutdown;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};
use tracing::{debug, info, warn};

use crate::config::Driver;
use crate::http::conn::{serve, Conn, Handler};
use crate::http::Limits;
use shutdown::{LocalShutdown, ShutdownFlag};

/// What each worker needs to start.
#[derive(Clone)]
pub struct WorkerSpec {
    /// Number of workers.
    pub workers: usize,
    /// Pin worker i to core i (modulo the core count).
    pub pin: bool,
    /// Driver choice.
    pub driver: Driver,
    /// Connection cap per worker.
    pub max_connections: usize,
    /// io-wq threads per io_uring worker for blocking file operations.
    pub io_wq_max_workers: u32,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// HTTP limits.
    pub limits: Limits,
}

/// The CPUs this process may run on (its affinity mask, as set by
/// `taskset` or a cgroup), in order. Worker i is pinned to the i-th of
/// them: pinning to CPU i itself would move a worker started with
/// `taskset -c 1` onto CPU 0, next to whatever was kept off CPU 1.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live cpu_set_t of the size given.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    let cpus: Vec<usize> = if rc == 0 {
        // SAFETY: CPU_ISSET reads the set filled above, within CPU_SETSIZE.
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
            .collect()
    } else {
        Vec::new()
    };
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    cpus
}

/// Which driver the runtimes will use, decided once at start-up.
pub fn resolve_driver(choice: Driver) -> io::Result<&'static str> {
    let uring = monoio::utils::detect_uring();
    match choice {
        Driver::Auto if uring => Ok("io_uring"),
        Driver::Auto | Driver::Epoll => Ok("epoll"),
        Driver::IoUring if uring => Ok("io_uring"),
        Driver::IoUring => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "driver io_uring requested but this kernel does not support it",
        )),
    }
}

/// Binds a listener with `SO_REUSEPORT` so every worker can hold its own
/// and the kernel spreads connections across them.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Binds one listener per worker on `addr` (port 0 resolves to one free
/// port shared by all) and returns them with the address actually bound.
pub fn bind_all(
    addr: SocketAddr,
    n: usize,
) -> io::Result<(Vec<std::net::TcpListener>, SocketAddr)> {
    let first = bind_reuseport(addr)?;
    let bound = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..n {
        all.push(bind_reuseport(bound)?);
    }
    Ok((all, bound))
}

/// Starts the workers; each builds its handler with `make_handler` on its
/// own thread (handlers are `!Send`).
pub fn start<H, F>(
    spec: WorkerSpec,
    listeners: Vec<std::net::TcpListener>,
    driver: &'static str,
    flag: ShutdownFlag,
    make_handler: F,
) -> io::Result<Vec<JoinHandle<()>>>
where
    H: Handler + 'static,
    F: Fn(usize) -> H + Send + Sync + 'static,
{
    let make_handler = Arc::new(make_handler);
    let cpus = allowed_cpus();
    let mut handles = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let spec = spec.clone();
        let flag = flag.clone();
        let make_handler = make_handler.clone();
        let cpus = cpus.clone();
        let handle = std::thread::Builder::new()
            .name(format!("paco-worker-{i}"))
            .spawn(move || {
                if spec.pin {
                    let cpu = cpus[i % cpus.len()];
                    if let Err(e) = monoio::utils::bind_to_cpu_set(Some(cpu)) {
                        warn!(worker = i, "could not pin worker: {e:?}");
                    }
                }
                let result = match driver {
                    "io_uring" => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                        .enable_timer()
                        .build()
                        .map(|mut rt| {
                            FILE_IO_OFF_THREAD.set(true);
                            if let Err(e) = iowq::set_bounded_workers(spec.io_wq_max_workers) {
                                warn!(worker = i, "could not raise the io-wq worker limit: {e}");
                            }
                            rt.block_on(worker_main(i, spec, listener, flag, make_handler))
                        }),
                    _ => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                        .enable_timer()
                        .build()
                        .map(|mut rt| {
                            rt.block_on(worker_main(i, spec, listener, flag, make_handler))
                        }),
                };
                if let Err(e) = result {
                    tracing::error!(worker = i, "runtime failed to start: {e}");
                }
            })?;
        handles.push(handle);
    }
    Ok(handles)
}

thread_local! {
    static FILE_IO_OFF_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this worker's file I/O waits off the thread (io_uring): a write
/// that waits for the device (`O_DIRECT`) then blocks no one. The epoll
/// driver runs file syscalls inline, where such a write would stall every
/// connection of the worker.
pub fn file_io_off_thread() -> bool {
    FILE_IO_OFF_THREAD.get()
}

async fn worker_main<H, F>(
    id: usize,
    spec: WorkerSpec,
    listener: std::net::TcpListener,
    flag: ShutdownFlag,
    make_handler: Arc<F>,
) where
    H: Handler + 'static,
    F: Fn(usize) -> H,
{
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(worker = id, "listener: {e}");
            return;
        }
    };
    let handler = Rc::new(make_handler(id));
    let limits = Rc::new(spec.limits.clone());
    let local = Rc::new(LocalShutdown::new());
    let open = Rc::new(Cell::new(0usize));
    debug!(worker = id, "accepting");
    // The accept is never raced against a timer: cancelling an io_uring
    // accept that already completed would drop the connection on the floor.
    // Shutdown instead calls shutdown(2) on the listening socket (see
    // `wake_listeners`), which makes the pending accept fail.
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(_) if flag.is_set() => break,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(worker = id, "accept failed: {e}");
                monoio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if flag.is_set() {
            // Accepted in the instant shutdown began: still serve it.
            open.set(open.get() + 1);
            let (handler, limits, local, open) =
                (handler.clone(), limits.clone(), local.clone(), open.clone());
            monoio::spawn(async move {
                serve(Conn::new(stream, limits), &*handler, &local).await;
                open.set(open.get() - 1);
            });
            break;
        }
        let _ = stream.set_nodelay(true);
        if open.get() >= spec.max_connections {
            warn!(worker = id, %peer, "connection cap reached; refusing");
            monoio::spawn(refuse(stream));
            continue;
        }
        open.set(open.get() + 1);
        let (handler, limits, local, open) =
            (handler.clone(), limits.clone(), local.clone(), open.clone());
        monoio::spawn(async move {
            serve(Conn::new(stream, limits), &*handler, &local).await;
            open.set(open.get() - 1);
        });
    }
    drop(listener);
    local.trigger();
    let deadline = Instant::now() + spec.shutdown_grace;
    while open.get() > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(20)).await;
    }
    if open.get() > 0 {
        warn!(
            worker = id,
            open = open.get(),
            "shutdown grace over; dropping connections"
        );
    } else {
        // Whether uploads on this worker met in SIMD lanes under the load
        // it saw: the figure that says if multi-buffer MD5 paid off.
        let md5 = crate::obj::receive::md5_batch_stats();
        info!(
            worker = id,
            md5_jobs = md5.jobs,
            md5_batched = md5.batched,
            md5_passes = md5.passes,
            "worker stopped"
        );
    }
}

/// Wakes every worker blocked in accept once the shutdown flag is set:
/// shutdown(2) on a listening socket fails its pending accepts. `fds` are
/// duplicates of the workers' listeners, kept by the main thread.
pub fn wake_listeners(fds: &[std::net::TcpListener]) {
    use std::os::fd::AsRawFd;
    for l in fds {
        // SAFETY: a valid descriptor we own; shutdown has no memory effects.
        unsafe {
            libc::shutdown(l.as_raw_fd(), libc::SHUT_RD);
        }
    }
}

/// Answers 503 on a connection over the cap and closes it.
async fn refuse(mut stream: monoio::net::TcpStream) {
    use monoio::io::AsyncWriteRentExt;
    let body = "<html><h1>Service Unavailable</h1><p>Too many connections.</p></html>";
    let trans_id = crate::http::response::new_trans_id();
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Length: {}\r\nX-Trans-Id: {trans_id}\r\nX-Openstack-Request-Id: {trans_id}\r\nDate: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        body
    );
    let _ = monoio::time::timeout(Duration::from_secs(1), stream.write_all(msg.into_bytes())).await;
}

/// Runs `f` on an io_uring runtime (where the kernel has it) and on the
/// epoll one, both with timers: unit tests of file and socket I/O run on
/// both drivers, as workers may use either.
#[cfg(test)]
pub(crate) fn on_both_drivers<F: std::future::Future>(f: impl Fn() -> F) {
    if let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .build()
    {
        rt.block_on(f());
    }
    monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(f());
}

#[cfg(test)]
mod tests {
    #[test]
    fn allowed_cpus_follow_the_affinity_mask() {
        let all = super::allowed_cpus();
        assert!(!all.is_empty());
        let last = *all.last().expect("a cpu");
        let pinned = std::thread::spawn(move || {
            monoio::utils::bind_to_cpu_set(Some(last)).expect("pin");
            super::allowed_cpus()
        })
        .join()
        .expect("thread");
        assert_eq!(pinned, vec![last]);
    }
}
