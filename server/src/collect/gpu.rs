//! NVIDIA GPUs through NVML, behind the default `nvml` cargo feature.
//!
//! NVML is loaded from the driver's shared library at run time, so the server
//! builds and runs on machines without NVIDIA hardware; there every reading says
//! why there is no data, in plain words. A failed initialisation is remembered and
//! logged once, never retried per tick. Built with `--no-default-features`, the
//! server has no NVML code at all and says so.
//!
//! # Layout
//! - [`GpuReading`] / [`DeviceReading`]: every figure exactly as NVML answers it
//!   (MHz, %, bytes, mW, mJ, the clock-event bitmask), `None` where it does not.
//! - [`GpuCollector`]: what the collector remembers per device between ticks —
//!   its name (a lost device keeps it), its maximum clocks (they do not change,
//!   so they are asked for until answered, then never again), the energy counter's
//!   previous reading (power is its rate), when PCIe was last read, and the
//!   newest per-process utilisation sample it answered with.
//! - Pure helpers, tested without NVML: [`clock_event_reason_names`] (bitmask →
//!   names), [`pstate_name`], the energy meter, the PCIe cadence and the fold of
//!   per-process utilisation samples.
//! - `nvml` (the feature): the queries. Each device costs about 19 NVML calls a
//!   tick (name, utilisation, memory, temperature, power, two process lists, the
//!   processes' utilisation (a count, then the samples), two clocks, P-state,
//!   clock-event reasons, two PCIe counters, encoder, decoder, fan, energy), plus
//!   the two maximum clocks until they answer.
//!
//! A field the driver answers NOT_SUPPORTED for is `None` and named in the
//! device's `not_supported` by its payload name; any other failed query is just
//! `None` (logged at debug), and GPU_IS_LOST marks the whole device lost.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::rates::RateCounter;

/// Every NVIDIA device, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuReading {
    /// Why there is no GPU data at all; `None` when NVML answered.
    pub unavailable: Option<String>,
    /// Each device NVML lists, in index order, answering or not.
    pub devices: Vec<DeviceReading>,
    /// GPU memory held by each process, in bytes (compute and graphics).
    pub process_memory: HashMap<u32, u64>,
    /// Why `process_memory` cannot be trusted to be complete, when it cannot.
    pub process_memory_unknown: Option<String>,
    /// Each process's SM (compute and 3D) utilisation, % of one device, summed
    /// over the devices it ran on (so up to 100 × devices): per device, the mean
    /// of the samples NVML took of it since the previous read
    /// (`nvmlDeviceGetProcessUtilization`). A process that is not here ran
    /// nothing on any device in that window: 0 %, while
    /// `process_percent_unknown` is `None`.
    pub process_percent: HashMap<u32, f64>,
    /// Why `process_percent` cannot be told, or not in full, when it cannot:
    /// a device NVML does not sample per process on (NOT_SUPPORTED: many
    /// consumer cards, some datacenter ones, MIG), one that failed otherwise,
    /// or one that did not answer. What the other devices said is still in
    /// `process_percent`.
    pub process_percent_unknown: Option<String>,
}

