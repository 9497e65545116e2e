//! `use_server_info`: what the server says about itself (`GET /api/health`):
//! its version and commit, for the page's footer. Asked once per page.

use shared::api::Health;
use yew::prelude::*;

/// The server's health answer, once it came; `None` before, or with no server
/// (the dev mock).
#[hook]
pub fn use_server_info() -> Option<Health> {
    let info = use_state(|| None);
    {
        let info = info.clone();
        use_effect_with((), move |_| {
            yew::platform::spawn_local(async move {
                let answer = gloo_net::http::Request::get("/api/health").send().await;
                if let Ok(response) = answer
                    && response.ok()
                    && let Ok(health) = response.json::<Health>().await
                {
                    info.set(Some(health));
                }
            });
        });
    }
    (*info).clone()
}
