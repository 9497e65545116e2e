//! CPU time by mode, stacked (user at the bottom, then system, the interrupt
//! modes, iowait and steal, with nice and guest on top: most machines show
//! the first two and little else, so the colours that repeat past the
//! palette's six fall on the modes that are nearly always empty), and the
//! scheduler's rates: context switches, interrupts, processes running and
//! blocked. Idle is what is left up to 100 %.

use shared::series;
use yew::prelude::*;

use super::{Chart, DepthProps, DepthSection, any_values, no_data, state_line};
use crate::view::format::Unit;

/// The modes in stacking order, with their labels.
pub const MODES: [(&str, &str); 8] = [
    (series::CPU_USER, "user"),
    (series::CPU_SYSTEM, "system"),
    (series::CPU_SOFTIRQ, "softirq"),
    (series::CPU_IRQ, "irq"),
    (series::CPU_IOWAIT, "iowait"),
    (series::CPU_STEAL, "steal"),
    (series::CPU_NICE, "nice"),
    (series::CPU_GUEST, "guest"),
];

/// The section.
#[function_component(CpuModes)]
pub fn cpu_modes(props: &DepthProps) -> Html {
    let timeline = props.timeline.0.borrow();
    let sched = [series::CONTEXT_SWITCHES, series::INTERRUPTS, series::PROCS_RUNNING, series::PROCS_BLOCKED];
    let names: Vec<&str> = MODES.iter().map(|(name, _)| *name).chain(sched).collect();
    let state = state_line(
        &timeline,
        props.window,
        &[
            ("user", series::CPU_USER.to_owned(), Unit::Percent),
            ("system", series::CPU_SYSTEM.to_owned(), Unit::Percent),
            ("iowait", series::CPU_IOWAIT.to_owned(), Unit::Percent),
            ("steal", series::CPU_STEAL.to_owned(), Unit::Percent),
        ],
    );
    let body = if any_values(&timeline, &names) {
        let modes = MODES
            .iter()
            .fold(
                Chart::new(props, "cpu-modes", "CPU time by mode (stacked; idle is the rest)", Unit::Percent),
                |c, (name, label)| c.line(*name, *label),
            )
            .stacked(180);
        html! {
            <div class="charts__group">
                { modes.html() }
                { Chart::new(props, "cpu-scheduler", "Context switches and interrupts", Unit::PerSecond)
                    .line(series::CONTEXT_SWITCHES, "Context switches")
                    .line(series::INTERRUPTS, "Interrupts")
                    .html() }
                { Chart::new(props, "cpu-procs", "Processes running and blocked", Unit::Count)
                    .line(series::PROCS_RUNNING, "Running")
                    .line(series::PROCS_BLOCKED, "Blocked")
                    .html() }
            </div>
        }
    } else {
        no_data("cpu-modes-none", "CPU-by-mode", None)
    };
    html! {
        <DepthSection id="depth-cpu" title="CPU time by mode" state={state}>{ body }</DepthSection>
    }
}