/// One device. Values it does not report are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceReading {
    /// NVML's index of the device.
    pub index: u32,
    /// The product name (`NVIDIA H100 80GB HBM3`); the last one read while the
    /// device answered, or `GPU N`.
    pub name: String,
    /// Why the device did not answer (`GPU is lost`); `None` while it does.
    pub lost: Option<String>,
    /// Utilisation, 0–100.
    pub percent: Option<u32>,
    /// Video memory in use, bytes.
    pub memory_used_bytes: Option<u64>,
    /// Video memory installed, bytes.
    pub memory_total_bytes: Option<u64>,
    /// Core temperature, °C.
    pub temperature_c: Option<u32>,
    /// Power draw, milliwatts.
    pub power_mw: Option<u32>,
    /// Memory-controller utilisation (the `memory` of NVML's utilisation
    /// rates: time spent reading or writing device memory), 0–100.
    pub memory_controller_percent: Option<u32>,
    /// SM clock now, MHz.
    pub sm_clock_mhz: Option<u32>,
    /// The highest SM clock, MHz.
    pub sm_clock_max_mhz: Option<u32>,
    /// Memory clock now, MHz.
    pub memory_clock_mhz: Option<u32>,
    /// The highest memory clock, MHz.
    pub memory_clock_max_mhz: Option<u32>,
    /// Performance state, 0 (fastest) to 15.
    pub pstate: Option<u8>,
    /// Why the clocks are held down: NVML's clock-event (throttle) reasons
    /// bitmask, bits NVML's wrapper knows only ([`clock_event_reason_names`]).
    pub clock_event_reasons: Option<u64>,
    /// PCIe traffic into the device over NVML's last 20 ms window, bytes/s.
    pub pcie_rx_bytes_per_s: Option<u64>,
    /// PCIe traffic out of the device, bytes/s.
    pub pcie_tx_bytes_per_s: Option<u64>,
    /// How old the PCIe figures are, when they were carried from an earlier
    /// reading because this device's PCIe query is slow; `None` when fresh.
    pub pcie_age: Option<Duration>,
    /// Video encoder utilisation, 0–100.
    pub encoder_percent: Option<u32>,
    /// Video decoder utilisation, 0–100.
    pub decoder_percent: Option<u32>,
    /// Fan 0's intended speed, 0–100 % of its maximum.
    pub fan_percent: Option<u32>,
    /// The energy counter: millijoules since the driver loaded.
    pub energy_mj: Option<u64>,
    /// The energy counter's rate since the previous reading, watts; `None` on
    /// the first reading and after the counter restarts.
    pub energy_power_w: Option<f64>,
    /// The payload's names of the fields the driver answered NOT_SUPPORTED for.
    pub not_supported: Vec<&'static str>,
}

impl GpuReading {
    /// A reading that says why there is no data.
    pub fn unavailable(reason: &str) -> Self {
        GpuReading { unavailable: Some(reason.to_owned()), ..GpuReading::default() }
    }
}

/// The names of the reasons set in a clock-event (throttle) bitmask, in NVML's
/// bit order (`shared::GPU_CLOCK_EVENT_REASONS`); bits NVML may add later are
/// left out, as nvml-wrapper drops them before this sees the mask.
pub fn clock_event_reason_names(mask: u64) -> Vec<&'static str> {
    shared::GPU_CLOCK_EVENT_REASONS
        .iter()
        .enumerate()
        .filter(|(bit, _)| mask & (1 << bit) != 0)
        .map(|(_, name)| *name)
        .collect()
}

/// A P-state as `nvidia-smi` writes it: `P0` … `P15`.
pub fn pstate_name(pstate: u8) -> String {
    format!("P{pstate}")
}

/// Power from the energy counter: its rate between two readings.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
struct EnergyMeter {
    /// Turns the counter into millijoules per second.
    rate: RateCounter,
    /// The previous reading and when it was taken: without one, or when the
    /// counter went backwards (the driver reloaded), there is no rate to tell.
    previous: Option<(u64, Instant)>,
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
impl EnergyMeter {
    /// Records the counter (`total_mj`, read at `now`) and returns the power
    /// since the previous reading, watts.
    fn update(&mut self, total_mj: u64, now: Instant) -> Option<f64> {
        let continues = self.previous.is_some_and(|(before, at)| total_mj >= before && now > at);
        let mj_per_s = self.rate.update(total_mj, now);
        self.previous = Some((total_mj, now));
        continues.then_some(mj_per_s / 1000.0)
    }
}

/// A PCIe query that takes this long blocks on its measuring window (NVML
/// counts bytes over 20 ms), where a plain query takes microseconds.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
const SLOW_PCIE: Duration = Duration::from_millis(5);

/// How often a device whose PCIe query is slow is asked for it.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
const SLOW_PCIE_EVERY: Duration = Duration::from_secs(5);

/// One read of a device's two PCIe counters.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
struct PcieFigures {
    /// Bytes/s in, or `None`.
    rx: Option<u64>,
    /// Bytes/s out, or `None`.
    tx: Option<u64>,
    /// Whether each counter answered NOT_SUPPORTED, so a carried reading
    /// still names them.
    unsupported: [bool; 2],
    /// When they were read.
    at: Instant,
}

/// When to ask a device for PCIe throughput: every tick while the query is
/// cheap; at most every [`SLOW_PCIE_EVERY`] once it proved slow (a driver that
/// waits out its 20 ms window inside the call), carrying the last figures with
/// their age between. Each read is timed again, so a device whose query
/// becomes cheap goes back to every tick.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
struct PcieCadence {
    /// The last figures read.
    last: Option<PcieFigures>,
    /// Whether reading them took [`SLOW_PCIE`] or longer.
    slow: bool,
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
impl PcieCadence {
    /// Whether to query at `now`.
    fn due(&self, now: Instant) -> bool {
        match self.last {
            Some(last) if self.slow => now.saturating_duration_since(last.at) >= SLOW_PCIE_EVERY,
            _ => true,
        }
    }

