//! The panel's contents: every section of the newest sample, with sparklines of
//! the recent ones.

use yew::prelude::*;

use crate::components::{Badge, Meter, Sparkline};
use crate::format::{self, NOT_AVAILABLE};
use crate::hooks::use_perf_metrics::Point;
use crate::hooks::{Connection, PerfMetricsHandle};
use crate::view::GpuView;

/// The token budget the run's bar is drawn against when the page names none.
pub const DEFAULT_TOKEN_BUDGET: u64 = 200_000;

/// Props of [`PerfPanel`].
#[derive(Properties, PartialEq)]
pub struct PerfPanelProps {
    /// The stream's state and newest sample.
    pub data: PerfMetricsHandle,
    /// The run's token budget, for the tokens bar.
    #[prop_or(DEFAULT_TOKEN_BUDGET)]
    pub token_budget: u64,
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

/// The PerfMon panel.
#[function_component(PerfPanel)]
pub fn perf_panel(props: &PerfPanelProps) -> Html {
    let data = &props.data;
    let view = &*data.view;
    let series = data.series.borrow();
    let history = |pick: fn(&Point) -> Option<f64>| series.values(pick);

    let status = if data.connection == Connection::Refused {
        html! { <Badge label="Refused" variant="critical" /> }
    } else if cfg!(debug_assertions) && data.mock {
        // Only dev builds have a mock; release builds drop this branch and its label.
        html! { <Badge label="Mock" variant="mock" /> }
    } else if data.stale {
        html! { <Badge label="Stale" variant="warn" /> }
    } else {
        match data.connection {
            Connection::Open => html! { <Badge label="Connected" variant="live" /> },
            Connection::Connecting => html! { <Badge label="Connecting…" variant="idle" /> },
            _ => html! { <Badge label="Reconnecting…" variant="warn" /> },
        }
    };

    let tokens = match view.tokens {
        Some((run, session)) => html! {
            <Meter label="Tokens (run)" id="tokens" value={format::count(run)}
                detail={Some(AttrValue::from(format!("session {} · budget {}", format::count(session), format::count(props.token_budget))))}
                percent={Some(run as f64 * 100.0 / props.token_budget.max(1) as f64)} />
        },
        None => html! { <Meter label="Tokens (run)" id="tokens" value={NOT_AVAILABLE} /> },
    };

    let cores = (!view.cores.is_empty()).then(|| {
        html! {
            <div class="cores" data-testid="cores" aria-label="Per-core use">
                { for view.cores.iter().enumerate().map(|(i, c)| html! {
                    <span class={classes!("cores__bar", format!("cores__bar--{}", format::level(Some(f64::from(*c)))))}
                        title={format!("core {i}: {c} %")}>
                        <span style={format!("height: {c}%")}></span>
                    </span>
                }) }
            </div>
        }
    });

    let gpu = match &view.gpu {
        GpuView::Available { percent, bar, vram, devices } => html! {
            <Meter label="GPU" id="gpu" value={percent.clone()} detail={Some(AttrValue::from(format!("VRAM {vram}")))}
                percent={*bar} history={history(|p| p.gpu)}>
                <ul class="devices" data-testid="gpu-devices">
                    { for devices.iter().map(|d| html! {
                        <li class="devices__row">
                            <span class="devices__name">{ d.name.clone() }</span>
                            <span>{ format!("{} · {} · {}", d.percent, d.vram, d.temperature) }</span>
                        </li>
                    }) }
                </ul>
            </Meter>
        },
        GpuView::Unavailable(reason) => html! {
            <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} detail={Some(AttrValue::from(reason.clone()))} />
        },
        GpuView::Waiting => html! { <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} /> },
    };

    let run_line = match &view.run_pid {
        Some(pid) => format!("{} · {pid}", view.run_status),
        None => view.run_status.clone(),
    };
    let on_close = props.on_close.reform(|_: MouseEvent| ());

    html! {
        <div class={classes!("panel", data.stale.then_some("panel--stale"))} role="dialog" aria-label="PerfMon"
            data-testid="perf-panel" style={props.style.clone()} ref={props.node_ref.clone()}>
            <div class="panel__head">
                <span class="panel__title">{ "Performance" }</span>
                { status }
                <button class="panel__close" type="button" aria-label="Close" onclick={on_close}>{ "×" }</button>
            </div>
            if let Some(error) = &data.server_error {
                <p class="panel__error" role="status" data-testid="server-error">{ error.clone() }</p>
            }
            <div class="panel__run" data-testid="run">
                <span class={classes!("run__status", view.live.then_some("run__status--live"))} data-testid="run-status">{ run_line }</span>
                if let Some(elapsed) = &view.run_elapsed {
                    <span class="run__elapsed" data-testid="run-elapsed" title="Time since the run started">{ elapsed.clone() }</span>
                }
            </div>
            if let Some(usage) = &view.run_usage {
                <div class="panel__run-usage" data-testid="run-usage">{ format!("Run tree: {usage}") }</div>
            }
            <div class="panel__values">
                { tokens }
                <Meter label="CPU" id="cpu" value={view.cpu.clone()} detail={view.load.clone().map(AttrValue::from)}
                    percent={view.cpu_bar} history={history(|p| p.cpu)}>
                    { cores.unwrap_or_default() }
                </Meter>
                <Meter label="Memory" id="memory" value={view.memory.clone()}
                    detail={view.memory_percent.clone().map(|p| AttrValue::from(match &view.swap {
                        Some(swap) => format!("{p} · {swap}"),
                        None => p,
                    }))}
                    percent={view.memory_bar} history={history(|p| p.memory)} />
                { gpu }
                <section class="meter meter--rates" data-testid="network">
                    <div class="meter__head">
                        <span class="meter__label">{ "Network" }</span>
                        <span class="meter__value" data-testid="network-value">
                            { view.network.clone() }
                        </span>
                    </div>
                    <Sparkline values={history(|p| p.net_down)} second={history(|p| p.net_up)}
                        label="Network history: received, and sent in the second colour" />
                </section>
                <Meter label="Disk" id="disk" value={view.disk_io.clone()}
                    detail={Some(AttrValue::from(format!("space {}", view.disk_space)))} percent={view.disk_bar}>
                    <Sparkline values={history(|p| p.disk_read)} second={history(|p| p.disk_write)}
                        label="Disk history: read, and written in the second colour" />
                </Meter>
            </div>
            if let Some(monitor) = &view.monitor {
                <div class="panel__foot" data-testid="monitor">{ monitor.clone() }</div>
            }
        </div>
    }
}
