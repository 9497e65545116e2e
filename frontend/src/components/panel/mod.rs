//! The panel: one small component per section of the newest sample, with
//! sparklines of the recent ones.

mod cpu;
mod disk;
mod gpu;
mod memory;
mod monitor;
mod network;
mod run;
mod status;
mod tokens;

use std::rc::Rc;

use yew::prelude::*;

use crate::state::{PerfState, Point};
use crate::view::panel::PanelView;

/// The token budget the run's bar is drawn against when the page names none.
pub const DEFAULT_TOKEN_BUDGET: u64 = 200_000;

/// Props of [`PerfPanel`].
#[derive(Properties, PartialEq)]
pub struct PerfPanelProps {
    /// The stream's state and newest sample.
    pub data: PerfState,
    /// The run's token budget (`?budget=`), for the tokens bar.
    #[prop_or_default]
    pub token_budget: Option<u64>,
    /// Where the panel sits (set by the button, which knows where it is).
    #[prop_or_default]
    pub style: AttrValue,
    /// Closes the panel.
    #[prop_or_default]
    pub on_close: Callback<()>,
    /// The panel's root element, so the button can tell clicks inside it apart.
    #[prop_or_default]
    pub node_ref: NodeRef,
}

/// Props of every section: the view of the newest sample.
#[derive(Properties, PartialEq)]
pub struct SectionProps {
    /// What the panel shows for the newest sample.
    pub view: Rc<PanelView>,
    /// Recent values of the section's metric(s), oldest first.
    #[prop_or_default]
    pub history: Vec<f64>,
    /// A second series (sent beside received, written beside read).
    #[prop_or_default]
    pub second: Vec<f64>,
}

/// The PerfMon panel.
#[function_component(PerfPanel)]
pub fn perf_panel(props: &PerfPanelProps) -> Html {
    let data = &props.data;
    let view = data.view.clone();
    let series = data.series.borrow();
    let history = |pick: fn(&Point) -> Option<f64>| series.values(pick);
    let on_close = props.on_close.reform(|_: MouseEvent| ());

    html! {
        <div class={classes!("panel", data.stale.then_some("panel--stale"))} role="dialog" aria-label="PerfMon"
            tabindex="-1" data-testid="perf-panel" style={props.style.clone()} ref={props.node_ref.clone()}>
            <div class="panel__head">
                <span class="panel__title">{ "Performance" }</span>
                <status::Status connection={data.connection} mock={data.mock} stale={data.stale} />
                <button class="panel__close" type="button" aria-label="Close" onclick={on_close}>{ "×" }</button>
            </div>
            if let Some(error) = &data.server_error {
                <p class="panel__error" role="status" data-testid="server-error">{ error.clone() }</p>
            }
            <run::Run view={view.clone()} />
            <div class="panel__values">
                <tokens::Tokens tokens={view.tokens} note={view.token_note.clone()} context_percent={view.token_context_percent} budget={props.token_budget} />
                <cpu::Cpu view={view.clone()} history={history(|p| p.cpu)} />
                <memory::Memory view={view.clone()} history={history(|p| p.memory)} />
                <gpu::Gpu view={view.clone()} history={history(|p| p.gpu)} />
                <network::Network view={view.clone()} history={history(|p| p.net_down)} second={history(|p| p.net_up)} />
                <disk::Disk view={view.clone()} history={history(|p| p.disk_read)} second={history(|p| p.disk_write)} />
            </div>
            <monitor::Monitor view={view} />
        </div>
    }
}
