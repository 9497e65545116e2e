//! Linux pressure stall information: `/proc/pressure/{cpu,io,memory}`, kept open
//! and read every tick (three short texts).
//!
//! Each file has a `some` line and (for io and memory, and for cpu since Linux
//! 5.13) a `full` line: `some avg10=0.71 avg60=1.74 avg300=16.23 total=1250850952`.
//! The averages are the kernel's own, in percent; `total` counts µs stalled
//! since boot, and its rate between two readings is the share of wall time
//! stalled over exactly that interval.
//!
//! Pressure exists from Linux 4.20, with `CONFIG_PSI`, unless booted with
//! `psi=0`; where it does not, the collector says why once, at start, and never
//! looks again (the kernel cannot gain it while running).
//!
//! # Layout
//! - [`PressureReading`], [`ResourceReading`], [`StallReading`]: exact values.
//! - [`parse`]: one file's text.
//! - [`PressureCollector`]: the three files and their counters.

use std::path::Path;
use std::time::Instant;

use shared::depth::pressure::{Pressure, ResourcePressure};

use super::cpu::rate;
use super::procfs::ProcFile;
use super::rates::RateCounter;
use crate::units::round2;

/// One line of a pressure file, as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StallReading {
    /// Share of the last 10 s stalled, percent (`avg10`).
    pub avg10: f64,
    /// Over the last 60 s (`avg60`).
    pub avg60: f64,
    /// Over the last 300 s (`avg300`).
    pub avg300: f64,
    /// µs stalled since boot (`total`).
    pub total_us: u64,
    /// Share of wall time stalled since the previous reading, percent (the rate
    /// of `total`, at most 100); `None` on the first reading.
    pub stall_percent: Option<f64>,
}

/// One resource's file: its `some` and `full` lines; a line the kernel does not
/// write (cpu `full` before 5.13) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResourceReading {
    /// Some task stalled.
    pub some: Option<StallReading>,
    /// Every non-idle task stalled at once.
    pub full: Option<StallReading>,
}

/// CPU, I/O and memory pressure, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PressureReading {
    /// Why the kernel reports no pressure; `None` when it does.
    pub missing: Option<String>,
    /// CPU; `None` when its file could not be read.
    pub cpu: Option<ResourceReading>,
    /// I/O.
    pub io: Option<ResourceReading>,
    /// Memory.
    pub memory: Option<ResourceReading>,
}

impl PressureReading {
    /// The `pressure` section: percentages to two decimals, as the kernel
    /// writes its averages.
    #[allow(dead_code)] // used once wired into sampling
    pub fn to_contract(&self) -> Pressure {
        let resource = |r: &Option<ResourceReading>| {
            r.map(|r| ResourcePressure {
                some_avg10_percent: r.some.map(|s| round2(s.avg10)),
                some_stall_percent: r.some.and_then(|s| s.stall_percent).map(round2),
                full_avg10_percent: r.full.map(|s| round2(s.avg10)),
                full_stall_percent: r.full.and_then(|s| s.stall_percent).map(round2),
            })
        };
        Pressure {
            available: self.missing.is_none(),
            reason: self.missing.clone(),
            cpu: resource(&self.cpu),
            io: resource(&self.io),
            memory: resource(&self.memory),
        }
    }
}

/// The `some` and `full` lines of a pressure file's text; a line that does not
/// parse is `None`.
pub fn parse(text: &str) -> (Option<StallReading>, Option<StallReading>) {
    let (mut some, mut full) = (None, None);
    for line in text.lines() {
        let Some((kind, fields)) = line.split_once(' ') else { continue };
        let slot = match kind {
            "some" => &mut some,
            "full" => &mut full,
            _ => continue,
        };
        *slot = parse_line(fields);
    }
    (some, full)
}

/// `avg10=0.71 avg60=1.74 avg300=16.23 total=1250850952`.
fn parse_line(fields: &str) -> Option<StallReading> {
    let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
    for field in fields.split_ascii_whitespace() {
        match field.split_once('=') {
            Some(("avg10", v)) => avg10 = v.parse().ok(),
            Some(("avg60", v)) => avg60 = v.parse().ok(),
            Some(("avg300", v)) => avg300 = v.parse().ok(),
            Some(("total", v)) => total = v.parse().ok(),
            _ => {}
        }
    }
    Some(StallReading {
        avg10: avg10?,
        avg60: avg60?,
        avg300: avg300?,
        total_us: total?,
        stall_percent: None,
    })
}

/// One resource's file, kept open, and its two counters.
#[derive(Debug)]
struct Resource {
    file: ProcFile,
    /// The `some` and `full` totals as last read.
    previous: (Option<u64>, Option<u64>),
    some: RateCounter,
    full: RateCounter,
}