    /// Keeps what a query answered and how long it took.
    fn record(&mut self, figures: PcieFigures, took: Duration) {
        self.last = Some(figures);
        self.slow = took >= SLOW_PCIE;
    }
}

/// Folds one device's per-process utilisation samples — `(pid, timestamp µs,
/// SM %)` — into `into`: each pid's mean over the samples newer than `seen`,
/// added to what other devices gave it. `seen` moves to the newest sample, so
/// the next read asks only for what came after; samples at or before it are
/// dropped, as NVML may hand back older ones with the newer.
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
fn fold_utilization(
    samples: impl IntoIterator<Item = (u32, u64, u32)>,
    seen: &mut Option<u64>,
    into: &mut HashMap<u32, f64>,
) {
    let after = seen.unwrap_or(0);
    let mut per_pid: HashMap<u32, (u64, u32)> = HashMap::new();
    for (pid, at_us, sm_percent) in samples.into_iter().filter(|(_, at, _)| *at > after) {
        let (sum, count) = per_pid.entry(pid).or_default();
        *sum += u64::from(sm_percent);
        *count += 1;
        *seen = Some(seen.map_or(at_us, |newest| newest.max(at_us)));
    }
    for (pid, (sum, count)) in per_pid {
        *into.entry(pid).or_default() += sum as f64 / f64::from(count);
    }
}

/// What the collector remembers of one device index between ticks.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
struct DeviceMemory {
    /// The name it last answered with, so a lost device is still called by it.
    name: Option<String>,
    /// Its maximum SM and memory clocks, once answered: they do not change
    /// while the device stays on the bus.
    max_clocks: [Option<u32>; 2],
    /// Its energy counter's previous reading.
    energy: EnergyMeter,
    /// When its PCIe throughput was last read.
    pcie: PcieCadence,
    /// The newest per-process utilisation sample's timestamp (NVML's CPU
    /// clock, µs): the next read asks for the samples after it. `None` until a
    /// sample came; the first read then takes whatever NVML still holds.
    utilization_seen_us: Option<u64>,
}

#[cfg_attr(not(feature = "nvml"), allow(dead_code))]
impl DeviceMemory {
    /// Forgets everything but the name: after a loss the device (or another
    /// one in its place) starts afresh.
    fn restart(&mut self) {
        *self = DeviceMemory { name: self.name.take(), ..DeviceMemory::default() };
    }
}

/// Reads NVIDIA devices, remembering per device what the next tick needs.
#[derive(Debug, Default)]
pub struct GpuCollector {
    /// Per device index.
    devices: HashMap<u32, DeviceMemory>,
}

impl GpuCollector {
    /// Reads every device. Blocking (NVML calls into the driver): call it from a
    /// blocking thread.
    pub fn read(&mut self) -> GpuReading {
        read(&mut self.devices)
    }
}

/// This build has no NVML code.
#[cfg(not(feature = "nvml"))]
fn read(_devices: &mut HashMap<u32, DeviceMemory>) -> GpuReading {
    GpuReading::unavailable("this PerfMon was built without NVIDIA support")
}

#[cfg(feature = "nvml")]
use nvml::read;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_event_reasons_are_named_by_bit_in_nvmls_order() {
        // nvmlClocksEventReason*: GpuIdle 0x1, ApplicationsClocksSetting 0x2,
        // SwPowerCap 0x4, HwSlowdown 0x8, SyncBoost 0x10, SwThermalSlowdown 0x20,
        // HwThermalSlowdown 0x40, HwPowerBrakeSlowdown 0x80, DisplayClockSetting 0x100.
        assert!(clock_event_reason_names(0).is_empty(), "0 is NVML's None: nothing holds the clocks");
        assert_eq!(clock_event_reason_names(0x1), ["gpu_idle"]);
        assert_eq!(clock_event_reason_names(0x4 | 0x40), ["sw_power_cap", "hw_thermal_slowdown"]);
        assert_eq!(clock_event_reason_names(0x100), ["display_clock_setting"]);
        assert_eq!(clock_event_reason_names(0x1ff), shared::GPU_CLOCK_EVENT_REASONS);
        assert_eq!(
            clock_event_reason_names(0x80 | 1 << 40),
            ["hw_power_brake_slowdown"],
            "unknown bits left out"
        );
    }

