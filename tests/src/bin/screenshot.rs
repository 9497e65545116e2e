//! Regenerates the README screenshot: starts the real server with the built
//! frontend, opens the panel in headless Chromium, waits for live data, and saves
//! a PNG.
//!
//! `cargo run -p tests --bin screenshot -- docs/panel.png` (after `trunk build`).

use std::time::Duration;

use fantoccini::Locator;
use tests::{ChromeDriver, Server, browser, dist_dir};

#[tokio::main]
async fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/panel.png".to_owned());
    let server = Server::start(server::Config {
        static_dir: Some(dist_dir()),
        ..server::Config::default()
    })
    .await;
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    client
        .goto(&format!("http://{}/?project=demo", server.addr))
        .await
        .expect("page loads");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='perfmon-button']"))
        .await
        .expect("button renders")
        .click()
        .await
        .expect("click");
    // Two ticks: the first sample, then one more so bars have animated in.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(&out, png).expect("write the screenshot");
    println!("wrote {out}");
    client.close().await.expect("close the browser");
    server.stop().await;
}
