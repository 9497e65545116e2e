//! Paging: `/proc/vmstat`'s counters of traffic between memory and disk, as
//! per-second rates, and the OOM killer's count. The file is kept open and
//! read every tick (about 5 KB; the lines wanted are picked out in one pass).
//!
//! # Layout
//! - [`VmstatCounters`], [`parse`]: the counters in one text.
//! - [`PagingReading`]: rates between two readings, exact.
//! - [`VmstatCollector`]: the file and the previous counters.

use std::path::Path;
use std::time::Instant;

use shared::depth::memory::Paging;

use super::cpu::rate;
use super::procfs::ProcFile;
use super::rates::RateCounter;
use crate::units::round1;

/// The counters wanted, as `/proc/vmstat` has them since boot; a counter the
/// kernel does not write is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VmstatCounters {
    /// `pgpgin`: KiB read in from block devices (the kernel halves its sector
    /// count to KiB before printing).
    pub pgpgin_kib: Option<u64>,
    /// `pgpgout`: KiB written out to block devices.
    pub pgpgout_kib: Option<u64>,
    /// `pswpin`: pages swapped in.
    pub pswpin: Option<u64>,
    /// `pswpout`: pages swapped out.
    pub pswpout: Option<u64>,
    /// `pgfault`: page faults, minor and major.
    pub pgfault: Option<u64>,
    /// `pgmajfault`: major faults.
    pub pgmajfault: Option<u64>,
    /// `oom_kill`: processes the OOM killer killed (Linux 4.13+).
    pub oom_kill: Option<u64>,
}

/// The counters in a `/proc/vmstat` text (`name value` lines); `None` when the
/// text has none of them. Its ~190 lines, of which 7 are wanted, are split
/// by bytes ([`super::procfs::named_lines`]).
pub fn parse(text: &str) -> Option<VmstatCounters> {
    let mut c = VmstatCounters::default();
    let mut any = false;
    for (name, value) in super::procfs::named_lines(text, b' ') {
        let slot = match name {
            b"pgpgin" => &mut c.pgpgin_kib,
            b"pgpgout" => &mut c.pgpgout_kib,
            b"pswpin" => &mut c.pswpin,
            b"pswpout" => &mut c.pswpout,
            b"pgfault" => &mut c.pgfault,
            b"pgmajfault" => &mut c.pgmajfault,
            b"oom_kill" => &mut c.oom_kill,
            _ => continue,
        };
        *slot = std::str::from_utf8(value).ok().and_then(|v| v.trim().parse().ok());
        any |= slot.is_some();
    }
    any.then_some(c)
}

/// Paging since the previous reading. Rates are `None` on the first reading
/// and for a counter the kernel does not write.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PagingReading {
    /// The counters as read now (for exporters that want totals).
    pub counters: VmstatCounters,
    /// Bytes read in from block devices per second.
    pub page_in_bytes_per_s: Option<f64>,
    /// Bytes written out to block devices per second.
    pub page_out_bytes_per_s: Option<f64>,
    /// Pages swapped in per second.
    pub swap_in_pages_per_s: Option<f64>,
    /// Pages swapped out per second.
    pub swap_out_pages_per_s: Option<f64>,
    /// Page faults per second.
    pub page_faults_per_s: Option<f64>,
    /// Major faults per second.
    pub major_faults_per_s: Option<f64>,
    /// Whether the OOM killer killed since the previous reading.
    pub oom_killed: Option<bool>,
}

/// The `paging` section from a reading, or from none (`/proc/vmstat` could not
/// be read): rates to one decimal.
#[allow(dead_code)] // used once wired into sampling
pub fn to_contract(reading: Option<&PagingReading>) -> Paging {
    let Some(r) = reading else {
        return Paging {
            available: false,
            reason: Some("/proc/vmstat cannot be read (not Linux, or no /proc mounted)".to_owned()),
            ..Paging::default()
        };
    };
    Paging {
        available: true,
        reason: None,
        page_in_bytes_per_s: r.page_in_bytes_per_s.map(f64::round),
        page_out_bytes_per_s: r.page_out_bytes_per_s.map(f64::round),
        swap_in_pages_per_s: r.swap_in_pages_per_s.map(round1),
        swap_out_pages_per_s: r.swap_out_pages_per_s.map(round1),
        page_faults_per_s: r.page_faults_per_s.map(round1),
        major_faults_per_s: r.major_faults_per_s.map(round1),
        oom_kills: r.counters.oom_kill,
        oom_killed: r.oom_killed,
    }
}

/// One rate counter per counter turned into a rate.
#[derive(Debug, Default)]
struct Rates {
    pgpgin: RateCounter,
    pgpgout: RateCounter,
    pswpin: RateCounter,
    pswpout: RateCounter,
    pgfault: RateCounter,
    pgmajfault: RateCounter,
}

