//! Regenerates the README screenshots from the real build: starts the real
//! server (with a store in a scratch directory) serving the built frontend,
//! drives headless Chromium, and saves PNGs.
//!
//! After `trunk build --release --config trunk.toml`:
//! - `cargo run -p tests --bin screenshot -- panel docs/panel.png`: the panel
//!   open over a live run.
//! - `cargo run -p tests --bin screenshot -- dashboard docs/dashboard.png
//!   docs/report.png docs/dashboard-phone.png docs/report-phone.png`: two runs
//!   recorded over a few minutes (one passes, one fails), then the dashboard
//!   with their bands and the failed run's report, at 1400 px and at a
//!   phone's 390 px.
//! - `cargo run -p tests --bin screenshot -- url URL out.png`: any page (e.g. a
//!   `PERFMON_MOCK=1` dev build served by `trunk serve`).

use std::net::SocketAddr;
use std::process::Child;
use std::time::Duration;

use fantoccini::{Client, Locator};
use server::cli::client::{ApiClient, Method};
use server::testkit::{Scratch, TestServer};
use tests::{ChromeDriver, browser, dist_dir};

/// Starts `sh -c script` and registers it as `project`'s run with `label`.
async fn start_run(api: &ApiClient, project: &str, label: &str, script: &str) -> Child {
    let child = std::process::Command::new("sh").args(["-c", script]).spawn().expect("spawn a run");
    let run = serde_json::json!({ "pid": child.id(), "label": label }).to_string();
    api.call(Method::POST, &format!("/api/projects/{project}/run"), Some(run))
        .await
        .expect("register the run");
    child
}

/// Waits for `child` and reports its exit code, as `perfmon run` does.
async fn finish_run(api: &ApiClient, project: &str, mut child: Child) {
    let code = tokio::task::spawn_blocking(move || child.wait().expect("the run exits").code())
        .await
        .expect("joined");
    let run: serde_json::Value = serde_json::from_str(
        &api.call(Method::GET, &format!("/api/projects/{project}/run"), None).await.expect("the run"),
    )
    .expect("JSON");
    let run_id = run["run_id"].as_str().expect("a run id").to_owned();
    let body = serde_json::json!({ "exit_code": code }).to_string();
    api.call(Method::POST, &format!("/api/projects/{project}/runs/{run_id}/exit"), Some(body))
        .await
        .expect("report the exit");
}

/// A busy loop of about `seconds` with a growing buffer, then `exit code`.
fn busy(seconds: u32, code: i32) -> String {
    format!(
        "end=$(($(date +%s) + {seconds})); s=x; while [ $(date +%s) -lt $end ]; do \
         s=\"$s$s\"; [ ${{#s}} -gt 4000000 ] && s=x; done; exit {code}"
    )
}

async fn shoot(client: &Client, out: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(out, png).expect("write the screenshot");
    println!("wrote {out}");
}

async fn panel(out: &str) {
    let server =
        TestServer::start(server::Config { static_dir: Some(dist_dir()), ..server::Config::default() }).await;
    let api = server.api();
    let run = start_run(&api, "demo", "demo", "sleep 30").await;
    let tokens = serde_json::json!({ "tokens": 18_240 }).to_string();
    api.call(Method::POST, "/api/projects/demo/tokens", Some(tokens)).await.expect("report tokens");
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    tests::open_panel(&client, &format!("http://{}/?project=demo", server.addr)).await;
    // Two ticks: the first sample, then one more so bars have animated in.
    tokio::time::sleep(Duration::from_secs(5)).await;
    shoot(&client, out).await;
    client.close().await.expect("close the browser");
    end(run);
    server.stop().await;
}

fn end(mut run: Child) {
    let _ = run.kill();
    let _ = run.wait();
}

/// The dashboard's and the report's shots at one width.
struct Shots<'a> {
    width: u32,
    height: u32,
    dashboard: &'a str,
    report: &'a str,
}

async fn dashboard(shots: &[Shots<'_>]) {
    let data = Scratch::new("screenshot-store");
    let config = server::Config {
        static_dir: Some(dist_dir()),
        store: Some(server::store::StoreConfig { dir: data.0.clone(), retention: Default::default() }),
        ..server::Config::default()
    };
    let server = TestServer::start(config).await;
    let api = server.api();
    let addr: SocketAddr = server.addr;
    println!("recording two runs over about four minutes on http://{addr}/?project=demo …");
    tokio::time::sleep(Duration::from_secs(40)).await;
    let build = start_run(&api, "demo", "nightly build", &busy(70, 0)).await;
    finish_run(&api, "demo", build).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let tests_run = start_run(&api, "demo", "integration tests", &busy(45, 3)).await;
    finish_run(&api, "demo", tests_run).await;
    tokio::time::sleep(Duration::from_secs(20)).await;

    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    for shot in shots {
        client.set_window_size(shot.width, shot.height).await.expect("the window's size");
        page_shots(&client, addr, shot).await;
    }
    client.close().await.expect("close the browser");
    server.stop().await;
}

async fn page_shots(client: &Client, addr: SocketAddr, shots: &Shots<'_>) {
    let (dashboard_out, report_out) = (shots.dashboard, shots.report);
    client.goto(&format!("http://{addr}/?project=demo")).await.expect("the dashboard loads");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='run-row']"))
        .await
        .expect("the runs table fills");
    tokio::time::sleep(Duration::from_secs(3)).await;
    shoot(client, dashboard_out).await;

    let link = client
        .find(Locator::Css("[data-testid='run-row'] a"))
        .await
        .expect("the newest run's link")
        .attr("href")
        .await
        .expect("href")
        .expect("an href");
    let url = if link.starts_with("http") { link } else { format!("http://{addr}{link}") };
    client.goto(&url).await.expect("the report loads");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='run-cpu'][data-drawn-points]"))
        .await
        .expect("the report's charts draw");
    tokio::time::sleep(Duration::from_secs(2)).await;
    shoot(client, report_out).await;
}

async fn url(url: &str, out: &str) {
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    client.set_window_size(1400, 1900).await.expect("a tall window");
    client.goto(url).await.expect("the page loads");
    tokio::time::sleep(Duration::from_secs(8)).await;
    shoot(&client, out).await;
    client.close().await.expect("close the browser");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    match args.first().map(String::as_str) {
        Some("dashboard") => {
            let (wide, report) = (arg(1, "docs/dashboard.png"), arg(2, "docs/report.png"));
            let (phone, phone_report) = (arg(3, "docs/dashboard-phone.png"), arg(4, "docs/report-phone.png"));
            dashboard(&[
                Shots { width: 1400, height: 1900, dashboard: &wide, report: &report },
                Shots { width: 390, height: 1500, dashboard: &phone, report: &phone_report },
            ])
            .await
        }
        Some("url") => url(&arg(1, "http://127.0.0.1:8080/"), &arg(2, "shot.png")).await,
        Some("panel") | None => panel(&arg(1, "docs/panel.png")).await,
        Some(other) => {
            eprintln!("screenshot: unknown page {other:?}; use panel, dashboard or url");
            std::process::exit(2);
        }
    }
}
