//! Each GPU's clocks — SM and memory, MHz, against their maximum — whether
//! something held them below it (a filled band wherever the `throttled` series
//! is 1), and its PCIe traffic; the newest sample names what holds the clocks
//! now, in words, and the P-state.

use shared::series::{self, device as field};
use shared::{GpuDevice, PerfMetrics};
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, first_few, newest};
use crate::view::format::Unit;

/// A clock-event reason (NVML's, as the stream names them) in words.
pub fn reason_words(name: &str) -> String {
    match name {
        "gpu_idle" => "idle".to_owned(),
        "applications_clocks_setting" => "the application clocks setting".to_owned(),
        "sw_power_cap" => "the power cap".to_owned(),
        "hw_slowdown" => "a hardware slowdown".to_owned(),
        "sync_boost" => "sync boost (held to another GPU's clocks)".to_owned(),
        "sw_thermal_slowdown" => "temperature (software slowdown)".to_owned(),
        "hw_thermal_slowdown" => "temperature (hardware slowdown)".to_owned(),
        "hw_power_brake_slowdown" => "the power brake (hardware)".to_owned(),
        "display_clock_setting" => "the display clock setting".to_owned(),
        other => other.replace('_', " "),
    }
}

/// What holds a device's clocks now, and its P-state:
/// `P2 · held by the power cap and temperature (hardware slowdown)`,
/// `P8 · idle`, `P0 · not held`.
pub fn clock_state(d: &GpuDevice) -> String {
    if !d.available {
        return format!(
            "not answering: {}",
            d.reason.clone().unwrap_or_else(|| "no reason given".to_owned())
        );
    }
    let held = match &d.clock_event_reasons {
        None if d.not_supported.iter().any(|f| f == "clock_event_reasons") => {
            "what holds the clocks: not supported by the driver".to_owned()
        }
        None => "what holds the clocks: not readable".to_owned(),
        Some(reasons) => {
            let idle = reasons.iter().any(|r| r == "gpu_idle");
            let holding: Vec<String> =
                reasons.iter().filter(|r| *r != "gpu_idle").map(|r| reason_words(r)).collect();
            match (holding.as_slice(), idle) {
                ([], true) => "idle".to_owned(),
                ([], false) => "not held".to_owned(),
                ([one], _) => format!("held by {one}"),
                ([most @ .., last], _) => format!("held by {} and {last}", most.join(", ")),
            }
        }
    };
    match &d.pstate {
        Some(p) => format!("{p} · {held}"),
        None => held,
    }
}

/// The clocks chart's title, with the maximums the sample gives.
fn clocks_title(name: &str, d: Option<&GpuDevice>) -> String {
    let max = d.map(|d| (d.sm_clock_max_mhz, d.memory_clock_max_mhz));
    match max {
        Some((Some(sm), Some(mem))) => format!("{name} clocks (at most SM {sm} MHz, memory {mem} MHz)"),
        Some((Some(sm), None)) => format!("{name} clocks (SM at most {sm} MHz)"),
        _ => format!("{name} clocks"),
    }
}

/// One device's part.
fn device(props: &DepthProps, index: u32, name: &str, sampled: Option<&GpuDevice>) -> Html {
    let timeline = props.timeline.0.borrow();
    let key = |f: &str| series::gpu_device(index, f);
    let fields =
        [field::SM_CLOCK_MHZ, field::MEMORY_CLOCK_MHZ, field::THROTTLED, field::PCIE_RX, field::PCIE_TX];
    let names: Vec<String> = fields.iter().map(|f| key(f)).collect();
    let label = format!("GPU {index}");
    let charts = if any_values(&timeline, &names) {
        html! {
            <div class="charts__group">
                { Chart::new(props, format!("gpu-{index}-clocks"), clocks_title(&label, sampled), Unit::Megahertz)
                    .line(key(field::SM_CLOCK_MHZ), "SM")
                    .line(key(field::MEMORY_CLOCK_MHZ), "Memory")
                    .html() }
                { Chart::new(props, format!("gpu-{index}-throttled"),
                        format!("{label} held below its clocks (any reason but idle)"), Unit::Flag)
                    .line(key(field::THROTTLED), "Held")
                    .stacked(100)
                    .html() }
                { Chart::new(props, format!("gpu-{index}-pcie"), format!("{label} PCIe"), Unit::BytesPerSecond)
                    .line(key(field::PCIE_RX), "Received")
                    .line(key(field::PCIE_TX), "Sent")
                    .html() }
            </div>
        }
    } else {
        html! {
            <p class="muted charts__note" data-testid={format!("gpu-{index}-none")}>
                { format!("No clock data for {label} in this range.") }
            </p>
        }
    };
    html! {
        <div class="depth__device" data-testid={format!("gpu-clocks-{index}")}>
            <h3 class="depth__device-title">{ format!("{label} · {name}") }</h3>
            if let Some(d) = sampled {
                <p class="depth__now" data-testid="gpu-now">{ format!("Now: {}", clock_state(d)) }</p>
            }
            { charts }
        </div>
    }
}

