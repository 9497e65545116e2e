//! Tokens used by the run, against its budget, and by the session.

use yew::prelude::*;

use super::DEFAULT_TOKEN_BUDGET;
use crate::components::Meter;
use crate::view::format::{self, NOT_AVAILABLE};

/// Props of [`Tokens`].
#[derive(Properties, PartialEq)]
pub struct TokensProps {
    /// `(current run, session)` once the agent has reported tokens.
    pub tokens: Option<(u64, u64)>,
    /// Where they come from (and burn rate, context use).
    #[prop_or_default]
    pub note: Option<String>,
    /// The latest turn's context as a share of its model's window.
    #[prop_or_default]
    pub context_percent: Option<f64>,
    /// The run's token budget (`?budget=`), for the bar: without one, the bar
    /// is the context window's use where known, else the default budget.
    #[prop_or_default]
    pub budget: Option<u64>,
}

/// The tokens section.
#[function_component(Tokens)]
pub fn tokens(props: &TokensProps) -> Html {
    match props.tokens {
        Some((run, session)) => {
            // The bar: against the page's `?budget=`, else the latest turn's
            // context window where the transcripts tell it, else the default.
            let (percent, against) = match (props.budget, props.context_percent) {
                (Some(budget), _) => {
                    (run as f64 * 100.0 / budget.max(1) as f64, format!("budget {}", format::count(budget)))
                }
                (None, Some(context)) => (context, "bar: its context window".to_owned()),
                (None, None) => (
                    run as f64 * 100.0 / DEFAULT_TOKEN_BUDGET as f64,
                    format!("budget {}", format::count(DEFAULT_TOKEN_BUDGET)),
                ),
            };
            let mut detail = format!("session {} · {against}", format::count(session));
            if let Some(note) = &props.note {
                detail = format!("{detail} · {note}");
            }
            html! {
                <Meter label="Tokens (run)" id="tokens" value={format::count(run)} detail={Some(AttrValue::from(detail))}
                    percent={Some(percent)} />
            }
        }
        None => html! { <Meter label="Tokens (run)" id="tokens" value={NOT_AVAILABLE} /> },
    }
}
