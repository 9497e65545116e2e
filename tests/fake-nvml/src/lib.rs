//! A stand-in `libnvidia-ml.so.1` for PerfMon's tests on machines without a GPU:
//! the real server loads it through `LD_LIBRARY_PATH` as it would NVIDIA's, and
//! answers what a test wrote in a config file — devices, their figures (clocks,
//! P-state, clock-event reasons, PCIe, encoder and decoder, fan, an energy counter
//! that grows as the test says), fields that are not supported, a device lost
//! after some reads, per-process GPU memory and utilisation samples, or an
//! initialisation that fails.
//!
//! The library itself is C (`fake_nvml.c`, built by this crate's build script);
//! this crate gives tests its location and a typed way to write its config. The
//! library re-reads the config once per sampler tick, so a test can change the
//! GPUs under a running server.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The directory holding the built `libnvidia-ml.so.1`.
pub fn lib_dir() -> &'static Path {
    Path::new(env!("FAKE_NVML_DIR"))
}

/// How `nvmlInit_v2` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// Success.
    #[default]
    Ok,
    /// `NVML_ERROR_LIB_RM_VERSION_MISMATCH`: the driver and library disagree.
    RmVersionMismatch,
    /// `NVML_ERROR_DRIVER_NOT_LOADED`.
    DriverNotLoaded,
}

/// One fake device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The product name.
    pub name: String,
    /// Utilisation, percent.
    pub util: u32,
    /// Memory installed, bytes.
    pub mem_total: u64,
    /// Memory in use, bytes.
    pub mem_used: u64,
    /// Temperature, °C.
    pub temp: u32,
    /// Power draw, milliwatts.
    pub power_mw: u32,
    /// Memory-controller utilisation (`nvmlUtilization_t.memory`), percent.
    pub mem_util: u32,
    /// SM clock now and at most, MHz.
    pub sm_clock_mhz: (u32, u32),
    /// Memory clock now and at most, MHz.
    pub mem_clock_mhz: (u32, u32),
    /// Performance state, 0–15 (32: NVML's unknown).
    pub pstate: u32,
    /// The clock-event (throttle) reasons bitmask, as NVML's constants number them.
    pub clock_events: u64,
    /// PCIe throughput received and sent, KB/s (NVML's unit).
    pub pcie_kbs: (u32, u32),
    /// How long each PCIe throughput call sleeps, µs: a driver that measures its
    /// 20 ms window during the call.
    pub pcie_delay_us: u32,
    /// Encoder and decoder utilisation, percent.
    pub codec_percent: (u32, u32),
    /// Fan 0's speed, percent.
    pub fan_percent: u32,
    /// The energy counter when the library loads this config, mJ.
    pub energy_mj: u64,
    /// How fast the energy counter grows from then, mW (mJ per second).
    pub energy_rate_mw: u64,
    /// Fields answering `NVML_ERROR_NOT_SUPPORTED`: any of `util`, `memory`,
    /// `temp`, `power`, `processes`, `process_util` (per-process utilisation),
    /// `sm_clock`, `sm_clock_max`, `mem_clock`, `mem_clock_max`, `pstate`,
    /// `clock_events`, `pcie`, `encoder`, `decoder`, `fan`, `energy`.
    pub not_supported: Vec<&'static str>,
    /// The NVML return code `nvmlDeviceGetProcessUtilization` answers instead
    /// of samples (4: `NVML_ERROR_NO_PERMISSION`), for errors other than
    /// NOT_SUPPORTED.
    pub process_util_error: Option<u32>,
    /// Answers `NVML_ERROR_GPU_IS_LOST` after this many handle reads (one per tick).
    pub lost_after: Option<u32>,
}

/// 1 GiB, the unit `nvidia-smi` counts GPU memory in (as MiB).
pub const GIB: u64 = 1 << 30;

impl Device {
    /// An 80 GiB H100 at `util` % using `used_gib` GiB, 50 °C, 300 W (and its
    /// energy counter growing at 300 W), at full clocks in P0, nothing
    /// throttling, no PCIe, codec or fan activity.
    pub fn h100(util: u32, used_gib: u64) -> Self {
        Device {
            name: "NVIDIA H100 80GB HBM3".into(),
            util,
            mem_total: 80 * GIB,
            mem_used: used_gib * GIB,
            temp: 50,
            power_mw: 300_000,
            mem_util: 0,
            sm_clock_mhz: (1980, 1980),
            mem_clock_mhz: (2619, 2619),
            pstate: 0,
            clock_events: 0,
            pcie_kbs: (0, 0),
            pcie_delay_us: 0,
            codec_percent: (0, 0),
            fan_percent: 0,
            energy_mj: 0,
            energy_rate_mw: 300_000,
            not_supported: Vec::new(),
            process_util_error: None,
            lost_after: None,
        }
    }
}

/// What the fake library answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// How initialisation answers.
    pub init: Init,
    /// The devices, in index order.
    pub devices: Vec<Device>,
    /// Compute processes: (pid, device index, bytes of GPU memory).
    pub processes: Vec<(u32, u32, u64)>,
    /// Per-process utilisation samples, one each: (pid, device index, SM %).
    /// The library stamps them with the time it loads this config, so each is
    /// handed out once to a reader that passes back the newest timestamp it
    /// saw; a new config (text that differs) brings newer ones.
    pub process_utilization: Vec<(u32, u32, u32)>,
}