/// Reads `/proc/vmstat` and turns its counters into rates.
#[derive(Debug)]
pub struct VmstatCollector {
    file: ProcFile,
    /// The counters at the previous reading; all `None` before the first, or
    /// after a read that failed.
    previous: VmstatCounters,
    rates: Rates,
}

impl VmstatCollector {
    /// This machine's; takes the baseline now. Blocking.
    #[allow(dead_code)] // used once wired into sampling
    pub fn new() -> Self {
        Self::with_root(Path::new("/proc"))
    }

    /// `vmstat` under `proc` (a fake /proc in tests); takes the baseline now.
    /// Blocking.
    pub fn with_root(proc: &Path) -> Self {
        let mut collector = VmstatCollector {
            file: ProcFile::new(proc.join("vmstat")),
            previous: VmstatCounters::default(),
            rates: Rates::default(),
        };
        collector.read(Instant::now());
        collector
    }

    /// Paging since the previous reading, read at `now`; `None` when the file
    /// cannot be read. Blocking.
    pub fn read(&mut self, now: Instant) -> Option<PagingReading> {
        let Some(c) = self.file.read().and_then(parse) else {
            self.previous = VmstatCounters::default();
            return None;
        };
        let (p, r) = (self.previous, &mut self.rates);
        let reading = PagingReading {
            counters: c,
            page_in_bytes_per_s: rate(&mut r.pgpgin, p.pgpgin_kib, c.pgpgin_kib, now).map(|kib| kib * 1024.0),
            page_out_bytes_per_s: rate(&mut r.pgpgout, p.pgpgout_kib, c.pgpgout_kib, now)
                .map(|kib| kib * 1024.0),
            swap_in_pages_per_s: rate(&mut r.pswpin, p.pswpin, c.pswpin, now),
            swap_out_pages_per_s: rate(&mut r.pswpout, p.pswpout, c.pswpout, now),
            page_faults_per_s: rate(&mut r.pgfault, p.pgfault, c.pgfault, now),
            major_faults_per_s: rate(&mut r.pgmajfault, p.pgmajfault, c.pgmajfault, now),
            // A count that went back (a restored checkpoint) is no kill.
            oom_killed: p.oom_kill.zip(c.oom_kill).map(|(before, after)| after > before),
        };
        self.previous = c;
        Some(reading)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    const VMSTAT: &str = "\
nr_free_pages 3373019
pgpgin 1000
pgpgout 2000
pswpin 0
pswpout 0
pgalloc_normal 5
pgfault 500000
pgmajfault 70
oom_kill 1
";

    fn fake_proc(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-vmstat-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("vmstat"), text).expect("write");
        dir
    }

    #[test]
    fn the_wanted_lines_are_picked_out() {
        let c = parse(VMSTAT).expect("parses");
        assert_eq!(
            (c.pgpgin_kib, c.pgpgout_kib, c.pswpin, c.pswpout),
            (Some(1000), Some(2000), Some(0), Some(0))
        );
        assert_eq!((c.pgfault, c.pgmajfault, c.oom_kill), (Some(500_000), Some(70), Some(1)));
        // Before Linux 4.13 there is no oom_kill line.
        assert_eq!(parse("pgfault 5\n").map(|c| (c.pgfault, c.oom_kill)), Some((Some(5), None)));
        assert_eq!(parse("nr_free_pages 1\n"), None);
        // A name that only starts like a wanted one, a line with no value.
        assert_eq!(parse("pgfaults 5\npgmajfault\noom_kill x\n"), None);
        // The machine's own text: what a plain reading of each line finds.
        let real = std::fs::read_to_string("/proc/vmstat").expect("/proc/vmstat");
        let plain = |name: &str| {
            real.lines()
                .find_map(|l| l.split_once(' ').filter(|(n, _)| *n == name))
                .map(|(_, v)| v.parse().ok())
        };
        let c = parse(&real).expect("parses");
        assert_eq!(Some(c.pgpgin_kib), plain("pgpgin"));
        assert_eq!(Some(c.pswpout), plain("pswpout"));
        assert_eq!(Some(c.pgmajfault), plain("pgmajfault"));
        assert_eq!(Some(c.oom_kill), plain("oom_kill"));
        assert!(c.pgfault.is_some_and(|n| n > 0));
    }