/// The devices with a series or in the newest sample, in index order.
fn devices(props: &DepthProps) -> Vec<u32> {
    let mut devices = props.timeline.0.borrow().gpu_devices();
    devices.extend(props.latest.iter().flat_map(|m| m.gpu.devices.iter().map(|d| d.index)));
    devices.sort_unstable();
    devices.dedup();
    devices
}

/// The section.
#[function_component(GpuClocks)]
pub fn gpu_clocks(props: &DepthProps) -> Html {
    let indices = devices(props);
    let latest: Option<&PerfMetrics> = props.latest.as_deref();
    let sampled = |i: u32| latest.and_then(|m| m.gpu.devices.iter().find(|d| d.index == i));
    let name = |i: u32| {
        sampled(i)
            .map(|d| d.name.clone())
            .or_else(|| props.timeline.0.borrow().gpu_names.get(&i).cloned())
            .unwrap_or_else(|| "GPU".to_owned())
    };
    let state = if indices.is_empty() {
        match latest.filter(|m| !m.gpu.available).and_then(|m| m.gpu.reason.clone()) {
            Some(why) => format!("no GPU: {why}"),
            None => "no GPU data".to_owned(),
        }
    } else {
        let timeline = props.timeline.0.borrow();
        let parts = indices
            .iter()
            .map(|i| {
                let clock = newest(&timeline, &series::gpu_device(*i, field::SM_CLOCK_MHZ), props.window);
                let mut part = format!("GPU {i}");
                if let Some(mhz) = clock {
                    part.push_str(&format!(" {}", Unit::Megahertz.format(mhz)));
                }
                if let Some(d) = sampled(*i) {
                    part.push_str(&format!(", {}", clock_state(d)));
                }
                part
            })
            .collect();
        first_few(parts, 2)
    };
    let body = if indices.is_empty() {
        let why = latest.filter(|m| !m.gpu.available).and_then(|m| m.gpu.reason.clone());
        super::no_data("gpu-clocks-none", "GPU", why.as_deref())
    } else {
        html! { <>{ for indices.iter().map(|i| device(props, *i, &name(*i), sampled(*i))) }</> }
    };
    html! { <DepthSection id="depth-gpu" title="GPU clocks and throttling" state={state}>{ body }</DepthSection> }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu(pstate: Option<&str>, reasons: Option<&[&str]>) -> GpuDevice {
        GpuDevice {
            pstate: pstate.map(Into::into),
            clock_event_reasons: reasons.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
            ..GpuDevice::default()
        }
    }

    #[test]
    fn what_holds_the_clocks_is_said_in_words() {
        assert_eq!(clock_state(&gpu(Some("P0"), Some(&[]))), "P0 · not held");
        assert_eq!(clock_state(&gpu(Some("P8"), Some(&["gpu_idle"]))), "P8 · idle");
        assert_eq!(
            clock_state(&gpu(Some("P2"), Some(&["gpu_idle", "sw_power_cap", "hw_thermal_slowdown"]))),
            "P2 · held by the power cap and temperature (hardware slowdown)",
            "idle is not a hold when something else holds them"
        );
        assert_eq!(clock_state(&gpu(None, None)), "what holds the clocks: not readable");
        let mut unsupported = gpu(Some("P0"), None);
        unsupported.not_supported = vec!["clock_event_reasons".into()];
        assert_eq!(clock_state(&unsupported), "P0 · what holds the clocks: not supported by the driver");
        let lost = GpuDevice { available: false, reason: Some("GPU is lost".into()), ..GpuDevice::default() };
        assert_eq!(clock_state(&lost), "not answering: GPU is lost");
    }

    #[test]
    fn every_reason_the_stream_names_has_words() {
        for name in shared::GPU_CLOCK_EVENT_REASONS {
            assert!(!reason_words(name).contains('_'), "{name}");
        }
        assert_eq!(reason_words("new_reason"), "new reason", "one the page does not know yet stays readable");
    }

    #[test]
    fn the_clocks_title_says_the_maximums_it_knows() {
        let d = GpuDevice {
            sm_clock_max_mhz: Some(1980),
            memory_clock_max_mhz: Some(2619),
            ..GpuDevice::default()
        };
        assert_eq!(clocks_title("GPU 0", Some(&d)), "GPU 0 clocks (at most SM 1980 MHz, memory 2619 MHz)");
        assert_eq!(clocks_title("GPU 0", None), "GPU 0 clocks");
    }
}
