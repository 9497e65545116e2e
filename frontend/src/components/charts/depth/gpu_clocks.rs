//! Each GPU's clocks — SM and memory, MHz, against their maximum — what held
//! them below it (a band per clock-event reason, brighter where it held longer:
//! the `held_by_…` series), and its PCIe traffic; the newest sample names what
//! holds the clocks now, in words, and the P-state.

use shared::series::{self, device as field};
use shared::{GpuDevice, PerfMetrics};
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, first_few, newest};
use crate::components::charts::heat_strip::{HeatStrip, StripRow};
use crate::state::{Timeline, Window};
use crate::view::decimate;
use crate::view::format::Unit;

/// A clock-event reason in a band's few letters (its words in full are the
/// label's title and the strip's text).
fn reason_label(name: &str) -> String {
    match name {
        "applications_clocks_setting" => "app clocks".to_owned(),
        "sw_power_cap" => "power cap".to_owned(),
        "hw_slowdown" => "HW slowdown".to_owned(),
        "sync_boost" => "sync boost".to_owned(),
        "sw_thermal_slowdown" => "SW thermal".to_owned(),
        "hw_thermal_slowdown" => "HW thermal".to_owned(),
        "hw_power_brake_slowdown" => "power brake".to_owned(),
        "display_clock_setting" => "display clock".to_owned(),
        other => other.replace('_', " "),
    }
}

/// One clock-event reason that held a device's clocks in a window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Held {
    /// Its series' field (one of [`field::HELD_BY`]).
    pub field: &'static str,
    /// The reason, as the stream names it.
    pub reason: &'static str,
    /// The share of the window's readings it held (its series' mean), 0–1.
    pub share: f64,
}

/// What held device `index`'s clocks over the window: each reason that held
/// them at some point, in [`field::HELD_BY`]'s order (so a live view's bands
/// keep their places); `None` when no reason was read at all.
pub fn held_shares(timeline: &Timeline, index: u32, window: Window) -> Option<Vec<Held>> {
    let mut read = false;
    let held = field::HELD_BY
        .iter()
        .filter_map(|field| {
            let column = timeline.column(&series::gpu_device(index, field))?;
            let summary = decimate::summarise(&timeline.times, &column.line(), window.from, window.to)?;
            read = true;
            let reason = field::held_reason(field)?;
            (summary.mean > 0.0).then_some(Held { field, reason, share: summary.mean })
        })
        .collect();
    read.then_some(held)
}

/// Whether device `index` has readings in the window that say it was held but
/// not by what (kept before the store kept the reasons).
fn held_before_reasons(timeline: &Timeline, index: u32, window: Window) -> bool {
    let Some(any) = timeline.column(&series::gpu_device(index, field::THROTTLED)) else { return false };
    let reasons: Vec<_> =
        field::HELD_BY.iter().filter_map(|f| timeline.column(&series::gpu_device(index, f))).collect();
    let start = timeline.times.partition_point(|t| *t < window.from);
    let end = timeline.times.partition_point(|t| *t <= window.to);
    (start..end).any(|i| {
        any.mean.get(i).copied().flatten().is_some()
            && reasons.iter().all(|r| r.mean.get(i).copied().flatten().is_none())
    })
}

/// A share as the text says it: `25 %`, never 0 or 100 % unless it was.
fn share_words(share: f64) -> String {
    match share * 100.0 {
        p if p < 1.0 => "under 1 %".to_owned(),
        p if p > 99.0 && share < 1.0 => "over 99 %".to_owned(),
        p => format!("{p:.0} %"),
    }
}

/// The bands' text, most first: `Held by the power cap 25 % of the time,
/// temperature (hardware slowdown) 3 %.`
pub fn held_text(label: &str, shares: Option<&[Held]>) -> String {
    match shares {
        None => format!("No clock-event reasons for {label} in this range."),
        Some([]) => format!("Nothing held {label}'s clocks in this range (an idle GPU's low clocks aside)."),
        Some(shares) => {
            let mut most_first = shares.to_vec();
            most_first.sort_by(|a, b| b.share.total_cmp(&a.share));
            let parts: Vec<String> = most_first
                .iter()
                .enumerate()
                .map(|(i, held)| {
                    let of_time = if i == 0 { " of the time" } else { "" };
                    format!("{} {}{of_time}", reason_words(held.reason), share_words(held.share))
                })
                .collect();
            format!("Held by {}.", parts.join(", "))
        }
    }
}

