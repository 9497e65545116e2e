//! The CPU's sensors: each core's frequency, temperatures and thermal-throttle
//! counts, from sysfs (and `/proc/cpuinfo`).
//!
//! They change slowly and cost a file per core or sensor, so the collector reads
//! them at most every [`INTERVAL`], keeps the reading, and says how old it is:
//! the 1 s tick only asks and gets the kept reading. Each read walks the
//! directories again, so a sensor or core that appears or vanishes is seen at
//! the next read.
//!
//! # Layout
//! - [`SensorsReading`]: exact values, and why a source is missing.
//! - [`SensorsCollector`]: the cadence and the reads: frequency from cpufreq
//!   (`cpuN/cpufreq/scaling_cur_freq`), else `/proc/cpuinfo`'s `cpu MHz`;
//!   temperatures from hwmon (`temp*_input`, named as `sensors` names them),
//!   else the thermal zones; throttle counts from `cpuN/thermal_throttle`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shared::depth::cpu::{
    CpuSensors, MAX_CORES, MAX_TEMPERATURES, Temperature, Temperatures, ThrottleCounts,
};

use super::cadence::{Kept, age_ms};
use crate::units::round1;

/// How often the sensors are read at most.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Where the frequencies come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrequencySource {
    /// The cpufreq driver's current frequency (`scaling_cur_freq`).
    Cpufreq,
    /// `/proc/cpuinfo`'s `cpu MHz` (on x86 the kernel's estimate of the last
    /// tick's frequency; in a VM often the host's nominal one).
    Cpuinfo,
}

impl FrequencySource {
    /// The name the payload uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FrequencySource::Cpufreq => "cpufreq",
            FrequencySource::Cpuinfo => "cpuinfo",
        }
    }
}

/// One temperature sensor, as read.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureReading {
    /// The chip and the sensor's label (`coretemp Package id 0`), or the thermal
    /// zone's type.
    pub name: String,
    /// Degrees Celsius; `None` when the sensor did not answer.
    pub celsius: Option<f64>,
}

/// The sensors, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SensorsReading {
    /// Time since the files were read; `None` before the first read.
    pub age: Option<Duration>,
    /// Each core's frequency in MHz, indexed by core number (below
    /// [`MAX_CORES`]); `None` for a core without one.
    pub frequency_mhz: Vec<Option<f64>>,
    /// Where `frequency_mhz` comes from; `None` when no source has one.
    pub frequency_source: Option<FrequencySource>,
    /// Temperature sensors, at most [`MAX_TEMPERATURES`].
    pub temperatures: Vec<TemperatureReading>,
    /// Why there are no temperatures; `None` when some sensor exists.
    pub temperatures_missing: Option<String>,
    /// Each core's own throttle count, indexed by core number.
    pub throttle_core: Vec<Option<u64>>,
    /// Each core's package throttle count, indexed by core number.
    pub throttle_package: Vec<Option<u64>>,
    /// Why there are no throttle counts; `None` when some core has them.
    pub throttle_missing: Option<String>,
}

impl SensorsReading {
    /// The payload's `sensors` part of the CPU detail: one decimal, age in ms.
    pub fn to_contract(&self) -> CpuSensors {
        CpuSensors {
            age_ms: self.age.map(age_ms),
            frequency_mhz: self.frequency_mhz.iter().map(|f| f.map(round1)).collect(),
            frequency_source: self.frequency_source.map(|s| s.as_str().to_owned()),
            temperatures: Temperatures {
                available: self.temperatures_missing.is_none(),
                reason: self.temperatures_missing.clone(),
                sensors: self
                    .temperatures
                    .iter()
                    .map(|t| Temperature { name: t.name.clone(), temperature_c: t.celsius.map(round1) })
                    .collect(),
            },
            throttle: ThrottleCounts {
                available: self.throttle_missing.is_none(),
                reason: self.throttle_missing.clone(),
                core: self.throttle_core.clone(),
                package: self.throttle_package.clone(),
            },
        }
    }
}

/// Why a machine has no temperature to read.
const NO_TEMPERATURES: &str = "no temperature sensor: /sys/class/hwmon has no temp*_input and \
     /sys/class/thermal no thermal zone (a virtual machine, or no sensor driver loaded)";

