//! `perf stat`-style counters on one run's process tree: what `perf stat --
//! CMD` prints, for `perfmon run -- CMD` and `perfmon register PID`.
//!
//! # What is opened
//! The four software events (task-clock, context-switches, cpu-migrations,
//! page-faults) always, and the six hardware ones (cycles, instructions,
//! cache-references, cache-misses, branches, branch-misses) where a PMU
//! exists. Each is its own counter on one task, any CPU, with `inherit`: every
//! process and thread the task creates after the open is counted too, and
//! their counts fold into the counter as they exit — even those nobody waits
//! for. One event per descriptor, never a group: the kernel refused group
//! reads of inherited counters before 4.13, and a group of six hardware events
//! may never fit a PMU at once. So each event is scaled on its own from its
//! `time_enabled`/`time_running` ([`super::perf::scaled_delta`] from zero), as
//! `perf stat` scales a multiplexed counter. An event that cannot be opened
//! keeps its own reason and never takes the others with it (ENOENT for the
//! hardware ones on a VM without a PMU).
//!
//! # From when
//! - [`CountedFrom::Start`]: opened disabled with `enable_on_exec` on the
//!   process `perfmon run` holds (`cli::hold`): the kernel enables the counters
//!   at its next `exec`, the command's, so they count from the command's first
//!   instruction and not the hold's, as `perf stat -- CMD` does (it opens on
//!   its forked child the same way). The hold execs from its main thread,
//!   whose task keeps the pid, so one counter per event on `pid` suffices.
//! - [`CountedFrom::Registration`]: enabled at once on a process already
//!   running. A counter on a pid counts that one thread, so, as `perf stat -p`
//!   does, each event is opened on every thread listed in `/proc/PID/task`
//!   (at most [`MAX_THREADS`]) and the threads' counts are summed. What ran
//!   before, and children that already existed, are not counted.
//!
//! Kernel mode is counted, as `perf stat` counts it as root (a context switch
//! or a fault happens in the kernel). Where `kernel.perf_event_paranoid`
//! refuses that, the event is opened for user mode only, as `perf stat` falls
//! back to `:u`, and its reason says so.
//!
//! # Cost
//! Ten descriptors per counted thread; opening is ten `perf_event_open` calls
//! and a read is ten `read(2)`s of a few µs in all: fine on any thread.
//!
//! # Layout
//! - [`RunPerfCounters`]: [`open`](RunPerfCounters::open) (never fails: each
//!   event carries whether it counts and why not) and
//!   [`read`](RunPerfCounters::read) for a `shared::why::RunPerf`.
//! - [`TASK_CLOCK`], the one event name the machine-wide counters lack.
//! - Pure helpers: [`event_reading`] (scaling), [`run_open_failure_reason`].

use std::collections::BTreeMap;
use std::io;

use nix::errno::Errno;
use perf_event::events::{Hardware, Software};
use perf_event::{Builder, Counter};
use shared::depth::perf as names;
use shared::why::{CountedFrom, RunPerf, RunPerfEvent};

use super::perf::{EventKind, RawCount, ipc, open_failure_reason, scaled_delta};

/// The CPU time the run's tasks were on a CPU, in msec (`perf stat`'s first
/// line): the per-task clock, where the machine-wide counters use cpu-clock.
pub const TASK_CLOCK: &str = "task-clock";

/// Most threads a registered process may have to be counted: ten descriptors
/// each, and a server may hold counters for several runs under a 1024
/// descriptor limit.
pub const MAX_THREADS: usize = 64;

/// The event to ask the kernel for.
#[derive(Clone, Copy)]
enum Source {
    Hw(Hardware),
    Sw(Software),
}

/// One event a run is counted with.
pub struct Spec {
    /// `perf stat`'s name for it (the contract's key).
    name: &'static str,
    /// What to open.
    source: Source,
}

impl Spec {
    fn kind(&self) -> EventKind {
        match self.source {
            Source::Hw(_) => EventKind::Hardware,
            Source::Sw(_) => EventKind::Software,
        }
    }
}

