//! Memory detail (available, cached, buffers, dirty, slab) and paging: pages
//! read and written, swapping, page faults and the major ones that waited for
//! a disk. A source the server cannot read says why in the newest sample.

use shared::series;
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, no_data, state_line};
use crate::view::format::Unit;

/// The section.
#[function_component(MemorySection)]
pub fn memory_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let detail = [
        (series::MEMORY_AVAILABLE_GB, "available"),
        (series::MEMORY_CACHED_GB, "cached"),
        (series::MEMORY_BUFFERS_GB, "buffers"),
        (series::MEMORY_DIRTY_GB, "dirty"),
        (series::MEMORY_SLAB_GB, "slab"),
    ];
    let paging = [
        series::PAGE_IN,
        series::PAGE_OUT,
        series::SWAP_IN,
        series::SWAP_OUT,
        series::PAGE_FAULTS,
        series::MAJOR_FAULTS,
    ];
    let detail_names: Vec<&str> = detail.iter().map(|(name, _)| *name).collect();
    let has_detail = any_values(&timeline, &detail_names);
    let has_paging = any_values(&timeline, &paging);
    let latest = props.latest.as_deref();
    let detail_reason = latest
        .filter(|m| !m.memory_detail.available)
        .map(|m| m.memory_detail.reason.clone().unwrap_or_else(|| "not readable".to_owned()));
    let paging_reason = latest
        .filter(|m| !m.paging.available)
        .map(|m| m.paging.reason.clone().unwrap_or_else(|| "not readable".to_owned()));
    let state = state_line(
        &timeline,
        props.window,
        &[
            ("available", series::MEMORY_AVAILABLE_GB.to_owned(), Unit::Gigabytes),
            ("cached", series::MEMORY_CACHED_GB.to_owned(), Unit::Gigabytes),
            ("page faults", series::PAGE_FAULTS.to_owned(), Unit::PerSecond),
            ("major", series::MAJOR_FAULTS.to_owned(), Unit::PerSecond),
        ],
    );
    let detail_view = if has_detail {
        detail
            .iter()
            .fold(Chart::new(props, "memory-detail", "Memory detail", Unit::Gigabytes), |c, (name, label)| {
                c.line(*name, *label)
            })
            .html()
    } else {
        no_data("memory-detail-none", "memory detail", detail_reason.as_deref())
    };
    let paging_view = if has_paging {
        html! {
            <>
                { Chart::new(props, "paging-bytes", "Paging (read from and written to disk)", Unit::BytesPerSecond)
                    .line(series::PAGE_IN, "Paged in")
                    .line(series::PAGE_OUT, "Paged out")
                    .html() }
                { Chart::new(props, "paging-swap", "Swapping (pages per second)", Unit::PerSecond)
                    .line(series::SWAP_IN, "Swapped in")
                    .line(series::SWAP_OUT, "Swapped out")
                    .html() }
                { Chart::new(props, "paging-faults", "Page faults", Unit::PerSecond)
                    .line(series::PAGE_FAULTS, "Faults")
                    .line(series::MAJOR_FAULTS, "Major (waited for the disk)")
                    .html() }
            </>
        }
    } else {
        no_data("paging-none", "paging", paging_reason.as_deref())
    };
    html! {
        <DepthSection id="depth-memory" title="Memory detail and paging" state={state}>
            <div class="charts__group">{ detail_view }{ paging_view }</div>
        </DepthSection>
    }
}