    #[test]
    fn pstates_read_as_nvidia_smi_writes_them() {
        assert_eq!((pstate_name(0), pstate_name(15)), ("P0".to_owned(), "P15".to_owned()));
    }

    #[test]
    fn power_is_the_energy_counters_rate_and_unknown_until_there_are_two_readings() {
        let mut meter = EnergyMeter::default();
        let t0 = Instant::now();
        assert_eq!(meter.update(1_000_000, t0), None, "one reading has no rate: unknown, not 0 W");
        // 300 J in 2 s: 150 W.
        assert_eq!(meter.update(1_300_000, t0 + Duration::from_secs(2)), Some(150.0));
        assert_eq!(meter.update(1_300_000, t0 + Duration::from_secs(3)), Some(0.0), "an idle counter is 0 W");
        // The driver reloaded: the counter restarts, and that interval has no rate.
        assert_eq!(meter.update(500, t0 + Duration::from_secs(4)), None);
        assert_eq!(meter.update(250_500, t0 + Duration::from_secs(5)), Some(250.0), "and the next one does");
        assert_eq!(meter.update(260_500, t0 + Duration::from_secs(5)), None, "no time between: no rate");
    }

    fn figures(at: Instant) -> PcieFigures {
        PcieFigures { rx: Some(1024), tx: Some(2048), unsupported: [false; 2], at }
    }

    #[test]
    fn pcie_is_read_every_tick_while_cheap_and_every_5_s_once_slow() {
        let t0 = Instant::now();
        let mut cadence = PcieCadence::default();
        assert!(cadence.due(t0), "the first tick reads");
        cadence.record(figures(t0), Duration::from_micros(40));
        assert!(cadence.due(t0 + Duration::from_millis(200)), "cheap: every tick");
        cadence.record(figures(t0), Duration::from_millis(40));
        assert!(!cadence.due(t0 + Duration::from_secs(1)), "slow: carried");
        assert!(!cadence.due(t0 + Duration::from_millis(4_999)));
        assert!(cadence.due(t0 + SLOW_PCIE_EVERY), "and read again after 5 s");
        // A read that is cheap again brings back every tick.
        cadence.record(figures(t0 + SLOW_PCIE_EVERY), Duration::from_micros(40));
        assert!(cadence.due(t0 + SLOW_PCIE_EVERY + Duration::from_millis(200)));
    }

    #[test]
    fn a_device_that_restarts_keeps_only_its_name() {
        let t0 = Instant::now();
        let mut memory = DeviceMemory {
            name: Some("GPU-A".into()),
            max_clocks: [Some(1980), Some(2619)],
            ..DeviceMemory::default()
        };
        memory.energy.update(1, t0);
        memory.pcie.record(figures(t0), Duration::from_millis(40));
        memory.restart();
        assert_eq!((memory.name.as_deref(), memory.max_clocks), (Some("GPU-A"), [None, None]));
        assert_eq!(memory.energy.update(1_000_000, t0 + Duration::from_secs(1)), None, "no old baseline");
        assert!(memory.pcie.due(t0) && memory.pcie.last.is_none());
    }