/// The events, in `perf stat`'s default order.
const EVENTS: [Spec; 10] = [
    Spec { name: TASK_CLOCK, source: Source::Sw(Software::TASK_CLOCK) },
    Spec { name: names::CONTEXT_SWITCHES, source: Source::Sw(Software::CONTEXT_SWITCHES) },
    Spec { name: names::CPU_MIGRATIONS, source: Source::Sw(Software::CPU_MIGRATIONS) },
    Spec { name: names::PAGE_FAULTS, source: Source::Sw(Software::PAGE_FAULTS) },
    Spec { name: names::CYCLES, source: Source::Hw(Hardware::CPU_CYCLES) },
    Spec { name: names::INSTRUCTIONS, source: Source::Hw(Hardware::INSTRUCTIONS) },
    Spec { name: names::BRANCHES, source: Source::Hw(Hardware::BRANCH_INSTRUCTIONS) },
    Spec { name: names::BRANCH_MISSES, source: Source::Hw(Hardware::BRANCH_MISSES) },
    Spec { name: names::CACHE_REFERENCES, source: Source::Hw(Hardware::CACHE_REFERENCES) },
    Spec { name: names::CACHE_MISSES, source: Source::Hw(Hardware::CACHE_MISSES) },
];

/// Opens `spec` on thread `tid`, inherited, counting kernel mode when
/// `kernel`: disabled until the next exec for `Start`, enabled now otherwise.
fn open_counter(spec: &Spec, tid: i32, kernel: bool, from: CountedFrom) -> io::Result<Counter> {
    let mut builder = match spec.source {
        Source::Hw(event) => Builder::new(event),
        Source::Sw(event) => Builder::new(event),
    };
    // `Builder::new` already asks for time enabled/running, so a multiplexed
    // count can be scaled, and excludes the hypervisor, as `perf stat` does.
    builder.observe_pid(tid).any_cpu().inherit(true).exclude_kernel(!kernel);
    match from {
        CountedFrom::Start => builder.enabled(false).enable_on_exec(true),
        CountedFrom::Registration => builder.enabled(true),
    };
    builder.build()
}

/// Why a counter on a run's process could not be opened, in plain words: the
/// machine-wide wording ([`open_failure_reason`]) but where the process
/// matters (gone; another user's; paranoid levels for one's own processes).
pub fn run_open_failure_reason(
    kind: EventKind,
    errno: Option<i32>,
    paranoid: Option<i64>,
    detail: &str,
) -> String {
    match errno.map(Errno::from_raw) {
        Some(Errno::ESRCH) => "the process had already ended".to_string(),
        Some(Errno::EACCES | Errno::EPERM) => match paranoid {
            Some(level) if level >= 3 => format!(
                "kernel.perf_event_paranoid is {level}: perf events are off for unprivileged users; run as \
                 root or set it to ≤ 2"
            ),
            Some(level) => format!(
                "refused although kernel.perf_event_paranoid is {level}: counting another user's process needs \
                 root or CAP_PERFMON, or a container or seccomp policy forbids perf_event_open"
            ),
            None => "perf_event_open was refused and kernel.perf_event_paranoid cannot be read; run as root"
                .to_string(),
        },
        _ => open_failure_reason(kind, errno, paranoid, detail),
    }
}

/// Whether `err` is the kernel refusing permission.
fn refused(err: &io::Error) -> bool {
    matches!(err.raw_os_error().map(Errno::from_raw), Some(Errno::EACCES | Errno::EPERM))
}

/// One event, opened on every counted thread or not at all.
struct OpenEvent {
    /// Which event.
    spec: &'static Spec,
    /// One counter per counted thread (one for a held command); empty when
    /// it could not be opened.
    counters: Vec<Counter>,
    /// Why it is not counted (no counters), or what limits it (user mode only).
    note: Option<String>,
}

/// A run's `perf stat`-style counters: opened once on the run's process,
/// read at will (a read is cumulative: everything since the counters started).
pub struct RunPerfCounters {
    /// From when they count.
    from: CountedFrom,
    /// Each of [`EVENTS`], in order.
    events: Vec<OpenEvent>,
}