/// Why a machine has no throttle counts.
const NO_THROTTLE_COUNTS: &str = "no thermal throttle counters under \
     /sys/devices/system/cpu/cpu*/thermal_throttle (the kernel keeps them for Intel CPUs with \
     thermal monitoring; virtual machines have none)";

/// Reads the sensors at most every [`INTERVAL`].
#[derive(Debug)]
pub struct SensorsCollector {
    /// Where sysfs is (`/sys`; a fake tree in tests).
    sys: PathBuf,
    /// Where procfs is (`/proc`), for `cpuinfo`.
    proc: PathBuf,
    /// The last reading and when it was taken.
    last: Kept<SensorsReading>,
}

impl SensorsCollector {
    /// A collector of this machine's sensors; reads nothing yet.
    #[allow(dead_code)] // used once wired into sampling
    pub fn new() -> Self {
        Self::with_roots(Path::new("/sys"), Path::new("/proc"))
    }

    /// A collector over the sysfs tree at `sys` and the procfs tree at `proc`.
    pub fn with_roots(sys: &Path, proc: &Path) -> Self {
        SensorsCollector { sys: sys.to_owned(), proc: proc.to_owned(), last: Kept::new(INTERVAL) }
    }

    /// The sensors as of `now`: read again when the last reading is
    /// [`INTERVAL`] old (or there is none), else the kept one with its age.
    /// Blocking (file reads) when it reads.
    #[allow(dead_code)] // used once wired into sampling
    pub fn read(&mut self, now: Instant) -> &SensorsReading {
        let (reading, age) = self.last.read(now, || read_files(&self.sys, &self.proc));
        reading.age = Some(age);
        reading
    }
}

/// Reads every source now, from the sysfs tree at `sys` and the procfs tree at
/// `proc`.
fn read_files(sys: &Path, proc: &Path) -> SensorsReading {
    let cpu_dir = sys.join("devices/system/cpu");
    let cores = numbered_entries(&cpu_dir, "cpu");
    let mut reading = SensorsReading::default();
    read_frequencies(proc, &cores, &mut reading);
    reading.temperatures = hwmon_temperatures(&sys.join("class/hwmon"));
    if reading.temperatures.is_empty() {
        reading.temperatures = thermal_zone_temperatures(&sys.join("class/thermal"));
    }
    if reading.temperatures.is_empty() {
        reading.temperatures_missing = Some(NO_TEMPERATURES.to_owned());
    }
    read_throttle_counts(&cores, &mut reading);
    reading
}

/// Each core's frequency: cpufreq's where any core has one, else cpuinfo's
/// (from the procfs tree at `proc`).
fn read_frequencies(proc: &Path, cores: &[(usize, PathBuf)], reading: &mut SensorsReading) {
    let cpufreq: Vec<(usize, f64)> = cores
        .iter()
        .filter_map(|(n, dir)| {
            let khz: u64 = read_number(&dir.join("cpufreq/scaling_cur_freq"))?;
            Some((*n, khz as f64 / 1000.0))
        })
        .collect();
    let (source, found) = if !cpufreq.is_empty() {
        (Some(FrequencySource::Cpufreq), cpufreq)
    } else {
        let cpuinfo = std::fs::read_to_string(proc.join("cpuinfo"))
            .map(|text| parse_cpuinfo_mhz(&text))
            .unwrap_or_default();
        (Some(FrequencySource::Cpuinfo).filter(|_| !cpuinfo.is_empty()), cpuinfo)
    };
    let len = cores.iter().map(|(n, _)| n + 1).chain(found.iter().map(|(n, _)| n + 1)).max().unwrap_or(0);
    reading.frequency_mhz = vec![None; len];
    for (n, mhz) in found {
        reading.frequency_mhz[n] = Some(mhz);
    }
    reading.frequency_source = source;
}

/// Each core's throttle counts; missing when no core has the directory.
fn read_throttle_counts(cores: &[(usize, PathBuf)], reading: &mut SensorsReading) {
    let len = cores.last().map_or(0, |(n, _)| n + 1);
    let (mut core, mut package) = (vec![None; len], vec![None; len]);
    let mut any = false;
    for (n, dir) in cores {
        let throttle = dir.join("thermal_throttle");
        if throttle.is_dir() {
            any = true;
            core[*n] = read_number(&throttle.join("core_throttle_count"));
            package[*n] = read_number(&throttle.join("package_throttle_count"));
        }
    }
    if any {
        (reading.throttle_core, reading.throttle_package) = (core, package);
    } else {
        reading.throttle_missing = Some(NO_THROTTLE_COUNTS.to_owned());
    }
}

