//! Which of a run's processes have not run since their `stat` was last read,
//! so that the tick need not read it again.
//!
//! The tick reads each member of a run's tree: its `stat` gives the CPU times,
//! faults, threads and resident size. That is the longest text the kernel writes
//! for a process (about 12 µs a member cold, at the 1 s cadence), and most members
//! of a long run sleep most of the time: a shell waiting on its child, `make`
//! waiting on its jobs, an agent waiting on an API. A process that has not run
//! cannot have changed what its `stat` says of it:
//! - its CPU times and faults grow only while it runs;
//! - its reaped children's times grow when it reaps them, a `wait` it runs;
//! - its threads are made and ended by calls it runs;
//! - it becomes a zombie by running its exit.
//!
//! Its process CPU clock (`clock_getcpuclockid(3)`, read with `clock_gettime`)
//! tells whether it ran: the nanoseconds every thread of it, exited ones too,
//! has spent on a CPU — what each thread's `schedstat` shows first, summed by
//! the kernel. It is one system call that writes no text (about a third of a
//! `schedstat` read, which it replaced), it needs no permission (the kernel
//! lets any process read another's), and since it counts every thread, a
//! multi-threaded member is told too (`schedstat` is the leader thread's alone).
//!
//! The one figure that can change without the process running is its resident
//! size, which shrinks when the kernel reclaims or swaps its pages out; so every
//! member's `stat` is read again at least every [`REREAD_EVERY`].
//!
//! The clock is read before `stat`: a process that runs between the two
//! readings has a later `stat` than its recorded time on a CPU, and so its `stat`
//! is read again at the next tick (the other order could miss that run).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::time::ClockId;
use nix::unistd::Pid;

use super::procfs::{self, ProcFile, ProcStat};

/// The longest a member's `stat` is taken as it was last read while the member
/// has not run: its resident size may shrink without it running.
pub const REREAD_EVERY: Duration = Duration::from_secs(5);

/// Where a member's time on a CPU is read.
#[derive(Debug)]
enum OnCpu {
    /// Its process CPU clock; `None` where there was none to be had (the
    /// process was gone when first seen): its `stat` is then read every tick.
    Clock(Option<ClockId>),
    /// A `schedstat`-shaped text (`on-CPU-ns …`): the tests' fake processes.
    #[cfg(test)]
    Text(ProcFile),
}

impl OnCpu {
    /// `pid`'s process CPU clock. Blocking (a system call).
    fn of(pid: u32) -> OnCpu {
        let pid = i32::try_from(pid).ok().map(Pid::from_raw);
        OnCpu::Clock(pid.and_then(|pid| ClockId::pid_cpu_clock_id(pid).ok()))
    }

    /// The nanoseconds it has spent on a CPU; `None` when that cannot be read
    /// (it has been reaped). Blocking.
    fn read(&mut self) -> Option<u64> {
        match self {
            OnCpu::Clock(clock) => {
                let t = clock.as_ref()?.now().ok()?;
                let ns = i128::from(t.tv_sec()) * 1_000_000_000 + i128::from(t.tv_nsec());
                u64::try_from(ns).ok()
            }
            #[cfg(test)]
            OnCpu::Text(file) => file.read().and_then(parse_on_cpu),
        }
    }
}

/// A member's `stat` as last read, and what told whether it ran since.
#[derive(Debug)]
struct Member {
    /// Its time on a CPU.
    on_cpu: OnCpu,
    /// Its `stat` as last read, its time on a CPU just before (`None` where
    /// that could not be read), and when.
    last: Option<(ProcStat, Option<u64>, Instant)>,
    /// Its time on a CPU as read by the latest [`Asleep::stat`].
    current: Option<u64>,
    /// Its time on a CPU just before its children were last listed.
    children_listed_at: Option<u64>,
}

impl Member {
    fn new(on_cpu: OnCpu) -> Member {
        Member { on_cpu, last: None, current: None, children_listed_at: None }
    }

    /// Whether its time on a CPU tells whether it ran: not exited at its last
    /// `stat` (or never read yet). A zombie's `stat` is read every tick: it
    /// leaves the tree when its parent reaps it, which the parent runs, not it.
    fn told_by_clock(&self) -> bool {
        self.last.is_none_or(|(stat, _, _)| !stat.zombie)
    }
}

/// The members' last `stat` and time-on-CPU readings.
#[derive(Debug, Default)]
pub struct Asleep {
    /// Each member, by pid.
    members: HashMap<u32, Member>,
}