    #[test]
    fn a_pids_utilisation_is_the_mean_of_its_samples_since_the_last_read() {
        let (mut seen, mut percent) = (None, HashMap::new());
        fold_utilization([(7, 100, 40), (8, 101, 5), (7, 102, 60)], &mut seen, &mut percent);
        assert_eq!(percent, HashMap::from([(7, 50.0), (8, 5.0)]));
        assert_eq!(seen, Some(102), "the next read asks for what came after the newest");
    }

    #[test]
    fn a_pid_on_two_devices_is_the_sum_of_its_means() {
        let mut percent = HashMap::new();
        let (mut seen_0, mut seen_1) = (None, Some(500));
        fold_utilization([(7, 100, 40), (7, 101, 60)], &mut seen_0, &mut percent);
        fold_utilization([(7, 501, 30), (9, 502, 25)], &mut seen_1, &mut percent);
        assert_eq!(percent, HashMap::from([(7, 80.0), (9, 25.0)]), "50 % on one, 30 % on the other");
        assert_eq!((seen_0, seen_1), (Some(101), Some(502)), "each device keeps its own timestamp");
    }

    #[test]
    fn samples_at_or_before_the_last_seen_are_left_out_and_none_leaves_it_as_it_was() {
        let (mut seen, mut percent) = (Some(200), HashMap::new());
        fold_utilization([(7, 150, 90), (7, 200, 90), (7, 201, 10)], &mut seen, &mut percent);
        assert_eq!((percent.get(&7), seen), (Some(&10.0), Some(201)));
        let mut none = HashMap::new();
        fold_utilization([(7, 201, 90)], &mut seen, &mut none);
        assert!(none.is_empty(), "nothing new: 0 % for every process");
        assert_eq!(seen, Some(201));
    }

    #[test]
    fn a_device_that_restarts_forgets_its_utilisation_timestamp() {
        let mut memory = DeviceMemory { utilization_seen_us: Some(5), ..DeviceMemory::default() };
        memory.restart();
        assert_eq!(memory.utilization_seen_us, None, "a new driver's clock may start anywhere");
    }

    #[cfg(not(feature = "nvml"))]
    #[test]
    fn without_nvml_the_gpu_is_unavailable_with_a_reason() {
        let reading = GpuCollector::default().read();
        assert_eq!(reading.unavailable.as_deref(), Some("this PerfMon was built without NVIDIA support"));
        assert!(reading.devices.is_empty() && reading.process_memory.is_empty());
    }
}

#[cfg(feature = "nvml")]
mod nvml {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    use std::time::Instant;

    use nvml_wrapper::enum_wrappers::device::{Clock, PcieUtilCounter, PerformanceState, TemperatureSensor};
    use nvml_wrapper::enums::device::UsedGpuMemory;
    use nvml_wrapper::error::NvmlError;
    use nvml_wrapper::{Device, Nvml};

    use super::{DeviceMemory, DeviceReading, GpuReading, PcieFigures, fold_utilization};

    /// NVML, or the plain-words reason it could not be had: initialised once per
    /// process, its failure remembered and logged once, never retried per tick.
    static NVML: OnceLock<Result<Nvml, String>> = OnceLock::new();

    fn nvml() -> Result<&'static Nvml, &'static str> {
        NVML.get_or_init(|| {
            Nvml::init().map_err(|err| {
                let reason = init_failure_reason(&err);
                tracing::info!("GPU metrics unavailable: {reason} ({err})");
                reason
            })
        })
        .as_ref()
        .map_err(String::as_str)
    }

    /// An NVML initialisation error in words for the panel: the driver's own
    /// message for what the driver said, plain words (no library paths) for a
    /// library that could not be loaded.
    pub fn init_failure_reason(err: &NvmlError) -> String {
        match err {
            NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => {
                "NVIDIA driver library not found".into()
            }
            NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound => {
                "NVIDIA driver library is too old".into()
            }
            driver => driver.to_string(),
        }
    }

