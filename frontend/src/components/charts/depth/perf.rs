//! The hardware and software counters: instructions per cycle, cycles and
//! instructions, cache and branch misses, context switches and page faults.
//! An event the machine cannot count (a VM without a CPU PMU, a
//! `perf_event_paranoid` that refuses) is named with its reason, from the
//! newest sample, where its chart would be — an empty chart would say nothing.

use shared::depth::perf::{self as event, PerfEvents};
use shared::series;
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, newest, no_data};
use crate::view::format::Unit;

/// One chart: its id, title, unit, the events it needs and its lines.
struct Spec {
    id: &'static str,
    title: &'static str,
    unit: Unit,
    events: &'static [&'static str],
    lines: &'static [(&'static str, &'static str)],
}

const CHARTS: [Spec; 4] = [
    Spec {
        id: "perf-ipc",
        title: "Instructions per cycle (IPC)",
        unit: Unit::Ratio,
        events: &[event::CYCLES, event::INSTRUCTIONS],
        lines: &[(series::PERF_IPC, "IPC")],
    },
    Spec {
        id: "perf-cycles",
        title: "Cycles and instructions",
        unit: Unit::PerSecond,
        events: &[event::CYCLES, event::INSTRUCTIONS],
        lines: &[(series::PERF_CYCLES, "Cycles"), (series::PERF_INSTRUCTIONS, "Instructions")],
    },
    Spec {
        id: "perf-misses",
        title: "Cache and branch misses",
        unit: Unit::PerSecond,
        events: &[event::CACHE_MISSES, event::BRANCH_MISSES],
        lines: &[(series::PERF_CACHE_MISSES, "Cache misses"), (series::PERF_BRANCH_MISSES, "Branch misses")],
    },
    Spec {
        id: "perf-software",
        title: "Software events",
        unit: Unit::PerSecond,
        events: &[event::CONTEXT_SWITCHES, event::PAGE_FAULTS],
        lines: &[
            (series::PERF_CONTEXT_SWITCHES, "Context switches"),
            (series::PERF_PAGE_FAULTS, "Page faults"),
        ],
    },
];

/// Which of `names` the section says cannot be counted, grouped by reason in
/// the order first met: `[(["cycles", "instructions"], "no hardware …")]`.
/// A section that could count nothing and lists no events gives its own
/// error for each (and without one, names none: an older server).
pub fn not_counted(events: &PerfEvents, names: &[&str]) -> Vec<(Vec<String>, String)> {
    let fallback = || events.error.clone().unwrap_or_else(|| "not counted".to_owned());
    let mut groups: Vec<(Vec<String>, String)> = Vec::new();
    for name in names {
        let reason = match events.event(name) {
            Some(e) if !e.available => e.reason.clone().unwrap_or_else(fallback),
            // No events and no error: a server that sends no such section,
            // which is no claim that nothing can be counted.
            None if !events.available && events.events.is_empty() => match &events.error {
                Some(error) => error.clone(),
                None => continue,
            },
            _ => continue,
        };
        match groups.iter_mut().find(|(_, r)| *r == reason) {
            Some((group, _)) => group.push((*name).to_owned()),
            None => groups.push((vec![(*name).to_owned()], reason)),
        }
    }
    groups
}

