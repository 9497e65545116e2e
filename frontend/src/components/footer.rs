//! The page's footer: which PerfMon this is (version and commit, as the server
//! reports them, the same as `perfmon --version`).

use shared::api::Health;
use yew::prelude::*;

/// Props of [`Footer`].
#[derive(Properties, PartialEq)]
pub struct FooterProps {
    /// The server's health answer, once it came.
    pub server: Option<Health>,
}

/// The page's footer.
#[function_component(Footer)]
pub fn footer(props: &FooterProps) -> Html {
    let about = match &props.server {
        Some(health) => format!("PerfMon {} (commit {})", health.version, health.commit),
        None => "PerfMon".to_owned(),
    };
    html! {
        <footer class="footer" data-testid="about">{ about }</footer>
    }
}
