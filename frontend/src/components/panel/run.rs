//! The project's run: its label, how it stands (running, or how it ended), its
//! pid and elapsed time while live, where its time went over the last 30 s in
//! a word (once the server measured that long), and what its tree uses.

use yew::prelude::*;

use super::SectionProps;

/// The run section.
#[function_component(Run)]
pub fn run(props: &SectionProps) -> Html {
    let view = &props.view;
    let line = match &view.run_pid {
        Some(pid) => format!("{} · {pid}", view.run_status),
        None => view.run_status.clone(),
    };
    let status_class = classes!(
        "run__status",
        view.live.then_some("run__status--live"),
        view.run_failed.then_some("run__status--failed")
    );
    html! {
        <>
            if let Some(label) = &view.run_label {
                <div class="panel__run-label" data-testid="run-label" title={label.clone()}>{ label.clone() }</div>
            }
            <div class="panel__run" data-testid="run">
                <span class="run__line">
                    <span class={status_class} data-testid="run-status">{ line }</span>
                    if let Some(state) = &view.run_state {
                        <span class="run__state" data-testid="run-state"
                            title="Where the run's time went over the last 30 seconds">{ format!(" · {state}") }</span>
                    }
                </span>
                if let Some(elapsed) = &view.run_elapsed {
                    <span class="run__elapsed" data-testid="run-elapsed" title="Time since the run started">{ elapsed.clone() }</span>
                }
            </div>
            if let Some(usage) = &view.run_usage {
                <div class="panel__run-usage" data-testid="run-usage" title={view.run_gpu_note.clone()}>{ format!("Run tree: {usage}") }</div>
            }
        </>
    }
}