/// The bands of device `index`: one row per reason that held its clocks in
/// the window (a strip of none says so in its text), and where part of the
/// window was kept before the reasons were, a band "any reason" from the
/// one flag kept then.
fn reason_bands(props: &DepthProps, index: u32, label: &str) -> Html {
    let timeline = props.timeline.0.borrow();
    let shares = held_shares(&timeline, index, props.window);
    let mut rows: Vec<StripRow> = shares
        .iter()
        .flatten()
        .map(|held| StripRow {
            series: series::gpu_device(index, held.field),
            label: reason_label(held.reason),
            title: reason_words(held.reason),
        })
        .collect();
    let mut text = held_text(label, shares.as_deref());
    if held_before_reasons(&timeline, index, props.window) {
        let any = series::gpu_device(index, field::THROTTLED);
        let mean = timeline.column(&any).and_then(|c| {
            decimate::summarise(&timeline.times, &c.line(), props.window.from, props.window.to)
        });
        if let Some(summary) = mean {
            let before = format!(
                "Over the whole range, held {} of the time for any reason (which, not kept before schema version 8).",
                share_words(summary.mean)
            );
            text = if shares.is_some() { format!("{text} {before}") } else { before };
        }
        rows.push(StripRow {
            series: any,
            label: "any reason".to_owned(),
            title: "held for any reason".to_owned(),
        });
    }
    html! {
        <div class="chart">
            <HeatStrip timeline={props.timeline.clone()} version={props.version} window={props.window}
                scheme={props.scheme} rows={rows} full={1.0} labelled=true
                title={format!("What held {label}'s clocks down")}
                testid={format!("gpu-{index}-held")}
                summary={text} />
        </div>
    }
}

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
    let names: Vec<String> = fields.iter().chain(&field::HELD_BY).map(|f| key(f)).collect();
    let label = format!("GPU {index}");
    let charts = if any_values(&timeline, &names) {
        html! {
            <div class="charts__group">
                { Chart::new(props, format!("gpu-{index}-clocks"), clocks_title(&label, sampled), Unit::Megahertz)
                    .line(key(field::SM_CLOCK_MHZ), "SM")
                    .line(key(field::MEMORY_CLOCK_MHZ), "Memory")
                    .html() }
                { reason_bands(props, index, &label) }
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

    fn held(reasons: &[&[&str]]) -> Timeline {
        let mut t = Timeline::default();
        for (s, reasons) in reasons.iter().enumerate() {
            let mut device = gpu(Some("P0"), Some(reasons));
            device.available = true;
            t.push(&PerfMetrics {
                timestamp: shared::Timestamp(format!("2026-12-01T10:00:{s:02}.000Z")),
                gpu: shared::Gpu { available: true, devices: vec![device], ..shared::Gpu::default() },
                ..PerfMetrics::default()
            });
        }
        t
    }

    #[test]
    fn the_bands_say_what_held_the_clocks_and_for_how_long() {
        let idle: &[&str] = &["gpu_idle"];
        let t = held(&[&["sw_power_cap", "hw_thermal_slowdown"], &["sw_power_cap"], &["sw_power_cap"], idle]);
        let window = Window { from: t.times[0], to: t.times[3] };
        let shares = held_shares(&t, 0, window).expect("the reasons were read");
        let named: Vec<(&str, &str, f64)> = shares.iter().map(|h| (h.field, h.reason, h.share)).collect();
        assert_eq!(
            named,
            [
                ("held_by_sw_power_cap", "sw_power_cap", 0.75),
                ("held_by_hw_thermal_slowdown", "hw_thermal_slowdown", 0.25)
            ],
            "in the series' order; idle is no band"
        );
        assert!(!held_before_reasons(&t, 0, window), "every reading has its reasons");
        assert_eq!(
            held_text("GPU 0", Some(&shares)),
            "Held by the power cap 75 % of the time, temperature (hardware slowdown) 25 %."
        );
        assert_eq!(held_shares(&t, 1, window), None, "no such device");
        assert_eq!(held_text("GPU 1", None), "No clock-event reasons for GPU 1 in this range.");
        let calm = held(&[idle, &[]]);
        let window = Window { from: calm.times[0], to: calm.times[1] };
        assert_eq!(held_shares(&calm, 0, window), Some(vec![]), "read, and nothing held them");
        assert_eq!(
            held_text("GPU 0", Some(&[])),
            "Nothing held GPU 0's clocks in this range (an idle GPU's low clocks aside)."
        );
        let held = |reason: &'static str, share| Held { field: "", reason, share };
        assert_eq!(
            held_text("GPU 0", Some(&[held("hw_slowdown", 0.004), held("sw_power_cap", 0.996)])),
            "Held by the power cap over 99 % of the time, a hardware slowdown under 1 %.",
            "most first in the text; never 0 or 100 % unless it was"
        );
        assert_eq!(
            held_text("GPU 0", Some(&[held("sync_boost", 1.0)])),
            "Held by sync boost (held to another GPU's clocks) 100 % of the time."
        );
        let labels: Vec<String> =
            shared::GPU_CLOCK_EVENT_REASONS[1..].iter().map(|r| reason_label(r)).collect();
        assert!(labels.iter().all(|l| l.len() <= 13 && !l.contains('_')), "{labels:?} fit the 72 px labels");
    }

    #[test]
    fn a_range_kept_before_the_reasons_has_a_band_for_any_reason() {
        let mut h = shared::api::HistorySeries { step_s: 1, tier: "raw".into(), ..Default::default() };
        h.timestamps = vec![1_000, 2_000, 3_000, 4_000];
        h.series.insert("gpu.0.throttled".into(), vec![Some(1.0), Some(0.0), Some(1.0), Some(0.0)]);
        h.series.insert("gpu.0.held_by_sw_power_cap".into(), vec![None, None, Some(1.0), Some(0.0)]);
        let t = Timeline::from_history(h);
        assert!(held_before_reasons(&t, 0, Window { from: 1_000.0, to: 4_000.0 }), "its first half");
        assert!(!held_before_reasons(&t, 0, Window { from: 3_000.0, to: 4_000.0 }), "reasons throughout");
        assert!(!held_before_reasons(&t, 1, Window { from: 1_000.0, to: 4_000.0 }), "no such device");
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
