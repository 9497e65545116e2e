//! [`ShareBar`]: where a run's wall time went as one horizontal bar of
//! stacked segments, each as wide as its share, with a text legend beside it.
//! The bar is `role="img"` with its shares said in its `aria-label`, and the
//! legend carries every number, so nothing depends on telling colours apart.

use shared::why::Share;
use yew::prelude::*;

use crate::view::why::{self, kind_class};

/// Props of [`ShareBar`].
#[derive(Properties, PartialEq)]
pub struct ShareBarProps {
    /// The verdict's shares, adding up to about 100.
    pub shares: Vec<Share>,
}

/// The time bar and its legend.
#[function_component(ShareBar)]
pub fn share_bar(props: &ShareBarProps) -> Html {
    let segments = why::segments(&props.shares);
    if segments.is_empty() {
        return Html::default();
    }
    html! {
        <div class="why-bar" data-testid="verdict-share-bar">
            <div class="why-bar__track" role="img" aria-label={why::bar_label(&segments)} data-testid="verdict-bar">
                { for segments.iter().map(|s| html! {
                    <span class={classes!("why-bar__segment", format!("why-bar__segment--{}", kind_class(s.kind)))}
                        style={s.style()} title={s.text()} data-kind={kind_class(s.kind)}></span>
                }) }
            </div>
            <ul class="why-legend" data-testid="verdict-legend">
                { for segments.iter().map(|s| html! {
                    <li class="why-legend__item">
                        <span class={classes!("why-swatch", format!("why-swatch--{}", kind_class(s.kind)))} aria-hidden="true"></span>
                        { s.label }{ " " }<strong class="why-legend__percent">{ s.percent.clone() }</strong>
                    </li>
                }) }
            </ul>
        </div>
    }
}