impl Resource {
    /// Reads the file at `now`, with the stall shares since the previous read.
    fn read(&mut self, now: Instant) -> Option<ResourceReading> {
        let Some(text) = self.file.read() else {
            // Unreadable for now: the next readable text has no previous.
            self.previous = (None, None);
            return None;
        };
        let (mut some, mut full) = parse(text);
        let before = self.previous;
        self.previous = (some.map(|s| s.total_us), full.map(|s| s.total_us));
        for (line, counter, before) in
            [(&mut some, &mut self.some, before.0), (&mut full, &mut self.full, before.1)]
        {
            if let Some(line) = line {
                // µs stalled per second, as a share of the second; the sampler's
                // instant and the kernel's clock differ by a little, so a stall
                // of the whole interval could read a hair over 100.
                line.stall_percent =
                    rate(counter, before, Some(line.total_us), now).map(|us| (us / 10_000.0).min(100.0));
            }
        }
        Some(ResourceReading { some, full })
    }
}

/// Why `/proc/pressure/cpu` cannot be read, in plain words.
fn why_missing(dir: &Path, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::NotFound {
        format!(
            "no pressure stall information: {} is missing (the kernel is older than 4.20, was built \
             without CONFIG_PSI, or was booted with psi=0)",
            dir.display()
        )
    } else {
        format!(
            "pressure stall information cannot be read ({}: {err}); PSI may be disabled (boot with psi=1)",
            dir.display()
        )
    }
}

/// Reads CPU, I/O and memory pressure.
#[derive(Debug)]
pub struct PressureCollector {
    /// cpu, io and memory; `None` when the kernel has no pressure at all.
    resources: Option<[Resource; 3]>,
    /// Why there is none.
    missing: Option<String>,
}

impl PressureCollector {
    /// Reads this machine's pressure; takes the baseline of the stall counters
    /// now. Blocking.
    #[allow(dead_code)] // used once wired into sampling
    pub fn new() -> Self {
        Self::with_root(Path::new("/proc"))
    }

    /// Reads `pressure/{cpu,io,memory}` under `proc` (a fake /proc in tests).
    /// Blocking.
    pub fn with_root(proc: &Path) -> Self {
        let dir = proc.join("pressure");
        let mut resources = ["cpu", "io", "memory"].map(|name| Resource {
            file: ProcFile::new(dir.join(name)),
            previous: (None, None),
            some: RateCounter::default(),
            full: RateCounter::default(),
        });
        let now = Instant::now();
        // Every file read (not just up to the first readable): each takes its baseline.
        let mut readable = false;
        for resource in &mut resources {
            readable |= resource.read(now).is_some();
        }
        if readable {
            return PressureCollector { resources: Some(resources), missing: None };
        }
        let err =
            std::fs::read(dir.join("cpu")).err().unwrap_or_else(|| std::io::ErrorKind::InvalidData.into());
        PressureCollector { resources: None, missing: Some(why_missing(&dir, &err)) }
    }

