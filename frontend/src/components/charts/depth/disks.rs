//! Each physical disk — throughput, IOPS, latency (await) and % busy — found
//! from the timeline's `disks.` series and the newest sample's devices; each
//! filesystem's used share over the range (its `filesystems.` series: the
//! disk that fills up at 3 a.m.), and the newest sample's filesystems as a
//! table with their types and mount points, which are not series.

use shared::depth::disks::Filesystem;
use shared::series::{self, disk_device as field};
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, device_names, first_few, newest, no_data};
use crate::state::Timeline;
use crate::view::format::{self, Unit};

/// Every field a disk's series may have.
const FIELDS: [&str; 6] = [
    field::READ_BYTES_PER_S,
    field::WRITE_BYTES_PER_S,
    field::READ_IOPS,
    field::WRITE_IOPS,
    field::AWAIT_MS,
    field::UTIL_PERCENT,
];

/// The disks with a series in `timeline` or in the newest sample.
pub fn disks(timeline: &Timeline, props: &DepthProps) -> Vec<String> {
    let sampled = props.latest.iter().flat_map(|m| m.disks.devices.iter().map(|d| d.name.clone()));
    device_names(timeline.columns.keys().map(String::as_str), series::DISK_DEVICE_PREFIX, &FIELDS, sampled)
}

/// One disk's charts; a note instead when none of its series has a value (a
/// disk the newest sample has and the range does not: four empty charts
/// would say less).
fn disk(props: &DepthProps, timeline: &Timeline, name: &str) -> Html {
    let key = |f: &str| series::disk_device(name, f);
    let keys: Vec<String> = FIELDS.iter().map(|f| key(f)).collect();
    if !any_values(timeline, &keys) {
        return html! {
            <div class="depth__device" data-testid={format!("disk-{name}")}>
                <h3 class="depth__device-title">{ name.to_owned() }</h3>
                <p class="muted charts__note" data-testid="device-none">{ format!("No data for {name} in this range.") }</p>
            </div>
        };
    }
    html! {
        <div class="depth__device" data-testid={format!("disk-{name}")}>
            <h3 class="depth__device-title">{ name.to_owned() }</h3>
            <div class="charts__group">
                { Chart::new(props, format!("disk-{name}-bytes"), format!("{name} throughput"), Unit::BytesPerSecond)
                    .line(key(field::READ_BYTES_PER_S), "Read")
                    .line(key(field::WRITE_BYTES_PER_S), "Written")
                    .html() }
                { Chart::new(props, format!("disk-{name}-iops"), format!("{name} IOPS"), Unit::PerSecond)
                    .line(key(field::READ_IOPS), "Reads")
                    .line(key(field::WRITE_IOPS), "Writes")
                    .html() }
                { Chart::new(props, format!("disk-{name}-await"), format!("{name} latency (await)"), Unit::Milliseconds)
                    .line(key(field::AWAIT_MS), "Await")
                    .html() }
                { Chart::new(props, format!("disk-{name}-util"), format!("{name} busy"), Unit::Percent)
                    .line(key(field::UTIL_PERCENT), "Busy")
                    .html() }
            </div>
        </div>
    }
}

/// The newest sample's filesystems, as a table.
fn filesystems(list: &[Filesystem]) -> Html {
    let gb = |v: Option<f64>| v.map_or(format::NOT_AVAILABLE.to_owned(), |v| Unit::Gigabytes.format(v));
    html! {
        <div class="depth__table runs__scroll" data-testid="filesystems">
            <table class="runs__table">
                <caption class="visually-hidden">{ "Filesystems now" }</caption>
                <thead><tr>
                    <th scope="col">{ "Device" }</th><th scope="col">{ "Type" }</th>
                    <th scope="col">{ "Mounted on" }</th><th scope="col" class="num">{ "Size" }</th>
                    <th scope="col" class="num">{ "Used" }</th><th scope="col" class="num">{ "Free" }</th>
                    <th scope="col" class="num">{ "Used %" }</th>
                </tr></thead>
                <tbody>
                    { for list.iter().map(|fs| html! {
                        <tr>
                            <td>{ fs.device.clone() }</td><td>{ fs.fs_type.clone() }</td>
                            <td>{ fs.mount_point.clone().unwrap_or_else(|| "—".to_owned()) }</td>
                            <td class="num">{ gb(fs.size_gb) }</td><td class="num">{ gb(fs.used_gb) }</td>
                            <td class="num">{ gb(fs.free_gb) }</td>
                            <td class="num">{ format::percent(fs.used_percent) }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}

/// Each filesystem's used share, a line each; `None` when no filesystem has
/// a value in the timeline.
fn filesystems_used(props: &DepthProps, timeline: &Timeline) -> Option<Html> {
    let keys = timeline.columns.keys().map(String::as_str);
    let used = series::filesystem::USED_PERCENT;
    let names = device_names(keys, series::FILESYSTEM_PREFIX, &[used], []);
    let names: Vec<String> =
        names.into_iter().filter(|name| timeline.has_values(&series::filesystem(name, used))).collect();
    (!names.is_empty()).then(|| {
        names
            .iter()
            .fold(Chart::new(props, "filesystems-used", "Filesystems used", Unit::Percent), |c, name| {
                c.line(series::filesystem(name, used), name.as_str())
            })
            .html()
    })
}

/// The section.
#[function_component(DisksSection)]
pub fn disks_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let names = disks(&timeline, props);
    let reason = props
        .latest
        .as_ref()
        .filter(|m| !m.disks.available)
        .map(|m| m.disks.reason.clone().unwrap_or_else(|| "not readable".to_owned()));
    let busy = names
        .iter()
        .map(|name| {
            let util = newest(&timeline, &series::disk_device(name, field::UTIL_PERCENT), props.window);
            match util {
                Some(u) => format!("{name} {} busy", Unit::Percent.format(u)),
                None => name.clone(),
            }
        })
        .collect();
    let state = match (&reason, names.is_empty()) {
        (Some(why), true) => format!("not available: {why}"),
        (None, true) => "no data".to_owned(),
        (_, false) => first_few(busy, 3),
    };
    let fs = props.latest.as_ref().map(|m| &m.filesystems).filter(|f| !f.filesystems.is_empty());
    let body = html! {
        <>
            if names.is_empty() {
                { no_data("disks-none", "disk", reason.as_deref()) }
            }
            { for names.iter().map(|name| disk(props, &timeline, name)) }
            if let Some(chart) = filesystems_used(props, &timeline) {
                <div class="charts__group">{ chart }</div>
            }
            if let Some(fs) = fs {
                <h3 class="depth__device-title">{ "Filesystems now" }</h3>
                { filesystems(&fs.filesystems) }
            }
        </>
    };
    html! { <DepthSection id="depth-disks" title="Disks" state={state}>{ body }</DepthSection> }
}