    #[test]
    fn counters_become_rates_resets_read_zero_and_an_oom_kill_is_seen() {
        let dir = fake_proc("rates", VMSTAT);
        let mut vm = VmstatCollector::with_root(&dir);
        let t0 = Instant::now();
        let first = vm.read(t0).expect("readable");
        assert_eq!(first.oom_killed, Some(false));
        std::fs::write(
            dir.join("vmstat"),
            VMSTAT
                .replace("pgpgin 1000", "pgpgin 3000")
                .replace("pswpout 0", "pswpout 8")
                .replace("pgfault 500000", "pgfault 540000")
                .replace("oom_kill 1", "oom_kill 2"),
        )
        .expect("rewrite");
        let r = vm.read(t0 + Duration::from_secs(2)).expect("readable");
        assert_eq!(r.page_in_bytes_per_s, Some(1000.0 * 1024.0), "KiB counted as bytes");
        assert_eq!(r.page_out_bytes_per_s, Some(0.0));
        assert_eq!((r.swap_in_pages_per_s, r.swap_out_pages_per_s), (Some(0.0), Some(4.0)));
        assert_eq!((r.page_faults_per_s, r.major_faults_per_s), (Some(20_000.0), Some(0.0)));
        assert_eq!((r.counters.oom_kill, r.oom_killed), (Some(2), Some(true)));

        // The counters went back (a restored checkpoint): 0, not huge, and no kill.
        std::fs::write(dir.join("vmstat"), "pgfault 10\noom_kill 0\n").expect("rewrite");
        let r = vm.read(t0 + Duration::from_secs(3)).expect("readable");
        assert_eq!((r.page_faults_per_s, r.oom_killed), (Some(0.0), Some(false)));
        assert_eq!(r.page_in_bytes_per_s, None, "a line no longer written is unknown");

        let c = to_contract(Some(&r));
        assert!(c.available && c.reason.is_none());
        assert_eq!((c.oom_kills, c.oom_killed, c.page_faults_per_s), (Some(0), Some(false), Some(0.0)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_vmstat_says_why() {
        let mut vm = VmstatCollector::with_root(Path::new("/nonexistent"));
        let c = to_contract(vm.read(Instant::now()).as_ref());
        assert!(!c.available && c.reason.is_some_and(|why| why.contains("/proc/vmstat")));
        assert_eq!((c.page_faults_per_s, c.oom_kills), (None, None));
    }

    #[test]
    fn paging_matches_vmstat_over_the_same_second() {
        // vmstat's bi/bo are the same counters in KiB/s, si/so pages in KiB/s.
        // Within 25 % or 256 KiB/s: the two windows are a few ms apart and
        // writeback comes in bursts.
        let page_kib = super::super::procfs::page_bytes() as f64 / 1024.0;
        let close = |ours: f64, theirs: f64| (ours - theirs).abs() <= (theirs * 0.25).max(256.0);
        let mut failures = Vec::new();
        for _ in 0..3 {
            let (v, r) = super::super::cpu::test_support::vmstat_second(VmstatCollector::new, |mut vm| {
                vm.read(Instant::now()).expect("/proc/vmstat")
            });
            let ours = [
                ("bi", r.page_in_bytes_per_s.map(|b| b / 1024.0)),
                ("bo", r.page_out_bytes_per_s.map(|b| b / 1024.0)),
                ("si", r.swap_in_pages_per_s.map(|p| p * page_kib)),
                ("so", r.swap_out_pages_per_s.map(|p| p * page_kib)),
            ];
            let disagree: Vec<String> = ours
                .iter()
                .filter(|(name, ours)| !ours.is_some_and(|ours| close(ours, v[*name])))
                .map(|(name, ours)| format!("{name}: vmstat {}, ours {ours:?}", v[*name]))
                .collect();
            if disagree.is_empty() {
                eprintln!("vmstat {v:?}\nours {r:?}");
                return;
            }
            failures.push(disagree);
        }
        panic!("no window agreed with vmstat: {failures:#?}");
    }

    /// Minor faults of this process so far (`/proc/self/stat`'s `minflt`).
    fn own_minor_faults() -> u64 {
        let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
        let fields: Vec<&str> = stat.rsplit_once(')').expect("a command name").1.split_whitespace().collect();
        fields[7].parse().expect("minflt")
    }

    #[test]
    fn touching_fresh_pages_raises_page_faults() {
        let started = Instant::now();
        let mut vm = VmstatCollector::new();
        let before = own_minor_faults();
        // 64 MiB at a time: above glibc's largest mmap threshold (32 MiB), so
        // each allocation is a fresh zeroed mapping whose every page faults on
        // its first write.
        const SIZE: usize = 64 << 20;
        let deadline = Instant::now() + Duration::from_millis(400);
        while Instant::now() < deadline {
            let mut block = vec![0u8; SIZE];
            for page in (0..SIZE).step_by(4096) {
                block[page] = 1;
            }
            std::hint::black_box(&block);
        }
        let ours = own_minor_faults() - before;
        let now = Instant::now();
        let r = vm.read(now).expect("/proc/vmstat");
        let faults = r.page_faults_per_s.expect("a rate") * now.duration_since(started).as_secs_f64();
        assert!(ours >= 10_000, "the loop faulted only {ours} times");
        // The machine's faults include ours: exact, no tolerance (the rate's
        // window is inside [started, now], so this bound is conservative).
        assert!(faults >= ours as f64, "machine {faults:.0} faults in the window, this process alone {ours}");
    }
}