    /// Reads the three files at `now`. Blocking.
    #[allow(dead_code)] // used once wired into sampling
    pub fn read(&mut self, now: Instant) -> PressureReading {
        match &mut self.resources {
            Some([cpu, io, memory]) => PressureReading {
                missing: None,
                cpu: cpu.read(now),
                io: io.read(now),
                memory: memory.read(now),
            },
            None => PressureReading { missing: self.missing.clone(), ..PressureReading::default() },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    const CPU: &str = "some avg10=0.71 avg60=1.74 avg300=16.23 total=1250850952\n\
                       full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

    /// A fake /proc with a `pressure` directory holding `files`, unique to the test.
    fn fake_proc(name: &str, files: &[(&str, &str)]) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("perfmon-pressure-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("pressure")).expect("temp dir");
        for (file, text) in files {
            std::fs::write(dir.join("pressure").join(file), text).expect("write");
        }
        dir
    }

    #[test]
    fn lines_parse_into_averages_and_totals() {
        let (some, full) = parse(CPU);
        assert_eq!(
            some,
            Some(StallReading {
                avg10: 0.71,
                avg60: 1.74,
                avg300: 16.23,
                total_us: 1_250_850_952,
                stall_percent: None
            })
        );
        assert_eq!(full.map(|f| (f.avg10, f.total_us)), Some((0.0, 0)));
        // Before Linux 5.13 the cpu file has no `full` line.
        assert_eq!(parse("some avg10=1.00 avg60=2.00 avg300=3.00 total=5\n").1, None);
        assert_eq!(
            parse("some avg10=x avg60=2.00 avg300=3.00 total=5\n").0,
            None,
            "garbage is not a reading"
        );
        assert_eq!(parse(""), (None, None));
    }

    #[test]
    fn totals_become_the_share_of_time_stalled_and_a_reset_reads_zero() {
        let dir = fake_proc(
            "rates",
            &[
                ("cpu", "some avg10=1.00 avg60=1.00 avg300=1.00 total=1000000\n"),
                (
                    "io",
                    "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
                ),
            ],
        );
        let mut pressure = PressureCollector::with_root(&dir);
        // The baseline of the rates below: read at a known instant.
        let t0 = Instant::now();
        assert_eq!(pressure.read(t0).cpu.and_then(|c| c.some).and_then(|s| s.stall_percent), Some(0.0));
        let write =
            |file: &str, text: &str| std::fs::write(dir.join("pressure").join(file), text).expect("write");
        // A second later: cpu stalled 0.25 s of it, io 1 s (some) and 0.5 s (full).
        write("cpu", "some avg10=2.50 avg60=1.00 avg300=1.00 total=1250000\n");
        write(
            "io",
            "some avg10=9.00 avg60=0.00 avg300=0.00 total=1000000\nfull avg10=4.00 avg60=0.00 avg300=0.00 total=500000\n",
        );
        write(
            "memory",
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=7\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
        );
        let r = pressure.read(t0 + Duration::from_secs(1));
        let cpu = r.cpu.expect("cpu");
        assert_eq!(cpu.some.and_then(|s| s.stall_percent), Some(25.0), "{cpu:?}");
        assert_eq!(cpu.full, None, "an old kernel's cpu file has no full line");
        let io = r.io.expect("io");
        assert_eq!(
            (io.some.and_then(|s| s.stall_percent), io.full.and_then(|s| s.stall_percent)),
            (Some(100.0), Some(50.0))
        );
        let memory = r.memory.expect("a file that appeared is read");
        assert_eq!(memory.some.map(|s| s.stall_percent), Some(None), "no previous reading: no share yet");

        // The counter went back (a restored checkpoint): 0, not a huge share.
        write("cpu", "some avg10=2.50 avg60=1.00 avg300=1.00 total=10\n");
        let r = pressure.read(t0 + Duration::from_secs(2));
        assert_eq!(r.cpu.and_then(|c| c.some).and_then(|s| s.stall_percent), Some(0.0));
        assert!(r.memory.and_then(|m| m.some).is_some_and(|s| s.stall_percent == Some(0.0)));

        let c = r.to_contract();
        assert!(c.available && c.reason.is_none());
        assert_eq!(c.io.and_then(|io| io.full_avg10_percent), Some(4.0));
        assert_eq!(c.cpu.and_then(|c| c.some_avg10_percent), Some(2.5));
        assert_eq!(c.cpu.and_then(|c| c.full_avg10_percent), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_kernel_without_pressure_says_why() {
        let dir = fake_proc("none", &[]);
        std::fs::remove_dir(dir.join("pressure")).expect("no /proc/pressure");
        let mut pressure = PressureCollector::with_root(&dir);
        let c = pressure.read(Instant::now()).to_contract();
        assert!(!c.available);
        assert!(
            c.reason.as_deref().is_some_and(|why| why.contains("CONFIG_PSI") && why.contains("4.20")),
            "{c:?}"
        );
        assert_eq!((c.cpu, c.io, c.memory), (None, None, None));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `/proc/pressure/RESOURCE`'s avg10s, read directly.
    fn kernel_avg10(resource: &str) -> (Option<f64>, Option<f64>) {
        let text = std::fs::read_to_string(format!("/proc/pressure/{resource}")).expect("/proc/pressure");
        let (some, full) = parse(&text);
        (some.map(|s| s.avg10), full.map(|s| s.avg10))
    }

    #[test]
    fn averages_match_the_kernels_files_read_in_the_same_second() {
        assert!(
            Path::new("/proc/pressure").is_dir(),
            "this machine's kernel has PSI; without it this test has nothing to compare"
        );
        let mut pressure = PressureCollector::new();
        let r = pressure.read(Instant::now());
        assert!(r.missing.is_none());
        // avg10 moves every 2 s by the kernel's own clock: ±0.5 covers a change
        // between the two reads.
        for (name, ours) in [("cpu", r.cpu), ("io", r.io), ("memory", r.memory)] {
            let ours = ours.expect("a readable file");
            let (some, full) = kernel_avg10(name);
            for (kind, ours, theirs) in [("some", ours.some, some), ("full", ours.full, full)] {
                assert_eq!(ours.is_some(), theirs.is_some(), "{name} {kind}");
                if let (Some(ours), Some(theirs)) = (ours, theirs) {
                    assert!((ours.avg10 - theirs).abs() <= 0.5, "{name} {kind}: {} vs {theirs}", ours.avg10);
                }
            }
        }
    }

    #[test]
    fn three_burning_threads_on_two_cores_stall_the_cpu() {
        let _burning = super::super::cpu::test_support::burn(3);
        let mut pressure = PressureCollector::new();
        let deadline = Instant::now() + Duration::from_secs(4);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let cpu = pressure.read(Instant::now()).cpu.and_then(|c| c.some);
            let stalled = cpu.and_then(|s| s.stall_percent);
            // More runnable threads than cores: some thread waits nearly all the time.
            if stalled.is_some_and(|s| s >= 50.0) {
                return;
            }
            assert!(Instant::now() < deadline, "cpu some stayed at {stalled:?} %: {cpu:?}");
        }
    }
}
