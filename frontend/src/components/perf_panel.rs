//! The panel's contents: every section of one `perf_metrics` sample.

use yew::prelude::*;

use crate::components::{Badge, Meter};
use crate::format::{self, NOT_AVAILABLE};
use crate::hooks::{Connection, PerfMetricsHandle};

/// Props of [`PerfPanel`].
#[derive(Properties, PartialEq)]
pub struct PerfPanelProps {
    /// The stream's state and newest sample.
    pub data: PerfMetricsHandle,
    /// Closes the panel.
    #[prop_or_default]
    pub on_close: Callback<()>,
}

/// The PerfMon panel: tokens, CPU, memory, GPU and the run.
#[function_component(PerfPanel)]
pub fn perf_panel(props: &PerfPanelProps) -> Html {
    let metrics = props.data.metrics.as_deref();
    let cpu = metrics.and_then(|m| m.cpu.percent);
    let memory = metrics.map(|m| &m.memory);
    let gpu = metrics.map(|m| &m.gpu);
    let tokens = metrics.map(|m| &m.tokens).filter(|t| t.available);
    let run = metrics.map(|m| &m.run);

    let connection = match props.data.connection {
        Connection::Open => html! { <Badge label="Connected" variant="live" /> },
        Connection::Connecting => html! { <Badge label="Connecting…" variant="idle" /> },
        Connection::Reconnecting => html! { <Badge label="Reconnecting…" variant="warn" /> },
    };
    let gpu_meter = match gpu {
        Some(g) if g.available => html! {
            <Meter label="GPU" id="gpu" value={format::percent(g.percent)}
                detail={Some(AttrValue::from(format!("VRAM {}", format::used_of_total_gb(g.vram_used_gb, g.vram_total_gb))))}
                percent={g.percent} />
        },
        Some(g) => html! {
            <Meter label="GPU" id="gpu" value={NOT_AVAILABLE}
                detail={g.reason.clone().map(AttrValue::from)} />
        },
        None => html! { <Meter label="GPU" id="gpu" value={NOT_AVAILABLE} /> },
    };
    let on_close = props.on_close.reform(|_: MouseEvent| ());

    html! {
        <div class="panel" role="dialog" aria-label="PerfMon" data-testid="perf-panel">
            <div class="panel__head">
                <span class="panel__title">{ "Performance" }</span>
                { connection }
                <button class="panel__close" type="button" aria-label="Close" onclick={on_close}>{ "×" }</button>
            </div>
            if let Some(error) = &props.data.server_error {
                <p class="panel__error" role="status">{ error.clone() }</p>
            }
            <Meter label="Tokens (run)" id="tokens"
                value={tokens.map(|t| format::count(t.current_run)).unwrap_or_else(|| NOT_AVAILABLE.to_owned())}
                detail={tokens.map(|t| AttrValue::from(format!("Session {}", format::count(t.total_session))))} />
            <Meter label="CPU" id="cpu" value={format::percent(cpu)} percent={cpu} />
            <Meter label="Memory" id="memory"
                value={format::used_of_total_gb(memory.and_then(|m| m.used_gb), memory.and_then(|m| m.total_gb))}
                detail={memory.and_then(|m| m.percent).map(|p| AttrValue::from(format::percent(Some(p))))}
                percent={memory.and_then(|m| m.percent)} />
            { gpu_meter }
            <div class="panel__run" data-testid="run">
                <span>{ "Run" }</span>
                <span data-testid="run-status">{ run.map(run_text).unwrap_or_else(|| NOT_AVAILABLE.to_owned()) }</span>
            </div>
            <div class="panel__foot" data-testid="sample-time">
                { metrics.map(|m| format!("Sampled {}", m.timestamp.as_str())).unwrap_or_else(|| "Waiting for the first sample".to_owned()) }
            </div>
        </div>
    }
}

fn run_text(run: &shared::Run) -> String {
    let status = match run.status {
        shared::RunStatus::Idle => "Idle",
        shared::RunStatus::Running => "Running",
        shared::RunStatus::Paused => "Paused",
        shared::RunStatus::Stopped => "Stopped",
    };
    match run.pid {
        Some(pid) => format!("{status} · pid {pid}"),
        None => status.to_owned(),
    }
}