impl Asleep {
    /// `pid`'s `stat`: as last read where `may_keep` and it has not run since
    /// (and that reading is younger than [`REREAD_EVERY`]), otherwise read from
    /// `stat` now. `None` when it cannot be read (the process is gone). Blocking.
    pub fn stat(&mut self, pid: u32, stat: &mut ProcFile, now: Instant, may_keep: bool) -> Option<ProcStat> {
        let member = self.members.entry(pid).or_insert_with(|| Member::new(OnCpu::of(pid)));
        let on_cpu = if member.told_by_clock() { member.on_cpu.read() } else { None };
        member.current = on_cpu;
        if let (true, Some(on_cpu), Some((last, Some(before), at))) = (may_keep, on_cpu, &member.last)
            && on_cpu == *before
            && now.saturating_duration_since(*at) < REREAD_EVERY
        {
            return Some(*last);
        }
        let read = stat.read().and_then(|text| procfs::parse_stat(pid, text));
        member.last = read.map(|read| (read, on_cpu, now));
        read
    }

    /// Whether `pid`'s children, as last listed, still stand: it has not run
    /// since (its time on a CPU, read by this tick's [`Asleep::stat`], is what
    /// it was just before that listing). A process makes children and reaps
    /// them only by running. Otherwise the caller lists them now, and that
    /// listing is what the next call compares with. What this cannot see is an
    /// orphan handed to it when another process exits (a subreaper's): the
    /// caller lists again whenever a process of the tree has exited.
    pub fn children_stand(&mut self, pid: u32) -> bool {
        let Some(member) = self.members.get_mut(&pid) else { return false };
        if member.current.is_some() && member.current == member.children_listed_at {
            return true;
        }
        member.children_listed_at = member.current;
        false
    }

    /// Forgets the processes no longer in any tree.
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.members.retain(|&pid, _| keep(pid));
    }
}

