//! `use_server_info`: what the server says about itself (`GET /api/health`):
//! its version and commit for the page's footer, and its store's state for the
//! banner. Asked at once, then every half minute (a disk fills while the page
//! is open).

use shared::api::Health;
use yew::prelude::*;

/// How often the health answer is asked again.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// The server's health answer, once it came; `None` before, or with no server
/// (the dev mock).
#[hook]
pub fn use_server_info() -> Option<Health> {
    let info = use_state(|| None);
    {
        let info = info.clone();
        use_effect_with((), move |_| {
            // The app's root is never unmounted, so the loop lives as long as the page.
            yew::platform::spawn_local(async move {
                let mut last = None;
                loop {
                    let answer = gloo_net::http::Request::get("/api/health").send().await;
                    if let Ok(response) = answer
                        && response.ok()
                        && let Ok(health) = response.json::<Health>().await
                        && last.as_ref() != Some(&health)
                    {
                        last = Some(health.clone());
                        info.set(Some(health));
                    }
                    yew::platform::time::sleep(REFRESH).await;
                }
            });
        });
    }
    (*info).clone()
}