impl Config {
    /// The config file's text.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let init = match self.init {
            Init::Ok => "ok",
            Init::RmVersionMismatch => "rm_version_mismatch",
            Init::DriverNotLoaded => "driver_not_loaded",
        };
        let _ = writeln!(text, "init={init}\ndevices={}", self.devices.len());
        for (i, d) in self.devices.iter().enumerate() {
            let _ = writeln!(
                text,
                "device.{i}.name={}\ndevice.{i}.util={}\ndevice.{i}.mem_total={}\ndevice.{i}.mem_used={}\n\
                 device.{i}.temp={}\ndevice.{i}.power_mw={}\ndevice.{i}.not_supported={}",
                d.name,
                d.util,
                d.mem_total,
                d.mem_used,
                d.temp,
                d.power_mw,
                d.not_supported.join(",")
            );
            let _ = writeln!(
                text,
                "device.{i}.mem_util={}\ndevice.{i}.sm_clock={}\ndevice.{i}.sm_clock_max={}\n\
                 device.{i}.mem_clock={}\ndevice.{i}.mem_clock_max={}\ndevice.{i}.pstate={}\n\
                 device.{i}.clock_events={}\ndevice.{i}.pcie_rx_kbs={}\ndevice.{i}.pcie_tx_kbs={}\n\
                 device.{i}.pcie_delay_us={}\ndevice.{i}.encoder={}\ndevice.{i}.decoder={}\n\
                 device.{i}.fan={}\ndevice.{i}.energy_mj={}\ndevice.{i}.energy_rate_mw={}",
                d.mem_util,
                d.sm_clock_mhz.0,
                d.sm_clock_mhz.1,
                d.mem_clock_mhz.0,
                d.mem_clock_mhz.1,
                d.pstate,
                d.clock_events,
                d.pcie_kbs.0,
                d.pcie_kbs.1,
                d.pcie_delay_us,
                d.codec_percent.0,
                d.codec_percent.1,
                d.fan_percent,
                d.energy_mj,
                d.energy_rate_mw
            );
            if let Some(n) = d.lost_after {
                let _ = writeln!(text, "device.{i}.lost_after={n}");
            }
            if let Some(code) = d.process_util_error {
                let _ = writeln!(text, "device.{i}.process_util_error={code}");
            }
        }
        for (pid, device, bytes) in &self.processes {
            let _ = writeln!(text, "process.{pid}={device}:{bytes}");
        }
        for (pid, device, sm_percent) in &self.process_utilization {
            let _ = writeln!(text, "process_util.{pid}={device}:{sm_percent}");
        }
        text
    }
}

/// A config file in a directory of its own, and the environment that makes a
/// process load the fake library with it. The directory [`FakeGpus::new`] made
/// is removed with it, so test runs leave nothing behind.
#[derive(Debug)]
pub struct FakeGpus {
    /// The config file.
    pub path: PathBuf,
    /// The directory `new` made, removed on drop; `None` for [`FakeGpus::at`],
    /// a handle on a config another process owns.
    made: Option<PathBuf>,
}

impl Drop for FakeGpus {
    fn drop(&mut self) {
        if let Some(dir) = &self.made {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl FakeGpus {
    /// Writes `config` to a fresh file under `dir`, a directory the fake owns
    /// from now on: it is removed when the fake is dropped.
    pub fn new(dir: &Path, config: &Config) -> Self {
        std::fs::create_dir_all(dir).expect("create the fake GPUs' directory");
        let fake = FakeGpus { path: dir.join("fake-nvml.conf"), made: Some(dir.to_owned()) };
        let _ = std::fs::remove_file(fake.inits_path());
        fake.set(config);
        fake
    }

    /// A handle on the config at `path`, written by a fake another process
    /// owns (a test's child): changes what it answers, removes nothing.
    pub fn at(path: PathBuf) -> Self {
        FakeGpus { path, made: None }
    }

    /// Replaces what the library answers (it notices at the next tick).
    pub fn set(&self, config: &Config) {
        // Written whole, then renamed, so the library never reads half a file.
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, config.render()).expect("write the fake NVML config");
        std::fs::rename(&tmp, &self.path).expect("replace the fake NVML config");
    }

    /// The environment that makes a process load the fake library with this config.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LD_LIBRARY_PATH", lib_dir().display().to_string()),
            ("FAKE_NVML_CONFIG", self.path.display().to_string()),
        ]
    }

    fn inits_path(&self) -> PathBuf {
        self.path.with_extension("conf.inits")
    }

    /// How many times a process initialised NVML with this config.
    pub fn inits(&self) -> usize {
        std::fs::read_to_string(self.inits_path()).map(|text| text.lines().count()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_built() {
        assert!(lib_dir().join("libnvidia-ml.so.1").is_file());
    }

    #[test]
    fn configs_render_one_key_per_line() {
        let mut d = Device::h100(40, 10);
        d.not_supported = vec!["power", "temp"];
        d.lost_after = Some(3);
        d.sm_clock_mhz = (1410, 1980);
        d.clock_events = 0x44;
        d.pcie_kbs = (2048, 1024);
        d.process_util_error = Some(4);
        let text = Config {
            devices: vec![d],
            processes: vec![(42, 0, 5)],
            process_utilization: vec![(42, 0, 30), (42, 0, 50)],
            ..Config::default()
        }
        .render();
        for line in [
            "init=ok",
            "devices=1",
            "device.0.util=40",
            "device.0.mem_total=85899345920",
            "device.0.not_supported=power,temp",
            "device.0.lost_after=3",
            "device.0.sm_clock=1410",
            "device.0.sm_clock_max=1980",
            "device.0.clock_events=68",
            "device.0.pcie_rx_kbs=2048",
            "device.0.pcie_tx_kbs=1024",
            "device.0.energy_rate_mw=300000",
            "process.42=0:5",
            "device.0.process_util_error=4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let samples: Vec<&str> = text.lines().filter(|l| l.starts_with("process_util.")).collect();
        assert_eq!(samples, ["process_util.42=0:30", "process_util.42=0:50"], "a line per sample, in order");
    }
}