/// The time on a CPU in a `schedstat` text (`on-CPU-ns wait-ns timeslices`), ns.
#[cfg(test)]
fn parse_on_cpu(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake process: its `stat` and `schedstat` texts in files of their own.
    struct Fake {
        dir: std::path::PathBuf,
        stat: ProcFile,
    }

    impl Fake {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("perfmon-asleep-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            let stat = ProcFile::new(dir.join("stat"));
            Fake { dir, stat }
        }

        /// Its texts now: `utime` ticks, threads, state and time on a CPU.
        fn set(&self, utime: u64, threads: u32, state: char, on_cpu: u64) {
            let stat = format!(
                "42 (sh) {state} 1 42 42 0 -1 0 100 0 0 0 {utime} 0 0 0 20 0 {threads} 0 500 1000 250 18446744073709551615"
            );
            std::fs::write(self.dir.join("stat"), stat).expect("stat");
            std::fs::write(self.dir.join("schedstat"), format!("{on_cpu} 5000 7\n")).expect("schedstat");
        }

        /// Reads through `asleep`, its `schedstat` at the fake's path.
        fn read(&mut self, asleep: &mut Asleep, now: Instant) -> Option<ProcStat> {
            let schedstat = self.dir.join("schedstat");
            asleep.members.entry(42).or_insert_with(|| Member::new(OnCpu::Text(ProcFile::new(schedstat))));
            asleep.stat(42, &mut self.stat, now, true)
        }
    }

    impl Drop for Fake {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn a_member_that_has_not_run_keeps_its_stat_until_it_is_due_again() {
        let mut fake = Fake::new("kept");
        let mut asleep = Asleep::default();
        let start = Instant::now();
        fake.set(10, 1, 'S', 1_000);
        assert_eq!(fake.read(&mut asleep, start).map(|s| s.user_ticks), Some(10));
        // `stat` says more, but `schedstat` says it did not run: the last reading
        // stands (a real process cannot do this; it shows `stat` was not read).
        fake.set(99, 1, 'S', 1_000);
        assert_eq!(fake.read(&mut asleep, start + Duration::from_secs(1)).map(|s| s.user_ticks), Some(10));
        // Its reading is due again after REREAD_EVERY, run or not.
        let due = start + REREAD_EVERY;
        assert_eq!(fake.read(&mut asleep, due).map(|s| s.user_ticks), Some(99));
    }

    #[test]
    fn a_member_not_allowed_to_keep_its_reading_is_read_again() {
        // Its parent exited: it was handed to another without running.
        let mut fake = Fake::new("orphan");
        let mut asleep = Asleep::default();
        let start = Instant::now();
        fake.set(10, 1, 'S', 1_000);
        fake.read(&mut asleep, start);
        fake.set(11, 1, 'S', 1_000);
        let read = asleep.stat(42, &mut fake.stat, start + Duration::from_secs(1), false);
        assert_eq!(read.map(|s| s.user_ticks), Some(11));
    }

    #[test]
    fn a_member_that_ran_is_read_again() {
        let mut fake = Fake::new("ran");
        let mut asleep = Asleep::default();
        let start = Instant::now();
        fake.set(10, 1, 'S', 1_000);
        fake.read(&mut asleep, start);
        fake.set(11, 1, 'R', 2_000);
        assert_eq!(fake.read(&mut asleep, start + Duration::from_secs(1)).map(|s| s.user_ticks), Some(11));
    }

    #[test]
    fn an_exited_member_is_always_read_and_a_multi_threaded_one_is_told_by_its_clock() {
        let start = Instant::now();
        // (name, threads, state, whether its kept reading stands)
        for (name, threads, state, kept) in [("threads", 4, 'S', true), ("zombie", 1, 'Z', false)] {
            let mut fake = Fake::new(name);
            let mut asleep = Asleep::default();
            fake.set(10, threads, state, 1_000);
            fake.read(&mut asleep, start);
            // Its time on a CPU, every thread's, did not move.
            fake.set(12, threads, state, 1_000);
            let read = fake.read(&mut asleep, start + Duration::from_secs(1));
            assert_eq!(read.map(|s| s.user_ticks), Some(if kept { 10 } else { 12 }), "{name}");
        }
    }

    #[test]
    fn without_a_time_on_cpu_every_tick_reads_stat() {
        let mut fake = Fake::new("no-clock");
        let mut asleep = Asleep::default();
        let start = Instant::now();
        fake.set(10, 1, 'S', 1_000);
        std::fs::remove_file(fake.dir.join("schedstat")).expect("remove");
        fake.read(&mut asleep, start);
        fake.set(13, 1, 'S', 1_000);
        std::fs::remove_file(fake.dir.join("schedstat")).expect("remove");
        assert_eq!(fake.read(&mut asleep, start + Duration::from_secs(1)).map(|s| s.user_ticks), Some(13));
    }

    /// Whether `pid`'s `stat` is kept by `asleep` for a reading a millisecond
    /// after a fresh one, tried every 50 ms for up to 10 s (until it sleeps, its
    /// first readings may find it running).
    fn kept_within_10s(asleep: &mut Asleep, pid: u32) -> bool {
        let mut stat = ProcFile::new(format!("/proc/{pid}/stat"));
        let start = Instant::now();
        let mut now = start;
        while now < start + Duration::from_secs(10) {
            let first = asleep.stat(pid, &mut stat, now, true).expect("its stat");
            // A kept reading is the same value, and its stat file is not read
            // (closed here: a read of it would now fail).
            let mut closed = ProcFile::new("/nonexistent/stat");
            if asleep.stat(pid, &mut closed, now + Duration::from_millis(1), true) == Some(first) {
                return true;
            }
            now += Duration::from_millis(50);
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    #[test]
    fn a_real_sleeping_process_is_told_by_its_clock() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id();
        let mut asleep = Asleep::default();
        let told = kept_within_10s(&mut asleep, pid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(told, "a sleeping process's stat was kept");
        asleep.retain(|p| p != pid);
        assert!(asleep.members.is_empty());
    }

    #[test]
    fn a_real_busy_process_is_read_every_time_and_a_reaped_one_is_gone() {
        // A shell spinning on a CPU: its clock moves between any two readings
        // that are a CPU-scheduling slice apart, so its `stat` is never kept.
        let mut child =
            std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn().expect("sh");
        let pid = child.id();
        let mut asleep = Asleep::default();
        let mut stat = ProcFile::new(format!("/proc/{pid}/stat"));
        let start = Instant::now();
        let first = asleep.stat(pid, &mut stat, start, true).expect("its stat");
        // Wait until it has run since (its leader's own time on a CPU moved).
        let mut schedstat = ProcFile::new(format!("/proc/{pid}/schedstat"));
        let mut on_cpu = || schedstat.read().and_then(parse_on_cpu);
        let before = on_cpu();
        let deadline = Instant::now() + Duration::from_secs(10);
        while on_cpu() == before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut closed = ProcFile::new("/nonexistent/stat");
        let again = asleep.stat(pid, &mut closed, start + Duration::from_millis(100), true);
        assert_eq!(again, None, "it ran, so its stat was read (here a file that fails), not kept: {first:?}");
        let _ = child.kill();
        let _ = child.wait();
        // Reaped: no clock, and no stat either.
        assert_eq!(asleep.stat(pid, &mut stat, start + Duration::from_millis(200), true), None);
    }

    #[test]
    fn on_cpu_is_the_first_field() {
        assert_eq!(parse_on_cpu("123456 789 3\n"), Some(123_456));
        assert_eq!(parse_on_cpu(""), None);
        assert_eq!(parse_on_cpu("x 1 2"), None);
    }
}