    /// The reason shown for a device that stopped answering.
    const LOST: &str = "GPU is lost";

    pub fn read(memory: &mut HashMap<u32, DeviceMemory>) -> GpuReading {
        let nvml = match nvml() {
            Ok(nvml) => nvml,
            Err(reason) => return GpuReading::unavailable(reason),
        };
        let count = match nvml.device_count() {
            Ok(0) => return GpuReading::unavailable("no NVIDIA device"),
            Ok(n) => n,
            Err(err) => {
                tracing::warn!("NVML device count failed: {err}");
                return GpuReading::unavailable(&err.to_string());
            }
        };
        // A device that left the list is forgotten; the map stays bounded by it.
        memory.retain(|index, _| *index < count);
        let mut out = GpuReading::default();
        for index in 0..count {
            let mem = memory.entry(index).or_default();
            let name = |mem: &DeviceMemory| mem.name.clone().unwrap_or_else(|| format!("GPU {index}"));
            let reading = match nvml.device_by_index(index) {
                Ok(device) => read_device(index, &device, mem, &mut out),
                Err(err) => DeviceReading {
                    index,
                    name: name(mem),
                    lost: Some(lost_reason(&err)),
                    ..Default::default()
                },
            };
            let reading = match reading.lost {
                Some(_) => {
                    mem.restart();
                    DeviceReading { name: name(mem), ..reading }
                }
                None => {
                    mem.name = Some(reading.name.clone());
                    reading
                }
            };
            if reading.lost.is_some() {
                // A lost device's processes cannot be listed: a run's share of
                // GPU memory and utilisation is then unknown, not zero.
                out.process_memory_unknown.get_or_insert_with(|| format!("GPU {index} did not answer"));
                out.process_percent_unknown.get_or_insert_with(|| format!("GPU {index} did not answer"));
            }
            out.devices.push(reading);
        }
        out
    }

    /// Why a device did not answer, in plain words.
    fn lost_reason(err: &NvmlError) -> String {
        match err {
            NvmlError::GpuLost => LOST.to_owned(),
            other => other.to_string(),
        }
    }