/// `cycles and instructions: no hardware …; branch-misses: …`
pub fn reasons_text(groups: &[(Vec<String>, String)]) -> String {
    groups
        .iter()
        .map(|(names, reason)| {
            let who = match names.as_slice() {
                [one] => one.clone(),
                [most @ .., last] => format!("{} and {last}", most.join(", ")),
                [] => String::new(),
            };
            format!("{who}: {reason}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The section.
#[function_component(PerfSection)]
pub fn perf_section(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let section = props.latest.as_ref().map(|m| &m.perf_events);
    let missing = |names: &[&str]| section.map(|s| not_counted(s, names)).unwrap_or_default();
    let all_names: Vec<&str> = CHARTS.iter().flat_map(|c| c.lines.iter().map(|(name, _)| *name)).collect();
    let has_values = any_values(&timeline, &all_names);
    let ipc_missing = missing(&[event::CYCLES, event::INSTRUCTIONS]);
    let state = match newest(&timeline, series::PERF_IPC, props.window) {
        Some(ipc) => format!("IPC {}", Unit::Ratio.format(ipc)),
        None if !ipc_missing.is_empty() => format!("IPC not counted: {}", ipc_missing[0].1),
        None if has_values => "IPC: no data".to_owned(),
        None => "no data".to_owned(),
    };
    let state = match newest(&timeline, series::PERF_CONTEXT_SWITCHES, props.window) {
        Some(cs) => format!("{state} · context switches {}", Unit::PerSecond.format(cs)),
        None => state,
    };
    let views: Vec<Html> = CHARTS
        .iter()
        .filter_map(|spec| {
            let groups = missing(spec.events);
            let counted = spec.events.iter().filter(|e| !groups.iter().any(|(g, _)| g.iter().any(|n| n == *e))).count();
            if counted == 0 {
                return Some(html! {
                    <figure class="chart depth__unavailable" data-testid={format!("{}-unavailable", spec.id)}>
                        <figcaption class="chart__head"><span class="chart__title">{ spec.title }</span></figcaption>
                        <p class="depth__reason">{ format!("Not counted — {}.", reasons_text(&groups)) }</p>
                    </figure>
                });
            }
            if !has_values {
                return None;
            }
            let note = (!groups.is_empty()).then(|| format!("Not counted — {}.", reasons_text(&groups)));
            Some(
                spec.lines
                    .iter()
                    .fold(Chart::new(props, spec.id, spec.title, spec.unit), |c, (name, label)| c.line(*name, *label))
                    .note(note)
                    .html(),
            )
        })
        .collect();
    let body = if views.is_empty() {
        let error = section.filter(|s| !s.available).and_then(|s| s.error.clone());
        no_data("perf-none", "hardware counter", error.as_deref())
    } else {
        html! { <div class="charts__group">{ for views }</div> }
    };
    html! { <DepthSection id="depth-perf" title="Hardware counters" state={state}>{ body }</DepthSection> }
}

#[cfg(test)]
mod tests {
    use shared::depth::perf::PerfEvent;

    use super::*;

    const PMU: &str = "no hardware performance counters on this machine (a VM without a CPU PMU)";

    fn events() -> PerfEvents {
        let mut section = PerfEvents { available: true, ..PerfEvents::default() };
        for (name, available, reason) in [
            (event::CYCLES, false, Some(PMU)),
            (event::INSTRUCTIONS, false, Some(PMU)),
            (event::BRANCH_MISSES, false, Some("kernel.perf_event_paranoid is 3")),
            (event::CACHE_MISSES, true, None),
            (event::CONTEXT_SWITCHES, true, None),
        ] {
            let e = PerfEvent { available, reason: reason.map(Into::into), ..PerfEvent::default() };
            section.events.insert(name.to_owned(), e);
        }
        section
    }

    #[test]
    fn unavailable_events_are_grouped_by_their_reason() {
        let e = events();
        let groups = not_counted(&e, &[event::CYCLES, event::INSTRUCTIONS]);
        assert_eq!(groups, [(vec!["cycles".to_owned(), "instructions".to_owned()], PMU.to_owned())]);
        assert_eq!(reasons_text(&groups), format!("cycles and instructions: {PMU}"));
        let mixed = not_counted(&e, &[event::CACHE_MISSES, event::BRANCH_MISSES]);
        assert_eq!(
            reasons_text(&mixed),
            "branch-misses: kernel.perf_event_paranoid is 3",
            "a counted one is not named"
        );
        assert!(
            not_counted(&e, &[event::CONTEXT_SWITCHES, event::PAGE_FAULTS]).is_empty(),
            "an unlisted event is not a failure"
        );
    }

    #[test]
    fn a_section_that_counts_nothing_gives_its_error_for_each() {
        let off = PerfEvents {
            available: false,
            error: Some("perf_event_open is not allowed".into()),
            ..PerfEvents::default()
        };
        let groups = not_counted(&off, &[event::CONTEXT_SWITCHES, event::PAGE_FAULTS]);
        assert_eq!(reasons_text(&groups), "context-switches and page-faults: perf_event_open is not allowed");
        assert!(
            not_counted(&PerfEvents { available: true, ..PerfEvents::default() }, &[event::CYCLES])
                .is_empty()
        );
        assert!(
            not_counted(&PerfEvents::default(), &[event::CYCLES]).is_empty(),
            "an older server says nothing"
        );
    }
}
