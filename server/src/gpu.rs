//! NVIDIA GPUs through NVML, initialised once per process.
//!
//! NVML is loaded from the driver's shared library at run time, so the server builds
//! and runs on machines without NVIDIA hardware; there every sample says
//! `available: false` with a plain reason. A failed initialisation is remembered
//! and logged once, never retried per tick.

use std::sync::OnceLock;

use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;
use shared::Gpu;

const BYTES_PER_GB: f64 = 1e9;

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
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => {
            "NVIDIA driver library not found"
        }
        NvmlError::DriverNotLoaded => "NVIDIA driver not loaded",
        NvmlError::NoPermission => "no permission to query the NVIDIA driver",
        NvmlError::FailedToLoadSymbol(_) | NvmlError::FunctionNotFound => {
            "NVIDIA driver library is too old"
        }
        _ => "NVIDIA driver did not answer",
    }
}

/// Reads every NVIDIA device and aggregates them: mean utilisation, summed VRAM.
///
/// Blocking (NVML calls into the driver): call it from a blocking thread.
pub fn sample() -> Gpu {
    match nvml() {
        Ok(nvml) => sample_devices(nvml),
        Err(reason) => unavailable(reason),
    }
}

/// A GPU section that says why there is no data.
pub fn unavailable(reason: &str) -> Gpu {
    Gpu {
        available: false,
        reason: Some(reason.to_owned()),
        ..Gpu::default()
    }
}

fn sample_devices(nvml: &Nvml) -> Gpu {
    let count = match nvml.device_count() {
        Ok(0) => return unavailable("no NVIDIA device"),
        Ok(n) => n,
        Err(err) => {
            tracing::warn!("NVML device count failed: {err}");
            return unavailable("NVIDIA driver did not answer");
        }
    };
    let mut utilisation = Vec::new();
    let (mut used, mut total, mut memory_seen) = (0u64, 0u64, false);
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
        if let Ok(rates) = device.utilization_rates() {
            utilisation.push(f64::from(rates.gpu));
        }
        if let Ok(memory) = device.memory_info() {
            used += memory.used;
            total += memory.total;
            memory_seen = true;
        }
    }
    if utilisation.is_empty() && !memory_seen {
        return unavailable("NVIDIA devices did not answer");
    }
    let mean = (!utilisation.is_empty())
        .then(|| round1(utilisation.iter().sum::<f64>() / utilisation.len() as f64));
    Gpu {
        available: true,
        percent: mean,
        vram_used_gb: memory_seen.then(|| round1(used as f64 / BYTES_PER_GB)),
        vram_total_gb: memory_seen.then(|| round1(total as f64 / BYTES_PER_GB)),
        reason: None,
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_driver_library_reads_as_plain_words() {
        assert_eq!(
            init_failure_reason(&NvmlError::LibraryNotFound),
            "NVIDIA driver library not found"
        );
        assert_eq!(
            init_failure_reason(&NvmlError::DriverNotLoaded),
            "NVIDIA driver not loaded"
        );
    }

    #[test]
    fn sampling_never_panics_and_explains_absence() {
        // On a machine without NVIDIA hardware (CI), this is the no-GPU path; with one,
        // the values must be filled in. Both shapes are checked.
        let gpu = sample();
        if gpu.available {
            assert!(gpu.reason.is_none());
            assert!(gpu.vram_total_gb.is_some_and(|t| t > 0.0));
        } else {
            assert!(
                gpu.reason
                    .as_deref()
                    .is_some_and(|r| !r.is_empty() && !r.contains('/'))
            );
            assert_eq!(
                (gpu.percent, gpu.vram_used_gb, gpu.vram_total_gb),
                (None, None, None)
            );
        }
        // The second call must reuse the remembered outcome, not retry.
        assert_eq!(sample().available, gpu.available);
    }
}