impl std::fmt::Debug for RunPerfCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counted: Vec<&str> =
            self.events.iter().filter(|e| !e.counters.is_empty()).map(|e| e.spec.name).collect();
        f.debug_struct("RunPerfCounters")
            .field("from", &self.from)
            .field("counted", &counted)
            .finish_non_exhaustive()
    }
}

impl RunPerfCounters {
    /// Opens every event on process `pid`: enabled at its next exec for
    /// `Start` (a held command), at once for `Registration`. Never fails: an
    /// event that cannot be opened says why when read.
    pub fn open(pid: u32, from: CountedFrom) -> RunPerfCounters {
        let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok());
        let Ok(pid) = i32::try_from(pid) else {
            return Self::unopened(from, &format!("{pid} is not a process id"));
        };
        let tids = match from {
            CountedFrom::Start => vec![pid],
            CountedFrom::Registration => match thread_ids(pid) {
                Some(tids) if tids.len() > MAX_THREADS => {
                    return Self::unopened(
                        from,
                        &format!(
                            "the process has {} threads; PerfMon counts processes of at most {MAX_THREADS} \
                             (one counter per thread and event)",
                            tids.len()
                        ),
                    );
                }
                Some(tids) => tids,
                None => return Self::unopened(from, "the process had already ended"),
            },
        };
        Self::open_with(&tids, from, paranoid, &mut |spec, tid, kernel| open_counter(spec, tid, kernel, from))
    }

    /// Counters where every event says `reason`.
    fn unopened(from: CountedFrom, reason: &str) -> RunPerfCounters {
        let events = EVENTS
            .iter()
            .map(|spec| OpenEvent { spec, counters: Vec::new(), note: Some(reason.to_string()) })
            .collect();
        RunPerfCounters { from, events }
    }

    /// Opens each event on every thread of `tids` (the process's first) with
    /// `open(spec, tid, kernel)`: the kernel's `perf_event_open`, or a test's.
    fn open_with(
        tids: &[i32],
        from: CountedFrom,
        paranoid: Option<i64>,
        open: &mut dyn FnMut(&Spec, i32, bool) -> io::Result<Counter>,
    ) -> RunPerfCounters {
        let events = EVENTS
            .iter()
            .map(|spec| {
                let mut kernel = true;
                let mut note = None;
                let mut counters = Vec::with_capacity(tids.len());
                for (n, &tid) in tids.iter().enumerate() {
                    let mut opened = open(spec, tid, kernel);
                    if n == 0
                        && let Err(err) = &opened
                        && refused(err)
                    {
                        // `perf stat`'s fallback: user mode only, said.
                        kernel = false;
                        opened = open(spec, tid, kernel);
                        if opened.is_ok() {
                            let level = paranoid.map_or("unreadable".to_string(), |l| l.to_string());
                            note = Some(format!(
                                "user mode only: kernel.perf_event_paranoid ({level}) refuses the kernel's part; \
                                 run as root or set it to ≤ 1"
                            ));
                        }
                    }
                    match opened {
                        Ok(counter) => counters.push(counter),
                        // A thread that ended since it was listed: nothing of
                        // it after registration is missed.
                        Err(err) if n > 0 && err.raw_os_error() == Some(Errno::ESRCH as i32) => {}
                        Err(err) => {
                            // Counted on some threads only is not the process's figure.
                            counters.clear();
                            note = Some(run_open_failure_reason(
                                spec.kind(),
                                err.raw_os_error(),
                                paranoid,
                                &err.to_string(),
                            ));
                            tracing::debug!("run perf event {} unavailable: {note:?}", spec.name);
                            break;
                        }
                    }
                }
                OpenEvent { spec, counters, note }
            })
            .collect();
        RunPerfCounters { from, events }
    }

    /// Every event since the counters started, scaled where the kernel
    /// multiplexed it; IPC when both instructions and cycles were counted.
    /// Blocking: one `read(2)` per counter, microseconds.
    pub fn read(&mut self) -> RunPerf {
        let mut events = BTreeMap::new();
        for event in &mut self.events {
            events.insert(event.spec.name.to_string(), event.read(self.from));
        }
        let value = |name: &str| events.get(name).and_then(|e: &RunPerfEvent| e.value);
        let ipc =
            ipc(value(names::INSTRUCTIONS), value(names::CYCLES)).map(|ipc| (ipc * 100.0).round() / 100.0);
        RunPerf { counted_from: self.from, events, ipc }
    }
}

