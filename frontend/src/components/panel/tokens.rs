//! Tokens used by the run, against its budget, and by the session.

use yew::prelude::*;

use crate::components::Meter;
use crate::view::format::{self, NOT_AVAILABLE};

/// Props of [`Tokens`].
#[derive(Properties, PartialEq)]
pub struct TokensProps {
    /// `(current run, session)` once the agent has reported tokens.
    pub tokens: Option<(u64, u64)>,
    /// The run's token budget, for the bar.
    pub budget: u64,
}

/// The tokens section.
#[function_component(Tokens)]
pub fn tokens(props: &TokensProps) -> Html {
    match props.tokens {
        Some((run, session)) => {
            let detail =
                format!("session {} · budget {}", format::count(session), format::count(props.budget));
            html! {
                <Meter label="Tokens (run)" id="tokens" value={format::count(run)} detail={Some(AttrValue::from(detail))}
                    percent={Some(run as f64 * 100.0 / props.budget.max(1) as f64)} />
            }
        }
        None => html! { <Meter label="Tokens (run)" id="tokens" value={NOT_AVAILABLE} /> },
    }
}