    /// One query's answer: the value, or `None` with the reason noted in `reading`
    /// (not supported, or the device lost).
    fn field<T>(reading: &mut DeviceReading, name: &'static str, result: Result<T, NvmlError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(NvmlError::NotSupported) => {
                reading.not_supported.push(name);
                None
            }
            Err(NvmlError::GpuLost) => {
                reading.lost = Some(LOST.to_owned());
                None
            }
            Err(err) => {
                tracing::debug!("NVML device {}: {name} unreadable: {err}", reading.index);
                None
            }
        }
    }

    /// Queries that answer several payload fields at once, and those fields:
    /// `not_supported` names the fields, not the query.
    const QUERIES: [(&str, &[&str]); 3] = [
        ("utilization", &["percent", "memory_controller_percent"]),
        ("vram", &["vram_used_gb", "vram_total_gb"]),
        ("energy", &["energy_power_w", "energy_total_j"]),
    ];

    /// One device's figures; each query is tolerated on its own, so a device
    /// that does not support one value still reports the others.
    fn read_device(
        index: u32,
        device: &Device<'_>,
        mem: &mut DeviceMemory,
        out: &mut GpuReading,
    ) -> DeviceReading {
        let mut reading = DeviceReading { index, ..DeviceReading::default() };
        let name = field(&mut reading, "name", device.name());
        if name.as_ref().is_some_and(|name| mem.name.as_ref().is_some_and(|known| known != name)) {
            // Another device in this slot: nothing remembered of the old one holds.
            mem.restart();
        }
        let utilization = field(&mut reading, "utilization", device.utilization_rates());
        let memory = field(&mut reading, "vram", device.memory_info());
        let temperature = field(&mut reading, "temperature_c", device.temperature(TemperatureSensor::Gpu));
        let power = field(&mut reading, "power_w", device.power_usage());
        let mut processes = Vec::new();
        let mut unsupported = 0;
        for list in [device.running_compute_processes(), device.running_graphics_processes()] {
            match list {
                Ok(list) => processes.extend(list),
                // Many compute cards list no graphics processes: one list is enough.
                Err(NvmlError::NotSupported) => unsupported += 1,
                Err(NvmlError::GpuLost) => reading.lost = Some(LOST.to_owned()),
                Err(err) => {
                    out.process_memory_unknown
                        .get_or_insert_with(|| format!("GPU processes unreadable: {err}"));
                }
            }
        }
        if unsupported == 2 {
            // Neither list answers: a run's share cannot be told, which is not 0.
            out.process_memory_unknown
                .get_or_insert_with(|| "this GPU does not report its processes' memory".to_owned());
        }
        for process in processes {
            if let UsedGpuMemory::Used(bytes) = process.used_gpu_memory {
                *out.process_memory.entry(process.pid).or_default() += bytes;
            }
        }
        read_process_utilization(index, device, mem, &mut reading, out);
        read_depth(device, mem, &mut reading);
        if reading.lost.is_some() {
            // A device that fell off the bus answers nothing trustworthy.
            return DeviceReading { index, lost: reading.lost, ..DeviceReading::default() };
        }
        // A device always has a name; a query that answers several fields names them all.
        reading.not_supported.retain(|f| *f != "name");
        reading.not_supported = reading
            .not_supported
            .iter()
            .flat_map(|f| {
                QUERIES.iter().find(|(query, _)| query == f).map_or(std::slice::from_ref(f), |q| q.1)
            })
            .copied()
            .collect();
        DeviceReading {
            name: name.unwrap_or_else(|| format!("GPU {index}")),
            percent: utilization.as_ref().map(|u| u.gpu),
            memory_controller_percent: utilization.as_ref().map(|u| u.memory),
            memory_used_bytes: memory.as_ref().map(|m| m.used),
            memory_total_bytes: memory.as_ref().map(|m| m.total),
            temperature_c: temperature,
            power_mw: power,
            ..reading
        }
    }

    /// Each process's SM utilisation on `device` since the previous read, into
    /// `out.process_percent`; why it cannot be told, into
    /// `out.process_percent_unknown`. Two NVML calls (a count, then the
    /// samples), or one when there is nothing to read.
    fn read_process_utilization(
        index: u32,
        device: &Device<'_>,
        mem: &mut DeviceMemory,
        reading: &mut DeviceReading,
        out: &mut GpuReading,
    ) {
        match device.process_utilization_stats(mem.utilization_seen_us) {
            Ok(samples) => fold_utilization(
                samples.iter().map(|s| (s.pid, s.timestamp, s.sm_util)),
                &mut mem.utilization_seen_us,
                &mut out.process_percent,
            ),
            Err(NvmlError::GpuLost) => reading.lost = Some(LOST.to_owned()),
            Err(err) => {
                if let Some(reason) = utilization_unknown(index, &err) {
                    out.process_percent_unknown.get_or_insert(reason);
                }
            }
        }
    }

    /// Why a device's per-process utilisation cannot be told, from NVML's
    /// error; `None` for NOT_FOUND, which is NVML's "no sample since that
    /// timestamp": no process ran on the device, 0 % for all.
    pub fn utilization_unknown(index: u32, err: &NvmlError) -> Option<String> {
        match err {
            NvmlError::NotFound => None,
            NvmlError::NotSupported => {
                Some(format!("NVML does not report per-process utilisation on GPU {index} (NOT_SUPPORTED)"))
            }
            other => Some(format!("NVML could not read per-process utilisation on GPU {index}: {other}")),
        }
    }

    /// The depth figures (clocks, P-state, clock-event reasons, PCIe, codecs,
    /// fan, energy), into `reading` beside what is not supported, or a loss.
    fn read_depth(device: &Device<'_>, mem: &mut DeviceMemory, reading: &mut DeviceReading) {
        reading.sm_clock_mhz = field(reading, "sm_clock_mhz", device.clock_info(Clock::SM));
        reading.memory_clock_mhz = field(reading, "memory_clock_mhz", device.clock_info(Clock::Memory));
        let [sm_max, memory_max] = &mut mem.max_clocks;
        for (max, clock, name) in
            [(sm_max, Clock::SM, "sm_clock_max_mhz"), (memory_max, Clock::Memory, "memory_clock_max_mhz")]
        {
            if max.is_none() {
                *max = field(reading, name, device.max_clock_info(clock));
            }
        }
        [reading.sm_clock_max_mhz, reading.memory_clock_max_mhz] = mem.max_clocks;
        reading.pstate = field(reading, "pstate", device.performance_state()).and_then(|p| match p {
            PerformanceState::Unknown => None,
            known => u8::try_from(known.as_c()).ok(),
        });
        // nvml-wrapper asks under the older name (…ClocksThrottleReasons), which
        // drivers still export beside …ClocksEventReasons.
        reading.clock_event_reasons =
            field(reading, "clock_event_reasons", device.current_throttle_reasons()).map(|r| r.bits());
        reading.pcie_age = read_pcie(device, mem, reading);
        let pcie = mem.pcie.last;
        reading.pcie_rx_bytes_per_s = pcie.and_then(|p| p.rx);
        reading.pcie_tx_bytes_per_s = pcie.and_then(|p| p.tx);
        reading.encoder_percent =
            field(reading, "encoder_percent", device.encoder_utilization()).map(|u| u.utilization);
        reading.decoder_percent =
            field(reading, "decoder_percent", device.decoder_utilization()).map(|u| u.utilization);
        reading.fan_percent = field(reading, "fan_percent", device.fan_speed(0));
        reading.energy_mj = field(reading, "energy", device.total_energy_consumption());
        reading.energy_power_w = reading.energy_mj.and_then(|mj| mem.energy.update(mj, Instant::now()));
    }

    /// Reads the PCIe counters into `mem.pcie` when due (timing the read), and
    /// returns the age of the figures when they were carried instead.
    fn read_pcie(
        device: &Device<'_>,
        mem: &mut DeviceMemory,
        reading: &mut DeviceReading,
    ) -> Option<std::time::Duration> {
        const NAMES: [&str; 2] = ["pcie_rx_bytes_per_s", "pcie_tx_bytes_per_s"];
        let start = Instant::now();
        if !mem.pcie.due(start) {
            let last = mem.pcie.last?;
            for (name, unsupported) in NAMES.into_iter().zip(last.unsupported) {
                if unsupported {
                    reading.not_supported.push(name);
                }
            }
            return Some(start.saturating_duration_since(last.at));
        }
        let before = reading.not_supported.len();
        // NVML counts KB (KiB, as nvidia-smi divides them) per second.
        let kib = |counter| device.pcie_throughput(counter).map(|kbs| u64::from(kbs) * 1024);
        let rx = field(reading, NAMES[0], kib(PcieUtilCounter::Receive));
        let tx = field(reading, NAMES[1], kib(PcieUtilCounter::Send));
        let named = &reading.not_supported[before..];
        let unsupported = NAMES.map(|name| named.contains(&name));
        mem.pcie.record(PcieFigures { rx, tx, unsupported, at: start }, start.elapsed());
        None
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_missing_driver_library_reads_as_plain_words() {
            assert_eq!(init_failure_reason(&NvmlError::LibraryNotFound), "NVIDIA driver library not found");
            assert_eq!(init_failure_reason(&NvmlError::DriverNotLoaded), "NVIDIA driver is not loaded");
        }

        #[test]
        fn per_process_utilisation_errors_read_as_zero_or_a_reason_naming_the_device() {
            assert_eq!(utilization_unknown(0, &NvmlError::NotFound), None, "no samples: 0 %, not unknown");
            assert_eq!(
                utilization_unknown(1, &NvmlError::NotSupported).as_deref(),
                Some("NVML does not report per-process utilisation on GPU 1 (NOT_SUPPORTED)")
            );
            let other = utilization_unknown(2, &NvmlError::NoPermission).expect("a reason");
            assert!(other.starts_with("NVML could not read per-process utilisation on GPU 2: "), "{other}");
            assert!(other.len() > "NVML could not read per-process utilisation on GPU 2: ".len(), "{other}");
        }
    }
}