/// The entries of `dir` named `{prefix}N`, as (N, path), by N; N below
/// [`MAX_CORES`] for cores (the same bound serves hwmon and thermal zones).
fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(usize, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<(usize, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let n: usize = name.to_str()?.strip_prefix(prefix)?.parse().ok()?;
            (n < MAX_CORES).then(|| (n, entry.path()))
        })
        .collect();
    found.sort_unstable_by_key(|(n, _)| *n);
    found
}

/// A file's text without its trailing newline; `None` when unreadable or empty.
fn read_text(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A file holding one number.
fn read_number<T: std::str::FromStr>(path: &Path) -> Option<T> {
    read_text(path)?.parse().ok()
}

/// A millidegree file (`temp*_input`, a thermal zone's `temp`) in °C.
fn read_millidegrees(path: &Path) -> Option<f64> {
    read_number::<i64>(path).map(|m| m as f64 / 1000.0)
}

/// Every `temp*_input` of every hwmon chip, named `{chip} {label}` as `sensors`
/// shows them (`{chip} tempN` without a label), chips and sensors in number
/// order. Older drivers keep their files (and name) under `device/`.
fn hwmon_temperatures(hwmon: &Path) -> Vec<TemperatureReading> {
    let mut out = Vec::new();
    for (_, chip_dir) in numbered_entries(hwmon, "hwmon") {
        let chip = read_text(&chip_dir.join("name"))
            .or_else(|| read_text(&chip_dir.join("device/name")))
            .unwrap_or_else(|| {
                chip_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            });
        let Some((base, inputs)) = [chip_dir.clone(), chip_dir.join("device")]
            .into_iter()
            .map(|base| {
                let inputs = temperature_inputs(&base);
                (base, inputs)
            })
            .find(|(_, inputs)| !inputs.is_empty())
        else {
            continue;
        };
        for n in inputs {
            if out.len() == MAX_TEMPERATURES {
                return out;
            }
            let label = read_text(&base.join(format!("temp{n}_label"))).unwrap_or_else(|| format!("temp{n}"));
            out.push(TemperatureReading {
                name: format!("{chip} {label}"),
                celsius: read_millidegrees(&base.join(format!("temp{n}_input"))),
            });
        }
    }
    out
}

/// The numbers N of the `tempN_input` files in `dir`, ascending.
fn temperature_inputs(dir: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut inputs: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("temp")?.strip_suffix("_input")?.parse().ok())
        .collect();
    inputs.sort_unstable();
    inputs
}

/// Each thermal zone's temperature, named by its type.
fn thermal_zone_temperatures(thermal: &Path) -> Vec<TemperatureReading> {
    numbered_entries(thermal, "thermal_zone")
        .into_iter()
        .take(MAX_TEMPERATURES)
        .map(|(n, zone)| TemperatureReading {
            name: read_text(&zone.join("type")).unwrap_or_else(|| format!("thermal_zone{n}")),
            celsius: read_millidegrees(&zone.join("temp")),
        })
        .collect()
}

