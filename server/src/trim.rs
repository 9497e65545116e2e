//! Hands back to the kernel the memory glibc's allocator keeps after the
//! server freed it.
//!
//! glibc gives a thread's freed memory back only from the top of that
//! thread's arena. What the start-up (opening and checking the store,
//! resuming runs), a dashboard's query or a report allocated and freed below
//! an allocation that lives on stays resident for the life of the process:
//! about a quarter of the server's anonymous memory at rest (BENCHMARKS.md,
//! seventeenth session). `malloc_trim(0)` walks every arena and returns each
//! whole free page (`MADV_DONTNEED`); live allocations are not moved.
//!
//! The store's writer trims after each round of roll-ups and pruning, its one
//! burst (at its start, every minute, and when a flush asks for one). The
//! service's job trims [`FIRST_TRIM_AFTER`] the start and then
//! every [`TRIM_EVERY`], for the rest (a dashboard's queries, a report, a
//! server without a store), on the async thread: where little is free it is
//! microseconds of work (BENCHMARKS.md), and a blocking-pool thread would
//! cost what it gives back (a thread of its own, its stack, an arena of its
//! own).
//!
//! This is the workspace's one `unsafe` call: `malloc_trim` takes no pointer
//! and glibc serialises it with every other allocator call (it locks each
//! arena in turn), so no caller-side condition can make it unsound. Off glibc
//! (musl's allocator returns memory itself) it does nothing.
//!
//! # Layout
//! - [`release`]: one trim, whether anything came back.
//! - [`run`]: the service's periodic job.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long after the start the first trim runs: the start-up's blocking
/// steps (the store's check, resuming runs, the alerts' catch-up) are done,
/// and the blocking pool's threads that ran them have ended (tokio keeps an
/// idle one 10 s), freeing what they held.
pub const FIRST_TRIM_AFTER: Duration = Duration::from_secs(15);

/// How often the allocator is trimmed after that: what a burst (a dashboard
/// opened, a report) freed goes back within a minute.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Asks glibc to give every whole free page of every arena back to the
/// kernel; whether it gave any back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and touches only glibc's own free
    // lists, under each arena's lock; any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Elsewhere the allocator returns memory itself (musl) or has no such call.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release() -> bool {
    false
}

/// Trims after [`FIRST_TRIM_AFTER`], then every `every`, until `shutdown`.
pub async fn run(every: Duration, shutdown: CancellationToken) {
    let first = tokio::time::Instant::now() + FIRST_TRIM_AFTER;
    let mut ticks = tokio::time::interval_at(first, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let started = std::time::Instant::now();
        let released = release();
        tracing::debug!("allocator trimmed in {:?} (memory given back: {released})", started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This process's resident anonymous memory, in KiB.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn anonymous_kib() -> u64 {
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").expect("smaps_rollup");
        rollup
            .lines()
            .find_map(|line| line.strip_prefix("Anonymous:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("an Anonymous line")
    }

    /// 64 MiB freed below a block that stays allocated is kept resident by
    /// glibc (it gives back only the top of an arena) until a trim, which
    /// gives most of it back. Other tests of this binary allocate beside it
    /// (and a store's writer trims after its roll-ups), so the bounds are far
    /// from both sides, and whether the memory was still resident just
    /// before the trim is said, not asserted.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_trim_gives_back_what_was_freed_below_a_live_block() {
        const BLOCK: usize = 16 * 1024;
        const BLOCKS: usize = 4 * 1024;
        // On a thread of its own: usually an arena of its own (glibc shares
        // arenas once threads outnumber eight per core).
        std::thread::spawn(|| {
            let mut blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![(i % 200) as u8 + 1; BLOCK]).collect();
            let pin = vec![1u8; BLOCK];
            let full = anonymous_kib();
            blocks.clear();
            blocks.shrink_to_fit();
            let freed = anonymous_kib();
            release();
            let trimmed = anonymous_kib();
            assert!(
                full.saturating_sub(trimmed) > 32 * 1024,
                "64 MiB freed and trimmed, yet {} KiB given back ({full} KiB with the blocks, {freed} KiB \
                 freed, {trimmed} KiB trimmed)",
                full.saturating_sub(trimmed)
            );
            drop(pin);
        })
        .join()
        .expect("the measuring thread");
    }

    /// The job waits for its first moment and ends at shutdown.
    #[tokio::test]
    async fn the_job_ends_at_shutdown() {
        let shutdown = CancellationToken::new();
        let job = tokio::spawn(run(TRIM_EVERY, shutdown.clone()));
        tokio::task::yield_now().await;
        assert!(!job.is_finished());
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), job)
            .await
            .expect("the job ends at shutdown")
            .expect("the job does not panic");
    }

    /// `unsafe_code` is `deny`, not `forbid`, for this module's one call: no
    /// other source of the workspace may opt out of it.
    #[test]
    fn no_other_source_allows_unsafe_code() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources = vec![root.clone()];
        let mut allowing = Vec::new();
        while let Some(dir) = sources.pop() {
            for entry in std::fs::read_dir(&dir).expect("a workspace directory").flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() {
                    if !matches!(name.to_str(), Some("target" | "node_modules" | ".git" | "dist")) {
                        sources.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs")
                    && !path.ends_with("server/src/trim.rs")
                    && std::fs::read_to_string(&path).is_ok_and(|text| {
                        text.contains(concat!("allow(", "unsafe_code)"))
                            || text.contains(concat!("expect(", "unsafe_code)"))
                    })
                {
                    allowing.push(path);
                }
            }
        }
        assert!(allowing.is_empty(), "sources that allow unsafe code: {allowing:?}");
    }
}
