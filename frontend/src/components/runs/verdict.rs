//! [`VerdictSection`]: the run report's opening — where the run's time went.
//! Its headline first; then the bar of shares with its legend, each share's
//! evidence (the figures it came from), the GPUs' shares (which overlap the
//! bar, so they stand beside it) and what moved since the project's previous
//! run. A run recorded before PerfMon measured this says "not measured"; a
//! run too short to judge shows its headline only.

use shared::api::RunRecord;
use shared::why::{Change, Share, Verdict};
use yew::prelude::*;

use super::ShareBar;
use crate::view::why::{self, NOT_MEASURED, kind_class, percent_text};

/// Props of [`VerdictSection`].
#[derive(Properties, PartialEq)]
pub struct VerdictSectionProps {
    /// The run's verdict; `None` for runs recorded before it was measured.
    pub verdict: Option<Verdict>,
    /// The project's run before it, to say why nothing is compared.
    #[prop_or_default]
    pub previous: Option<RunRecord>,
    /// What moved since the previous run, biggest first.
    #[prop_or_default]
    pub changes: Vec<Change>,
}

/// Each share with the figures it came from.
fn evidence(shares: &[Share], testid: &'static str) -> Html {
    html! {
        <ul class="why__evidence" data-testid={testid}>
            { for shares.iter().map(|s| html! {
                <li class="why__evidence-item" data-kind={kind_class(s.kind)}>
                    <span class={classes!("why-swatch", format!("why-swatch--{}", kind_class(s.kind)))} aria-hidden="true"></span>
                    <strong>{ format!("{} {}", s.kind.label(), percent_text(s.percent)) }</strong>
                    if !s.evidence.is_empty() {
                        <span class="why__figures">{ format!(": {}", s.evidence) }</span>
                    }
                </li>
            }) }
        </ul>
    }
}

/// Where the run's time went.
#[function_component(VerdictSection)]
pub fn verdict_section(props: &VerdictSectionProps) -> Html {
    let title = html! { <h2 id="why-title" class="visually-hidden">{ "Where its time went" }</h2> };
    let Some(verdict) = &props.verdict else {
        return html! {
            <section class="why why--none" aria-labelledby="why-title" data-testid="verdict">
                { title }
                <p class="why__headline why__headline--none" data-testid="verdict-headline">{ NOT_MEASURED }</p>
                <p class="why__note">{ "This run was recorded before PerfMon measured where a run's time went." }</p>
            </section>
        };
    };
    let headline = html! {
        <p class="why__headline" data-testid="verdict-headline">{ verdict.headline.clone() }</p>
    };
    if !verdict.judged {
        return html! {
            <section class="why why--unjudged" aria-labelledby="why-title" data-testid="verdict">
                { title }{ headline }
            </section>
        };
    }
    let note = why::changes_note(props.previous.as_ref(), !props.changes.is_empty());
    html! {
        <section class="why" aria-labelledby="why-title" data-testid="verdict">
            { title }
            { headline }
            <ShareBar shares={verdict.shares.clone()} />
            { evidence(&verdict.shares, "verdict-evidence") }
            if !verdict.gpu_shares.is_empty() {
                <h3 class="why__subtitle">{ "GPUs" }</h3>
                { evidence(&verdict.gpu_shares, "verdict-gpu") }
            }
            <h3 class="why__subtitle">{ "Since the previous run" }</h3>
            if let Some(note) = note {
                <p class="why__note" data-testid="verdict-changes-note">{ note }</p>
            } else {
                <ul class="why__changes" data-testid="verdict-changes">
                    { for props.changes.iter().map(|c| html! {
                        <li data-kind={kind_class(c.kind)}>{ c.text.clone() }</li>
                    }) }
                </ul>
            }
        </section>
    }
}
