//! The tick loop's thread, `perfmon-sampler`: it sleeps out the sink's cadence,
//! reads the machine and publishes, all on the one thread.
//!
//! Why a thread of its own rather than a task that hands each tick to the
//! blocking pool: every hand-off wakes a parked thread, and on a VM each wake
//! costs about ten µs (the switch, the hypervisor's IPIs and timer writes):
//! eight a second were about 100 µs, a third of the tick's reads
//! (BENCHMARKS.md). As a task, a tick woke an async worker for the timer, a
//! blocking thread for the reads, a worker again for the join, and the workers
//! woke each other to look for work. Here the thread wakes by its own timeout,
//! and the async side is woken only for what it does: the sockets' frames, and
//! the rare cadence change or shutdown handed in through an [`Alarm`].

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Sink, Source};

/// The tick loop over any [`Source`], made by `make` (on the sampler thread: the
/// real one reads /proc), feeding `sink` until `shutdown` is cancelled (or this
/// future is dropped). If sampling panics, the sink is told and a fresh source
/// is made for the next tick. Panics if the thread cannot be started or ends on
/// its own (a panic outside a tick's reads): the server's supervisor starts the
/// loop again.
pub async fn run<S: Source, K: Sink>(
    sink: Arc<K>,
    shutdown: CancellationToken,
    make: impl Fn() -> S + Send + Sync + Clone + 'static,
) {
    let alarm = Arc::new(Alarm::default());
    // Dropped when the thread's body ends, however it ends.
    let (alive, mut ended) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("perfmon-sampler".into())
        .spawn({
            let (sink, alarm) = (sink.clone(), alarm.clone());
            move || {
                let _alive = alive;
                ticks(&*sink, &alarm, make);
            }
        })
        .expect("start the sampler thread");
    // Stops the thread however this future ends: shutdown, or dropped with its
    // runtime (a test's), which would otherwise leave it ticking.
    let _stop = StopOnDrop(alarm.clone());
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = sink.cadence_changed() => alarm.ring(),
            _ = &mut ended => panic!("the sampler thread ended on its own"),
        }
    }
    alarm.stop();
    // The tick in progress, if any, finishes first: joined off the workers.
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
}

/// The sampler thread's loop.
fn ticks<S: Source, K: Sink>(sink: &K, alarm: &Alarm, make: impl Fn() -> S) {
    let mut source: Option<S> = None;
    loop {
        if source.is_none() {
            // A panic here (an unreadable /proc) is tried again next tick.
            source = std::panic::catch_unwind(AssertUnwindSafe(&make)).ok();
        }
        if !alarm.wait(sink.interval()) {
            return;
        }
        let Some(mut current) = source.take() else { continue };
        let run_pids = sink.live_pids();
        // Publishing is on this thread too (the live runs' perf counters are
        // read there, every project's frame serialised): never on an async worker.
        let tick = std::panic::catch_unwind(AssertUnwindSafe(move || {
            let sample = current.sample(&run_pids);
            sink.publish(sample);
            current
        }));
        match tick {
            Ok(current) => source = Some(current),
            Err(panic) => {
                // A panic inside sysinfo or NVML: start from a fresh reader next
                // tick rather than leave every client without data.
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("no message");
                tracing::error!("sampling failed, restarting the sampler: {message}");
                sink.sampling_failed();
            }
        }
    }
}

/// What the async side tells the sampler thread between ticks.
#[derive(Debug, Default)]
struct Alarm {
    state: Mutex<AlarmState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct AlarmState {
    /// The cadence may have changed: tick now (kept until a wait takes it, as a
    /// `Notify` keeps its permit).
    rung: bool,
    /// The loop ends.
    stopped: bool,
}

impl Alarm {
    /// Wakes the thread for a tick now.
    fn ring(&self) {
        self.lock().rung = true;
        self.changed.notify_one();
    }

    /// Ends the loop at its next wait.
    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_one();
    }

    /// Waits out `interval`, or less if rung; `false` once stopped.
    fn wait(&self, interval: Duration) -> bool {
        let deadline = Instant::now() + interval;
        let mut state = self.lock();
        loop {
            if state.stopped {
                return false;
            }
            if std::mem::take(&mut state.rung) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            state = self.changed.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }

    fn lock(&self) -> MutexGuard<'_, AlarmState> {
        // The state is two flags: a panic elsewhere cannot leave it torn.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Stops the alarm's loop when dropped.
struct StopOnDrop(Arc<Alarm>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::HostSample;

    /// A sink that panics when asked for its cadence: outside any tick.
    struct Broken;

    impl Sink for Broken {
        fn interval(&self) -> Duration {
            panic!("a sink that cannot say its cadence")
        }
        fn live_pids(&self) -> Vec<u32> {
            Vec::new()
        }
        async fn cadence_changed(&self) {
            std::future::pending().await
        }
        fn publish(&self, _: HostSample) {}
        fn sampling_failed(&self) {}
    }

    struct Nothing;

    impl Source for Nothing {
        fn sample(&mut self, _: &[u32]) -> HostSample {
            HostSample::default()
        }
    }

    #[tokio::test]
    async fn a_sampler_thread_that_dies_outside_a_tick_ends_the_loop_for_the_supervisor() {
        let shutdown = CancellationToken::new();
        let sampler = tokio::spawn(run(Arc::new(Broken), shutdown.clone(), || Nothing));
        let ended = tokio::time::timeout(Duration::from_secs(10), sampler).await.expect("the loop ends");
        assert!(ended.expect_err("the loop panics").is_panic(), "so the server's supervisor restarts it");
    }

    #[test]
    fn a_wait_ends_at_its_interval_at_a_ring_or_at_a_stop() {
        let alarm = Arc::new(Alarm::default());
        let start = Instant::now();
        assert!(alarm.wait(Duration::from_millis(30)), "the interval passed");
        assert!(start.elapsed() >= Duration::from_millis(30));

        // A ring before the wait is kept for it; one wait takes it.
        alarm.ring();
        let start = Instant::now();
        assert!(alarm.wait(Duration::from_secs(60)));
        assert!(start.elapsed() < Duration::from_secs(30), "the ring cut the wait short");

        // A ring from another thread ends a wait in progress.
        let ringer = {
            let alarm = alarm.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                alarm.ring();
            })
        };
        assert!(alarm.wait(Duration::from_secs(60)));
        ringer.join().expect("ringer");

        alarm.stop();
        assert!(!alarm.wait(Duration::from_secs(60)), "stopped");
        alarm.ring();
        assert!(!alarm.wait(Duration::from_secs(60)), "a stop outlasts later rings");
    }
}
