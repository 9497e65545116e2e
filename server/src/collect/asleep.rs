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
//! Its `schedstat`'s first field, the time its thread has spent on a CPU in ns, is
//! a far shorter text that tells whether it ran. `schedstat` is the leader
//! thread's alone, so only a single-threaded member is told this way: a thread
//! of a multi-threaded one may run while the leader sleeps.
//!
//! The one figure that can change without the process running is its resident
//! size, which shrinks when the kernel reclaims or swaps its pages out; so every
//! member's `stat` is read again at least every [`REREAD_EVERY`].
//!
//! `schedstat` is read before `stat`: a process that runs between the two
//! readings has a later `stat` than its recorded time on a CPU, and so its `stat`
//! is read again at the next tick (the other order could miss that run).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::procfs::{self, ProcFile, ProcStat};

/// The longest a member's `stat` is taken as it was last read while the member
/// has not run: its resident size may shrink without it running.
pub const REREAD_EVERY: Duration = Duration::from_secs(5);

/// A member's `stat` as last read, and what told whether it ran since.
#[derive(Debug)]
struct Member {
    /// Its `schedstat`, kept open.
    schedstat: ProcFile,
    /// Its `stat` as last read, the time its thread had been on a CPU just before
    /// (`None` where that could not be read), and when.
    last: Option<(ProcStat, Option<u64>, Instant)>,
}

impl Member {
    /// Whether its `schedstat` tells whether it ran: single-threaded and not
    /// exited at its last `stat` (or never read yet).
    fn told_by_schedstat(&self) -> bool {
        self.last.is_none_or(|(stat, _, _)| stat.threads <= 1 && !stat.zombie)
    }
}

/// The members' last `stat` and `schedstat` readings.
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
        let member = self.members.entry(pid).or_insert_with(|| Member {
            schedstat: ProcFile::new(format!("/proc/{pid}/schedstat")),
            last: None,
        });
        let on_cpu =
            if member.told_by_schedstat() { member.schedstat.read().and_then(parse_on_cpu) } else { None };
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

    /// Forgets the processes no longer in any tree (and closes their files).
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.members.retain(|&pid, _| keep(pid));
    }
}

/// The time on a CPU in a `schedstat` text (`on-CPU-ns wait-ns timeslices`), ns.
pub fn parse_on_cpu(text: &str) -> Option<u64> {
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
            asleep
                .members
                .entry(42)
                .or_insert_with(|| Member { schedstat: ProcFile::new(schedstat), last: None });
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
    fn a_multi_threaded_or_exited_member_is_always_read() {
        let start = Instant::now();
        for (name, threads, state) in [("threads", 4, 'S'), ("zombie", 1, 'Z')] {
            let mut fake = Fake::new(name);
            let mut asleep = Asleep::default();
            fake.set(10, threads, state, 1_000);
            fake.read(&mut asleep, start);
            // Its leader's time on a CPU did not move; another thread's may have.
            fake.set(12, threads, state, 1_000);
            let read = fake.read(&mut asleep, start + Duration::from_secs(1));
            assert_eq!(read.map(|s| s.user_ticks), Some(12), "{name}");
        }
    }

    #[test]
    fn without_a_schedstat_every_tick_reads_stat() {
        let mut fake = Fake::new("no-schedstat");
        let mut asleep = Asleep::default();
        let start = Instant::now();
        fake.set(10, 1, 'S', 1_000);
        std::fs::remove_file(fake.dir.join("schedstat")).expect("remove");
        fake.read(&mut asleep, start);
        fake.set(13, 1, 'S', 1_000);
        std::fs::remove_file(fake.dir.join("schedstat")).expect("remove");
        assert_eq!(fake.read(&mut asleep, start + Duration::from_secs(1)).map(|s| s.user_ticks), Some(13));
    }

    #[test]
    fn a_real_sleeping_process_is_told_by_its_schedstat() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        let pid = child.id();
        let mut stat = ProcFile::new(format!("/proc/{pid}/stat"));
        let mut asleep = Asleep::default();
        let start = Instant::now();
        // Until it sleeps, its first readings may find it running.
        let deadline = start + Duration::from_secs(10);
        let mut told = false;
        let mut now = start;
        while now < deadline && !told {
            let first = asleep.stat(pid, &mut stat, now, true).expect("its stat");
            // A kept reading is the same value, and its stat file is not read
            // (closed here: a read of it would now fail).
            let mut closed = ProcFile::new("/nonexistent/stat");
            told = asleep.stat(pid, &mut closed, now + Duration::from_millis(1), true) == Some(first);
            now += Duration::from_millis(50);
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(told, "a sleeping process's stat was kept");
        asleep.retain(|p| p != pid);
        assert!(asleep.members.is_empty());
    }

    #[test]
    fn on_cpu_is_the_first_field() {
        assert_eq!(parse_on_cpu("123456 789 3\n"), Some(123_456));
        assert_eq!(parse_on_cpu(""), None);
        assert_eq!(parse_on_cpu("x 1 2"), None);
    }
}
