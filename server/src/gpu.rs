//! NVIDIA GPUs through NVML, initialised once per process.
//!
//! NVML is loaded from the driver's shared library at run time, so the server builds
//! and runs on machines without NVIDIA hardware; there every sample says
//! `available: false` with a plain reason. A failed initialisation is remembered
//! and logged once, never retried per tick.

use std::sync::OnceLock;

use std::collections::HashMap;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::error::NvmlError;
use shared::{Gpu, GpuDevice};

use crate::sampler::{BYTES_PER_GB, round1};

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

/// Turns an NVML initialisation error into words for the panel: no library paths,
/// no driver internals.
pub fn init_failure_reason(err: &NvmlError) -> &'static str {
    match err {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => "NVIDIA driver library not found",
        NvmlError::DriverNotLoaded => "NVIDIA driver not loaded",
        NvmlError::NoPermission => "no permission to query the NVIDIA driver",
        NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound => "NVIDIA driver library is too old",
        _ => "NVIDIA driver did not answer",
    }
}

/// One reading of every NVIDIA device.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuSample {
    /// The aggregate and per-device section of the payload.
    pub gpu: Gpu,
    /// GPU memory held by each process, in bytes, where NVML reports it.
    pub process_memory: HashMap<u32, u64>,
}

/// Reads every NVIDIA device and aggregates them: mean utilisation, summed VRAM.
///
/// Blocking (NVML calls into the driver): call it from a blocking thread.
pub fn sample() -> GpuSample {
    match nvml() {
        Ok(nvml) => sample_devices(nvml),
        Err(reason) => GpuSample { gpu: unavailable(reason), process_memory: HashMap::new() },
    }
}

/// A GPU section that says why there is no data.
pub fn unavailable(reason: &str) -> Gpu {
    Gpu { available: false, reason: Some(reason.to_owned()), ..Gpu::default() }
}

fn sample_devices(nvml: &Nvml) -> GpuSample {
    let mut out = GpuSample::default();
    let count = match nvml.device_count() {
        Ok(0) => {
            out.gpu = unavailable("no NVIDIA device");
            return out;
        }
        Ok(n) => n,
        Err(err) => {
            tracing::warn!("NVML device count failed: {err}");
            out.gpu = unavailable("NVIDIA driver did not answer");
            return out;
        }
    };
    for index in 0..count {
        let device = match nvml.device_by_index(index) {
            Ok(device) => device,
            Err(err) => {
                tracing::warn!("NVML device {index} unreadable: {err}");
                continue;
            }
        };
        // Each query is tolerated on its own: a device that hides one value still
        // reports the others.
        let memory = device.memory_info().ok();
        out.gpu.devices.push(GpuDevice {
            index,
            name: device.name().unwrap_or_else(|_| format!("GPU {index}")),
            percent: device.utilization_rates().ok().map(|u| f64::from(u.gpu)),
            vram_used_gb: memory.as_ref().map(|m| round1(m.used as f64 / BYTES_PER_GB)),
            vram_total_gb: memory.as_ref().map(|m| round1(m.total as f64 / BYTES_PER_GB)),
            temperature_c: device.temperature(TemperatureSensor::Gpu).ok().map(f64::from),
            power_w: device.power_usage().ok().map(|mw| round1(f64::from(mw) / 1000.0)),
        });
        let compute = device.running_compute_processes().unwrap_or_default();
        let graphics = device.running_graphics_processes().unwrap_or_default();
        for process in compute.into_iter().chain(graphics) {
            if let UsedGpuMemory::Used(bytes) = process.used_gpu_memory {
                *out.process_memory.entry(process.pid).or_default() += bytes;
            }
        }
    }
    out.gpu = aggregate(std::mem::take(&mut out.gpu.devices));
    out
}

/// The top-level section from per-device readings: mean utilisation over the
/// devices that report it, VRAM summed over those that report it.
pub fn aggregate(devices: Vec<GpuDevice>) -> Gpu {
    if devices.is_empty() {
        return unavailable("NVIDIA devices did not answer");
    }
    let utilisation: Vec<f64> = devices.iter().filter_map(|d| d.percent).collect();
    let with_memory: Vec<&GpuDevice> = devices.iter().filter(|d| d.vram_total_gb.is_some()).collect();
    let sum = |f: fn(&GpuDevice) -> Option<f64>| {
        (!with_memory.is_empty()).then(|| round1(with_memory.iter().filter_map(|d| f(d)).sum()))
    };
    Gpu {
        available: true,
        percent: (!utilisation.is_empty())
            .then(|| round1(utilisation.iter().sum::<f64>() / utilisation.len() as f64)),
        vram_used_gb: sum(|d| d.vram_used_gb),
        vram_total_gb: sum(|d| d.vram_total_gb),
        reason: None,
        devices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_driver_library_reads_as_plain_words() {
        assert_eq!(init_failure_reason(&NvmlError::LibraryNotFound), "NVIDIA driver library not found");
        assert_eq!(init_failure_reason(&NvmlError::DriverNotLoaded), "NVIDIA driver not loaded");
    }

    #[test]
    fn sampling_never_panics_and_explains_absence() {
        // On a machine without NVIDIA hardware (CI), this is the no-GPU path; with one,
        // the values must be filled in. Both shapes are checked.
        let gpu = sample().gpu;
        if gpu.available {
            assert!(gpu.reason.is_none());
            assert!(gpu.vram_total_gb.is_some_and(|t| t > 0.0));
        } else {
            assert!(gpu.reason.as_deref().is_some_and(|r| !r.is_empty() && !r.contains('/')));
            assert_eq!((gpu.percent, gpu.vram_used_gb, gpu.vram_total_gb), (None, None, None));
        }
        // The second call must reuse the remembered outcome, not retry.
        assert_eq!(sample().gpu.available, gpu.available);
    }

    fn device(index: u32, percent: Option<f64>, used: f64, total: f64) -> GpuDevice {
        GpuDevice {
            index,
            name: format!("GPU {index}"),
            percent,
            vram_used_gb: Some(used),
            vram_total_gb: Some(total),
            ..GpuDevice::default()
        }
    }

    #[test]
    fn devices_aggregate_to_mean_utilisation_and_summed_vram() {
        let gpu = aggregate(vec![device(0, Some(20.0), 1.0, 80.0), device(1, Some(61.0), 2.5, 80.0)]);
        assert!(gpu.available);
        assert_eq!(gpu.percent, Some(40.5));
        assert_eq!((gpu.vram_used_gb, gpu.vram_total_gb), (Some(3.5), Some(160.0)));
        assert_eq!(gpu.devices.len(), 2);
    }

    #[test]
    fn a_device_hiding_utilisation_does_not_drag_the_mean_down() {
        let gpu = aggregate(vec![device(0, None, 1.0, 8.0), device(1, Some(50.0), 1.0, 8.0)]);
        assert_eq!(gpu.percent, Some(50.0));
    }

    #[test]
    fn no_readable_device_is_unavailable_with_a_reason() {
        let gpu = aggregate(Vec::new());
        assert!(!gpu.available);
        assert!(gpu.reason.is_some());
    }
}
