//! Regenerates the README screenshot: starts the real server with the built
//! frontend, opens the panel in headless Chromium, waits for live data, and saves
//! a PNG.
//!
//! `cargo run -p tests --bin screenshot -- docs/panel.png` (after `trunk build`).
//! With a URL as second argument it shots that page instead of starting a server
//! (e.g. a `PERFMON_MOCK=1` dev build served by any static file server).

use std::time::Duration;

use server::testkit::TestServer;
use tests::{ChromeDriver, browser, dist_dir};

/// Registers a sleeping process as the demo project's run and reports some
/// tokens, so the picture shows a live run.
async fn show_a_run(addr: std::net::SocketAddr) -> std::process::Child {
    use server::cli::client::{ApiClient, Method};
    let child = std::process::Command::new("sleep").arg("30").spawn().expect("spawn a run");
    let api = ApiClient::new(addr);
    let run = serde_json::json!({ "pid": child.id() }).to_string();
    api.call(Method::POST, "/api/projects/demo/run", Some(run)).await.expect("register the run");
    let tokens = serde_json::json!({ "tokens": 18_240 }).to_string();
    api.call(Method::POST, "/api/projects/demo/tokens", Some(tokens)).await.expect("report tokens");
    child
}

#[tokio::main]
async fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "docs/panel.png".to_owned());
    let (server, url, run) = match std::env::args().nth(2) {
        Some(url) => (None, url, None),
        None => {
            let config = server::Config { static_dir: Some(dist_dir()), ..server::Config::default() };
            let server = TestServer::start(config).await;
            let url = format!("http://{}/?project=demo", server.addr);
            let run = show_a_run(server.addr).await;
            (Some(server), url, Some(run))
        }
    };
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    tests::open_panel(&client, &url).await;
    // Two ticks: the first sample, then one more so bars have animated in.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(&out, png).expect("write the screenshot");
    println!("wrote {out}");
    client.close().await.expect("close the browser");
    if let Some(mut run) = run {
        let _ = run.kill();
        let _ = run.wait();
    }
    if let Some(server) = server {
        server.stop().await;
    }
}
