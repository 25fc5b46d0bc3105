//! The feed's own threads: websocket connections run apart from intake, so fan-out cannot starve it.
//!
//! Fan-out work grows with subscribers × events: at a few thousand events a
//! second to a thousand consoles it can use every core the process has. On
//! the runtime that also serves HTTP, a burst like that left 112 reports
//! waiting for seconds behind websocket writes (the fan-out benchmark saw
//! POSTs time out). Connection tasks therefore run on a runtime of their own
//! with a bounded number of worker threads (by default half the cores, at
//! least one), and HTTP handlers, the writer and the timers keep the rest.
//! An overloaded feed then falls behind, and its slow subscribers are
//! dropped and catch up by sequence, while intake keeps its latency.
//!
//! More feed threads do not help on two cores: with one thread per core the
//! feed saturated at 2.1–2.8 M frames/s against 3.0–3.2 M with one (the
//! threads contend for the broadcast channel and the scheduler), the feed's
//! p99 at 1,000 reports/s to 1,000 consoles was about the same (58–103 ms
//! against 54–124 ms) and intake's POST p99 under that load was higher
//! (28–49 ms against 21–34 ms; fan-out benchmark, 2026-12-04).
//!
//! The feed's threads also run at a lower scheduling priority (a nice value
//! [`FEED_NICE_ABOVE_INTAKE`] above the process's): threads of their own are
//! not enough on two cores, where the kernel still shares each core fairly
//! between a busy feed thread and the threads that answer a 112 report. With
//! 10,000 subscribers at 1,000 reports/s the POSTs' p99 was 166-211 ms at
//! equal priority and 81-93 ms lowered (alternating fan-out benchmark runs,
//! 2026-12-04).
//!
//! The sockets stay registered with the main runtime's I/O driver; only the
//! tasks that read and write them run here.

use anyhow::Context;

/// How much nicer than the rest of the process the feed's threads are: when
/// they compete for a core with intake, the kernel gives them about a tenth
/// of it (CFS weights 110 against 1,024 at nice 10 and 0); an idle core they
/// have to themselves.
pub const FEED_NICE_ABOVE_INTAKE: i32 = 10;

/// Feed threads when none are configured: half the cores, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// A runtime for connection tasks; shut down (without blocking) when dropped.
#[derive(Debug)]
pub struct FeedRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl FeedRuntime {
    pub fn start(threads: usize) -> anyhow::Result<FeedRuntime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("feed")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .context("starting the feed runtime")?;
        Ok(FeedRuntime {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// A handle to spawn connection tasks on (cheap to clone).
    pub fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Connection tasks still alive (each ends when its socket closes).
    pub fn alive_tasks(&self) -> usize {
        self.handle.metrics().num_alive_tasks()
    }
}

/// Lowers the calling thread's priority (only its own: on Linux a thread id
/// is a `setpriority` target of its own) below the main thread's. Relative to
/// the main thread, not to the thread that started this one, which may be a
/// feed thread already lowered.
fn lower_priority() {
    let main = Some(rustix::process::getpid());
    let thread = Some(rustix::thread::gettid());
    let lowered = rustix::process::getpriority_process(main)
        .and_then(|nice| rustix::process::setpriority_process(thread, (nice + FEED_NICE_ABOVE_INTAKE).min(19)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "feed thread keeps the process's priority");
    }
}

impl Drop for FeedRuntime {
    fn drop(&mut self) {
        // Dropping a runtime may block, which is refused inside async code
        // (tests drop an App there); by now every connection has been told to
        // close, so the remaining tasks are simply dropped.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_their_own_lower_priority_threads_and_the_runtime_drops_inside_async_code() {
        let nice_of_this_thread = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).ok();
        let before =
            rustix::process::getpriority_process(Some(rustix::process::getpid())).expect("main thread's nice value");
        let feed = FeedRuntime::start(1).expect("feed runtime");
        let (tx, rx) = tokio::sync::oneshot::channel();
        feed.handle().spawn(async move {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send((name, nice_of_this_thread()));
        });
        let (name, nice) = rx.await.expect("ran");
        assert_eq!(name.as_deref(), Some("feed"));
        let expected = (before + FEED_NICE_ABOVE_INTAKE).min(19);
        assert_eq!(nice, Some(expected), "feed threads yield to intake");
        assert_eq!(
            nice_of_this_thread(),
            Some(before),
            "only the feed's threads are lowered"
        );
        drop(feed); // inside a runtime: must not panic
    }
}