impl OpenEvent {
    /// The event summed over its threads, as `perf stat -p` sums them.
    fn read(&mut self, from: CountedFrom) -> RunPerfEvent {
        if self.counters.is_empty() {
            return RunPerfEvent {
                available: false,
                reason: self.note.clone(),
                value: None,
                running_percent: None,
            };
        }
        let mut sum = RawCount::default();
        for counter in &mut self.counters {
            match counter.read_full() {
                Ok(data) => {
                    sum.count += data.count();
                    sum.enabled_ns += data.time_enabled().map_or(0, |t| t.as_nanos() as u64);
                    sum.running_ns += data.time_running().map_or(0, |t| t.as_nanos() as u64);
                }
                Err(err) => {
                    return RunPerfEvent {
                        available: true,
                        reason: Some(format!("reading the counter failed: {err}")),
                        value: None,
                        running_percent: None,
                    };
                }
            }
        }
        let (value, running_percent, why) = event_reading(sum, self.spec.name == TASK_CLOCK, from);
        RunPerfEvent { available: true, reason: why.or_else(|| self.note.clone()), value, running_percent }
    }
}

/// An event's value from its summed count (ns for `clock`, reported in msec
/// as `perf stat` does), scaled by `enabled / running` when multiplexed; its
/// running share 0–100; or why it has no value.
pub fn event_reading(
    sum: RawCount,
    clock: bool,
    from: CountedFrom,
) -> (Option<f64>, Option<f64>, Option<String>) {
    match scaled_delta(RawCount::default(), sum) {
        Some(delta) => {
            let value = if clock { delta.value / 1e6 } else { delta.value };
            (Some(crate::units::round1(value)), Some(crate::units::round1(delta.running * 100.0)), None)
        }
        None if sum.enabled_ns == 0 && from == CountedFrom::Start => (
            None,
            None,
            Some("not counted: the command never started (the counters start at its exec)".into()),
        ),
        None if sum.enabled_ns == 0 => (None, None, Some("not counted yet".into())),
        None => (
            None,
            Some(0.0),
            Some(
                "<not counted>: the kernel never had a hardware counter free for it (multiplexed out)".into(),
            ),
        ),
    }
}

