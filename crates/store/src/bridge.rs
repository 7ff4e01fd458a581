//! The [`Registry`](ferry_core::Registry) trait is synchronous (train is a plain
//! program; serve calls it from blocking threads) and `object_store` is async: each
//! registry owns a small runtime and waits on it.

use std::future::Future;

/// A runtime of its own, safe to wait on from any thread, also one already inside
/// another runtime (an actix worker, a `spawn_blocking` thread).
#[derive(Debug)]
pub(crate) struct Bridge {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Bridge {
    /// A two-thread runtime for the store's I/O.
    pub(crate) fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferry-store")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` to completion and returns its output.
    pub(crate) fn block<T: Send>(&self, future: impl Future<Output = T> + Send) -> T {
        let Some(runtime) = &self.runtime else {
            unreachable!("the runtime is only taken on drop")
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(future);
        }
        // Waiting inside another runtime's thread is refused by tokio: wait on a
        // thread of our own instead (a few microseconds next to a network round trip).
        std::thread::scope(|s| match s.spawn(|| runtime.block_on(future)).join() {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The registry may be dropped inside serve's runtime, where a blocking shutdown
        // would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
