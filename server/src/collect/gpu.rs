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
    /// Why there is no GPU data; `None` when NVML answered.
    pub unavailable: Option<String>,
    /// Each device that answered, in NVML index order.
    pub devices: Vec<DeviceReading>,
    /// GPU memory held by each process, in bytes, where NVML reports it.
    pub process_memory: HashMap<u32, u64>,
}

/// One device. Values it does not report are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceReading {
    /// NVML's index of the device.
    pub index: u32,
    /// The product name (`NVIDIA H100 80GB HBM3`).
    pub name: String,
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
}

impl GpuReading {
    /// A reading that says why there is no data.
    pub fn unavailable(reason: &str) -> Self {
        GpuReading { unavailable: Some(reason.to_owned()), ..GpuReading::default() }
    }
}

/// Reads every NVIDIA device. Blocking (NVML calls into the driver): call it
/// from a blocking thread.
#[cfg(feature = "nvml")]
pub fn read() -> GpuReading {
    nvml::read()
}

/// This build has no NVML code.
#[cfg(not(feature = "nvml"))]
pub fn read() -> GpuReading {
    GpuReading::unavailable("this PerfMon was built without NVIDIA support")
}

#[cfg(all(test, not(feature = "nvml")))]
mod tests {
    #[test]
    fn without_nvml_the_gpu_is_unavailable_with_a_reason() {
        let reading = super::read();
        assert_eq!(reading.unavailable.as_deref(), Some("this PerfMon was built without NVIDIA support"));
        assert!(reading.devices.is_empty() && reading.process_memory.is_empty());
    }
}

#[cfg(feature = "nvml")]
mod nvml {
    use std::sync::OnceLock;

    use nvml_wrapper::Nvml;
    use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
    use nvml_wrapper::enums::device::UsedGpuMemory;
    use nvml_wrapper::error::NvmlError;

    use super::{DeviceReading, GpuReading};

    /// NVML, or the plain-words reason it could not be had.
    static NVML: OnceLock<Result<Nvml, String>> = OnceLock::new();

    fn nvml() -> Result<&'static Nvml, &'static str> {
        NVML.get_or_init(|| {
            Nvml::init().map_err(|err| {
                let reason = init_failure_reason(&err);
                tracing::info!("GPU metrics unavailable: {reason} ({err})");
                reason.to_owned()
            })
        })
        .as_ref()
        .map_err(String::as_str)
    }

    /// Turns an NVML initialisation error into words for the panel: no library
    /// paths, no driver internals.
    pub fn init_failure_reason(err: &NvmlError) -> &'static str {
        match err {
            NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => "NVIDIA driver library not found",
            NvmlError::DriverNotLoaded => "NVIDIA driver not loaded",
            NvmlError::NoPermission => "no permission to query the NVIDIA driver",
            NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound => {
                "NVIDIA driver library is too old"
            }
            _ => "NVIDIA driver did not answer",
        }
    }

    pub fn read() -> GpuReading {
        let nvml = match nvml() {
            Ok(nvml) => nvml,
            Err(reason) => return GpuReading::unavailable(reason),
        };
        let count = match nvml.device_count() {
            Ok(0) => return GpuReading::unavailable("no NVIDIA device"),
            Ok(n) => n,
            Err(err) => {
                tracing::warn!("NVML device count failed: {err}");
                return GpuReading::unavailable("NVIDIA driver did not answer");
            }
        };
        let mut out = GpuReading::default();
        for index in 0..count {
            let device = match nvml.device_by_index(index) {
                Ok(device) => device,
                Err(err) => {
                    tracing::warn!("NVML device {index} unreadable: {err}");
                    continue;
                }
            };
            // Each query is tolerated on its own: a device that hides one value
            // still reports the others.
            let memory = device.memory_info().ok();
            out.devices.push(DeviceReading {
                index,
                name: device.name().unwrap_or_else(|_| format!("GPU {index}")),
                percent: device.utilization_rates().ok().map(|u| u.gpu),
                memory_used_bytes: memory.as_ref().map(|m| m.used),
                memory_total_bytes: memory.as_ref().map(|m| m.total),
                temperature_c: device.temperature(TemperatureSensor::Gpu).ok(),
                power_mw: device.power_usage().ok(),
            });
            let compute = device.running_compute_processes().unwrap_or_default();
            let graphics = device.running_graphics_processes().unwrap_or_default();
            for process in compute.into_iter().chain(graphics) {
                if let UsedGpuMemory::Used(bytes) = process.used_gpu_memory {
                    *out.process_memory.entry(process.pid).or_default() += bytes;
                }
            }
        }
        if out.devices.is_empty() {
            return GpuReading::unavailable("NVIDIA devices did not answer");
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_missing_driver_library_reads_as_plain_words() {
            assert_eq!(init_failure_reason(&NvmlError::LibraryNotFound), "NVIDIA driver library not found");
            assert_eq!(init_failure_reason(&NvmlError::DriverNotLoaded), "NVIDIA driver not loaded");
        }
    }
}
