//! NVIDIA GPUs through NVML, behind the default `nvml` cargo feature.
//!
//! NVML is loaded from the driver's shared library at run time, so the server
//! builds and runs on machines without NVIDIA hardware; there every reading says
//! why there is no data, in plain words. A failed initialisation is remembered and
//! logged once, never retried per tick. Built with `--no-default-features`, the
//! server has no NVML code at all and says so.

use std::collections::HashMap;

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
    /// The payload's names of the fields the driver answered NOT_SUPPORTED for.
    pub not_supported: Vec<&'static str>,
}

impl GpuReading {
    /// A reading that says why there is no data.
    pub fn unavailable(reason: &str) -> Self {
        GpuReading { unavailable: Some(reason.to_owned()), ..GpuReading::default() }
    }
}

/// Reads NVIDIA devices; remembers each device's name, so a device that falls
/// off the bus is still called by it.
#[derive(Debug, Default)]
pub struct GpuCollector {
    /// The name each device index last answered with.
    names: HashMap<u32, String>,
}

impl GpuCollector {
    /// Reads every device. Blocking (NVML calls into the driver): call it from a
    /// blocking thread.
    pub fn read(&mut self) -> GpuReading {
        read(&mut self.names)
    }
}

/// This build has no NVML code.
#[cfg(not(feature = "nvml"))]
fn read(_names: &mut HashMap<u32, String>) -> GpuReading {
    GpuReading::unavailable("this PerfMon was built without NVIDIA support")
}

#[cfg(feature = "nvml")]
use nvml::read;

#[cfg(all(test, not(feature = "nvml")))]
mod tests {
    #[test]
    fn without_nvml_the_gpu_is_unavailable_with_a_reason() {
        let reading = super::GpuCollector::default().read();
        assert_eq!(reading.unavailable.as_deref(), Some("this PerfMon was built without NVIDIA support"));
        assert!(reading.devices.is_empty() && reading.process_memory.is_empty());
    }
}

#[cfg(feature = "nvml")]
mod nvml {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    use nvml_wrapper::enums::device::UsedGpuMemory;
    use nvml_wrapper::error::NvmlError;
    use nvml_wrapper::{Device, Nvml};

    use super::{DeviceReading, GpuReading};

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

    pub fn read(names: &mut HashMap<u32, String>) -> GpuReading {
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
        let mut out = GpuReading::default();
        for index in 0..count {
            let name = || names.get(&index).cloned().unwrap_or_else(|| format!("GPU {index}"));
            let reading = match nvml.device_by_index(index) {
                Ok(device) => read_device(index, &device, &mut out),
                Err(err) => {
                    DeviceReading { index, name: name(), lost: Some(lost_reason(&err)), ..Default::default() }
                }
            };
            let reading = match reading.lost {
                Some(_) => DeviceReading { name: name(), ..reading },
                None => {
                    names.insert(index, reading.name.clone());
                    reading
                }
            };
            if reading.lost.is_some() {
                // A lost device's processes cannot be listed: a run's share of
                // GPU memory is then unknown, not zero.
                out.process_memory_unknown.get_or_insert_with(|| format!("GPU {index} did not answer"));
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

    /// One device's figures; each query is tolerated on its own, so a device
    /// that does not support one value still reports the others.
    fn read_device(index: u32, device: &Device<'_>, out: &mut GpuReading) -> DeviceReading {
        let mut reading = DeviceReading { index, ..DeviceReading::default() };
        let name = field(&mut reading, "name", device.name());
        let percent = field(&mut reading, "percent", device.utilization_rates().map(|u| u.gpu));
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
        if reading.lost.is_some() {
            // A device that fell off the bus answers nothing trustworthy.
            return DeviceReading { index, lost: reading.lost, ..DeviceReading::default() };
        }
        // One query answers both memory figures, and a device always has a name.
        reading.not_supported.retain(|f| *f != "name");
        if let Some(at) = reading.not_supported.iter().position(|f| *f == "vram") {
            reading.not_supported.splice(at..=at, ["vram_used_gb", "vram_total_gb"]);
        }
        DeviceReading {
            name: name.unwrap_or_else(|| format!("GPU {index}")),
            percent,
            memory_used_bytes: memory.as_ref().map(|m| m.used),
            memory_total_bytes: memory.as_ref().map(|m| m.total),
            temperature_c: temperature,
            power_mw: power,
            ..reading
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_missing_driver_library_reads_as_plain_words() {
            assert_eq!(init_failure_reason(&NvmlError::LibraryNotFound), "NVIDIA driver library not found");
            assert_eq!(init_failure_reason(&NvmlError::DriverNotLoaded), "NVIDIA driver is not loaded");
        }
    }
}