/// The thread ids of process `pid` (`/proc/PID/task`), the process's own
/// first; `None` when it is gone.
fn thread_ids(pid: i32) -> Option<Vec<i32>> {
    let mut tids: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    if tids.is_empty() {
        return None;
    }
    tids.sort_unstable_by_key(|tid| (*tid != pid, *tid));
    Some(tids)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    /// A shell function that burns `$1` clock ticks of the calling (sub)shell's
    /// own CPU time, measured by itself: `/proc/self` opened by the shell's
    /// own redirection is that very process, and the count is relative, since
    /// exec keeps a process's CPU time.
    const BURN: &str = "burn() { read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/self/stat; end=$((u + s + $1)); \
                        while :; do read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u s _ < /proc/self/stat; \
                        [ $((u + s)) -ge $end ] && break; done; }";

    /// A shell that runs `before`, waits for a line on stdin (held, as
    /// `perfmon __hold` is), then execs `sh -c after`.
    fn held(before: &str, after: &str) -> Child {
        let script = format!("{BURN}; {before}; read -r _; exec sh -c '{BURN}; {after}'");
        Command::new("sh").args(["-c", &script]).stdin(Stdio::piped()).spawn().expect("sh runs")
    }

    /// Lets a [`held`] shell exec its command, and waits for it (at most 20 s).
    fn release_and_wait(mut child: Child) {
        child.stdin.take().expect("stdin").write_all(b"go\n").expect("the go line");
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().expect("waitable").is_none() {
            assert!(Instant::now() < deadline, "the command did not end within 20 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn value(perf: &RunPerf, name: &str) -> Option<f64> {
        perf.events.get(name).and_then(|e| e.value)
    }

    /// Whether this machine has a CPU PMU (hardware events open).
    fn has_pmu() -> bool {
        Builder::new(Hardware::CPU_CYCLES).build().is_ok()
    }

    /// The machine-wide wording for a VM without a PMU.
    fn pmu_reason() -> String {
        open_failure_reason(EventKind::Hardware, Some(Errno::ENOENT as i32), None, "")
    }

    #[test]
    fn a_held_command_is_counted_from_its_exec_with_the_children_it_forks() {
        // 0.3 s burnt before the exec must not count; 0.2 s in the command and
        // 0.2 s in a child it forks (which exits first) must.
        let child = held("burn 30", "burn 20 & burn 20; wait");
        let mut counters = RunPerfCounters::open(child.id(), CountedFrom::Start);
        let before = counters.read();
        assert_eq!(before.counted_from, CountedFrom::Start);
        assert_eq!(value(&before, TASK_CLOCK), None, "nothing counts before the exec");
        assert!(before.events[TASK_CLOCK].reason.as_deref().is_some_and(|r| r.contains("never started")));
        release_and_wait(child);
        let perf = counters.read();
        let clock = value(&perf, TASK_CLOCK).expect("task-clock counted");
        // Ticks are 10 ms: each burn is within a tick of its share; the exec
        // and sh's start add a few ms.
        assert!((380.0..600.0).contains(&clock), "task-clock {clock} ms for 0.4 s of CPU after the exec");
        for name in [names::CONTEXT_SWITCHES, names::CPU_MIGRATIONS, names::PAGE_FAULTS] {
            let event = &perf.events[name];
            assert!(event.available && event.value.is_some(), "{name}: {event:?}");
            assert_eq!(event.running_percent, Some(100.0), "{name}: software events are never multiplexed");
        }
        // Loading sh and forking touch fresh pages.
        assert!(value(&perf, names::PAGE_FAULTS).unwrap_or(0.0) >= 50.0, "{perf:?}");
        // The fork blocks the parent in `wait` at least once.
        assert!(value(&perf, names::CONTEXT_SWITCHES).unwrap_or(0.0) >= 1.0, "{perf:?}");
    }

    #[test]
    fn hardware_events_count_where_a_pmu_exists_and_say_why_not_where_none_does() {
        let child = held(":", "burn 5");
        let mut counters = RunPerfCounters::open(child.id(), CountedFrom::Start);
        release_and_wait(child);
        let perf = counters.read();
        assert_eq!(perf.events.len(), EVENTS.len());
        let hardware = [
            names::CYCLES,
            names::INSTRUCTIONS,
            names::BRANCHES,
            names::BRANCH_MISSES,
            names::CACHE_REFERENCES,
            names::CACHE_MISSES,
        ];
        if has_pmu() {
            for name in hardware {
                assert!(perf.events[name].available, "{name}: {:?}", perf.events[name]);
            }
            assert!(perf.ipc.is_some_and(|ipc| ipc > 0.0), "{perf:?}");
        } else {
            for name in hardware {
                let event = &perf.events[name];
                assert!(!event.available && event.value.is_none(), "{name}: {event:?}");
                assert_eq!(event.reason, Some(pmu_reason()), "{name}");
            }
            assert_eq!(perf.ipc, None);
        }
        // Whatever the PMU: the software events count beside them.
        assert!(value(&perf, TASK_CLOCK).is_some_and(|ms| ms >= 40.0), "{perf:?}");
    }

    #[test]
    fn one_refused_event_never_hides_the_others() {
        let child = held(":", "burn 5");
        let pid = i32::try_from(child.id()).expect("a pid");
        let errno = |e: Errno| Err(io::Error::from_raw_os_error(e as i32));
        let mut counters =
            RunPerfCounters::open_with(&[pid], CountedFrom::Start, Some(2), &mut |spec, tid, kernel| {
                match spec.name {
                    names::PAGE_FAULTS => errno(Errno::EACCES),
                    names::CPU_MIGRATIONS => errno(Errno::ENOENT),
                    // Refused with the kernel's part only: counted in user mode.
                    names::CONTEXT_SWITCHES if kernel => errno(Errno::EACCES),
                    _ => open_counter(spec, tid, kernel, CountedFrom::Start),
                }
            });
        release_and_wait(child);
        let perf = counters.read();
        let faults = &perf.events[names::PAGE_FAULTS];
        assert!(!faults.available && faults.value.is_none());
        assert!(
            faults.reason.as_deref().is_some_and(|r| r.contains("kernel.perf_event_paranoid is 2")),
            "{faults:?}"
        );
        let migrations = &perf.events[names::CPU_MIGRATIONS];
        assert_eq!(migrations.reason.as_deref(), Some("this kernel does not count this software event"));
        let switches = &perf.events[names::CONTEXT_SWITCHES];
        assert!(switches.available && switches.value.is_some(), "{switches:?}");
        assert!(switches.reason.as_deref().is_some_and(|r| r.starts_with("user mode only")), "{switches:?}");
        let clock = &perf.events[TASK_CLOCK];
        assert!(
            clock.available && clock.value.is_some_and(|ms| ms >= 40.0) && clock.reason.is_none(),
            "{clock:?}"
        );
    }

    #[test]
    fn a_registered_process_is_counted_on_every_thread_from_registration() {
        /// This thread's own CPU time, in 10 ms ticks (utime + stime).
        fn thread_ticks() -> u64 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("thread-self");
            let fields: Vec<&str> =
                stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
        }
        // This test's own thread is not the process's main thread: a counter
        // on the pid alone would miss what it burns.
        let mut counters = RunPerfCounters::open(std::process::id(), CountedFrom::Registration);
        // 0.2 s of this thread's CPU time, however busy the machine is.
        let end = thread_ticks() + 20;
        while thread_ticks() < end {}
        let perf = counters.read();
        assert_eq!(perf.counted_from, CountedFrom::Registration);
        let clock = value(&perf, TASK_CLOCK).expect("task-clock counted");
        // Ticks are 10 ms: at least 190 ms of it.
        assert!(clock >= 190.0, "task-clock {clock} ms for a thread that burnt 200 ms");

        let gone = RunPerfCounters::open(u32::MAX >> 1, CountedFrom::Registration).read();
        assert!(
            gone.events
                .values()
                .all(|e| !e.available && e.reason.as_deref() == Some("the process had already ended"))
        );
    }

    #[test]
    fn multiplexed_counts_are_scaled_and_clocks_read_in_msec() {
        let raw = |count, enabled_ns, running_ns| RawCount { count, enabled_ns, running_ns };
        assert_eq!(
            event_reading(raw(1_000, 2_000_000_000, 1_000_000_000), false, CountedFrom::Start),
            (Some(2_000.0), Some(50.0), None)
        );
        assert_eq!(
            event_reading(raw(1_000, 1_000_000_000, 1_000_000_000), false, CountedFrom::Start),
            (Some(1_000.0), Some(100.0), None)
        );
        // task-clock counts ns; `perf stat` shows msec.
        assert_eq!(
            event_reading(raw(2_000_000_000, 2_000_000_000, 2_000_000_000), true, CountedFrom::Start),
            (Some(2_000.0), Some(100.0), None)
        );
        let (value, running, why) = event_reading(raw(0, 0, 0), false, CountedFrom::Start);
        assert_eq!((value, running), (None, None));
        assert!(why.is_some_and(|w| w.contains("never started")));
        let (value, running, why) = event_reading(raw(0, 5_000, 0), false, CountedFrom::Registration);
        assert_eq!((value, running), (None, Some(0.0)));
        assert!(why.is_some_and(|w| w.starts_with("<not counted>")));
    }

    #[test]
    fn refusals_name_the_paranoid_level_or_the_process() {
        let reason = |errno: Errno, paranoid| {
            run_open_failure_reason(EventKind::Software, Some(errno as i32), paranoid, "")
        };
        assert!(reason(Errno::EACCES, Some(3)).contains("kernel.perf_event_paranoid is 3"));
        assert!(reason(Errno::EACCES, Some(2)).contains("another user's process"));
        assert_eq!(reason(Errno::ESRCH, None), "the process had already ended");
        assert_eq!(
            run_open_failure_reason(EventKind::Hardware, Some(Errno::ENOENT as i32), Some(2), ""),
            pmu_reason()
        );
    }

    #[test]
    fn the_counters_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<RunPerfCounters>();
    }
}