/// `cpu MHz` of each `processor` block of a `/proc/cpuinfo` text, as
/// (processor, MHz); empty where the architecture does not write it (ARM).
fn parse_cpuinfo_mhz(text: &str) -> Vec<(usize, f64)> {
    let mut processor = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        match key.trim() {
            "processor" => processor = value.trim().parse::<usize>().ok().filter(|n| *n < MAX_CORES),
            "cpu MHz" => {
                if let (Some(n), Ok(mhz)) = (processor, value.trim().parse::<f64>()) {
                    out.push((n, mhz));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake root holding `sys/` and `proc/`, unique to the test.
    fn fake_root(name: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("perfmon-sensors-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sys/devices/system/cpu")).expect("temp dir");
        std::fs::create_dir_all(dir.join("proc")).expect("temp dir");
        dir
    }

    fn put(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn collector(root: &Path) -> SensorsCollector {
        SensorsCollector::with_roots(&root.join("sys"), &root.join("proc"))
    }

    #[test]
    fn a_machine_with_every_sensor_reads_them_all_by_name_and_core() {
        let root = fake_root("full");
        for cpu in 0..4 {
            std::fs::create_dir_all(root.join(format!("sys/devices/system/cpu/cpu{cpu}"))).expect("mkdir");
        }
        put(&root, "sys/devices/system/cpu/cpufreq/policy0/scaling_cur_freq", "ignored\n");
        put(&root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000\n");
        put(&root, "sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq", "3100500\n");
        put(&root, "sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count", "3\n");
        put(&root, "sys/devices/system/cpu/cpu0/thermal_throttle/package_throttle_count", "7\n");
        put(&root, "sys/devices/system/cpu/cpu1/thermal_throttle/core_throttle_count", "0\n");
        put(&root, "sys/devices/system/cpu/cpu1/thermal_throttle/package_throttle_count", "7\n");
        put(&root, "sys/class/hwmon/hwmon0/name", "coretemp\n");
        put(&root, "sys/class/hwmon/hwmon0/temp1_input", "45000\n");
        put(&root, "sys/class/hwmon/hwmon0/temp1_label", "Package id 0\n");
        put(&root, "sys/class/hwmon/hwmon0/temp10_input", "43500\n");
        put(&root, "sys/class/hwmon/hwmon0/temp2_input", "garbage\n");
        put(&root, "sys/class/hwmon/hwmon0/temp2_label", "Core 0\n");
        // An older driver: name and files under device/.
        put(&root, "sys/class/hwmon/hwmon1/device/name", "nvme\n");
        put(&root, "sys/class/hwmon/hwmon1/device/temp1_input", "-5250\n");
        put(&root, "sys/class/hwmon/hwmon2/name", "fan_only\n");
        put(&root, "sys/class/thermal/thermal_zone0/type", "acpitz\n");
        put(&root, "sys/class/thermal/thermal_zone0/temp", "99000\n");
        put(&root, "proc/cpuinfo", "processor\t: 0\ncpu MHz\t\t: 1.0\n");

        let mut sensors = collector(&root);
        let r = sensors.read(Instant::now()).clone();
        assert_eq!(r.frequency_source, Some(FrequencySource::Cpufreq), "cpufreq before cpuinfo");
        assert_eq!(r.frequency_mhz, [Some(2400.0), Some(3100.5), None, None]);
        let temps: Vec<(&str, Option<f64>)> =
            r.temperatures.iter().map(|t| (t.name.as_str(), t.celsius)).collect();
        assert_eq!(
            temps,
            [
                ("coretemp Package id 0", Some(45.0)),
                ("coretemp Core 0", None),
                ("coretemp temp10", Some(43.5)),
                ("nvme temp1", Some(-5.25)),
            ],
            "hwmon first, in number order; the thermal zones only where hwmon has none"
        );
        assert_eq!(r.temperatures_missing, None);
        assert_eq!(r.throttle_core, [Some(3), Some(0), None, None]);
        assert_eq!(r.throttle_package, [Some(7), Some(7), None, None]);
        assert_eq!(r.throttle_missing, None);

        let c = r.to_contract();
        assert_eq!(c.age_ms, Some(0));
        assert_eq!(c.frequency_source.as_deref(), Some("cpufreq"));
        assert_eq!(c.frequency_mhz[1], Some(3100.5));
        assert!(c.temperatures.available && c.temperatures.reason.is_none());
        assert_eq!(c.temperatures.sensors[3].temperature_c, Some(-5.3));
        assert!(c.throttle.available);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn without_cpufreq_or_hwmon_the_fallbacks_answer() {
        let root = fake_root("fallback");
        for cpu in 0..2 {
            std::fs::create_dir_all(root.join(format!("sys/devices/system/cpu/cpu{cpu}"))).expect("mkdir");
        }
        // cpu1 offline: cpuinfo lists only online processors.
        put(&root, "proc/cpuinfo", "processor\t: 0\nmodel name\t: X: Y\ncpu MHz\t\t: 2599.998\n\n");
        put(&root, "sys/class/thermal/thermal_zone0/type", "x86_pkg_temp\n");
        put(&root, "sys/class/thermal/thermal_zone0/temp", "51000\n");
        put(&root, "sys/class/thermal/thermal_zone1/temp", "40000\n");
        put(&root, "sys/class/thermal/cooling_device0/type", "Processor\n");
        let r = collector(&root).read(Instant::now()).clone();
        assert_eq!(r.frequency_source, Some(FrequencySource::Cpuinfo));
        assert_eq!(r.frequency_mhz, [Some(2599.998), None]);
        let temps: Vec<(&str, Option<f64>)> =
            r.temperatures.iter().map(|t| (t.name.as_str(), t.celsius)).collect();
        assert_eq!(temps, [("x86_pkg_temp", Some(51.0)), ("thermal_zone1", Some(40.0))]);
        assert!(r.throttle_missing.is_some() && r.throttle_core.is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn a_machine_without_sensors_says_why_and_invents_nothing() {
        let root = fake_root("none");
        std::fs::create_dir_all(root.join("sys/devices/system/cpu/cpu0")).expect("mkdir");
        put(&root, "proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\n");
        let r = collector(&root).read(Instant::now()).to_contract();
        assert_eq!((r.frequency_mhz, r.frequency_source), (vec![None], None));
        assert!(!r.temperatures.available && r.temperatures.sensors.is_empty());
        assert!(r.temperatures.reason.is_some_and(|why| why.contains("/sys/class/hwmon")));
        assert!(!r.throttle.available);
        assert!(r.throttle.reason.is_some_and(|why| why.contains("thermal_throttle")));
        // No /sys and no /proc at all.
        let r = SensorsCollector::with_roots(&root.join("nowhere"), &root.join("nowhere"))
            .read(Instant::now())
            .clone();
        assert_eq!((r.frequency_mhz.len(), r.frequency_source), (0, None));
        assert!(r.temperatures_missing.is_some() && r.throttle_missing.is_some());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn sensors_are_read_every_five_seconds_with_their_age_and_follow_what_appears() {
        let root = fake_root("cadence");
        put(&root, "sys/class/hwmon/hwmon0/name", "k10temp\n");
        put(&root, "sys/class/hwmon/hwmon0/temp1_input", "40000\n");
        let mut sensors = collector(&root);
        let t0 = Instant::now();
        assert_eq!(sensors.read(t0).temperatures[0].celsius, Some(40.0));
        put(&root, "sys/class/hwmon/hwmon0/temp1_input", "60000\n");
        put(&root, "sys/class/hwmon/hwmon1/name", "nvme\n");
        put(&root, "sys/class/hwmon/hwmon1/temp1_input", "30000\n");
        let kept = sensors.read(t0 + Duration::from_secs(1));
        assert_eq!(kept.temperatures.len(), 1, "not read again within the interval");
        assert_eq!(kept.to_contract().age_ms, Some(1000));
        let fresh = sensors.read(t0 + INTERVAL).clone();
        assert_eq!(fresh.age, Some(Duration::ZERO));
        assert_eq!(
            fresh.temperatures.iter().map(|t| t.celsius).collect::<Vec<_>>(),
            [Some(60.0), Some(30.0)]
        );
        std::fs::remove_dir_all(root.join("sys/class/hwmon/hwmon0")).expect("a chip vanishes");
        let later = sensors.read(t0 + INTERVAL * 2);
        assert_eq!(later.temperatures.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["nvme temp1"]);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn this_machine_has_a_frequency_per_core_and_says_why_anything_is_missing() {
        let r = SensorsCollector::new().read(Instant::now()).clone();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert!(r.frequency_mhz.len() >= cores, "{r:?}");
        // The reference: /proc/cpuinfo's own `cpu MHz` lines, read in the same
        // moment, within 5 % (a real CPU's clock moves between the two reads).
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
        let theirs = parse_cpuinfo_mhz(&cpuinfo);
        match r.frequency_source {
            Some(FrequencySource::Cpuinfo) => {
                assert_eq!(theirs.len(), cores);
                for (n, mhz) in theirs {
                    let ours = r.frequency_mhz[n].expect("a frequency for every online core");
                    assert!((ours - mhz).abs() <= mhz * 0.05, "cpu{n}: {ours} vs {mhz}");
                }
            }
            Some(FrequencySource::Cpufreq) => assert!(r.frequency_mhz.iter().flatten().all(|f| *f > 0.0)),
            None => assert!(theirs.is_empty(), "cpuinfo has MHz lines but none was read"),
        }
        let hwmon_temps = !hwmon_temperatures(Path::new("/sys/class/hwmon")).is_empty();
        let zones = !numbered_entries(Path::new("/sys/class/thermal"), "thermal_zone").is_empty();
        assert_eq!(r.temperatures_missing.is_none(), hwmon_temps || zones, "{r:?}");
        assert_eq!(r.temperatures_missing.is_some(), r.temperatures.is_empty());
    }
}
