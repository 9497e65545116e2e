//! End to end: the real server serves the real built frontend; headless Chromium
//! opens it, clicks the PerfMon button, and the panel shows what the server sent,
//! fills its sparklines, and badges a live run.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, Locator};
use futures_util::StreamExt;
use server::testkit::TestServer;
use shared::ServerMsg;
use tests::{ChromeDriver, browser, dist_dir};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const PROJECT: &str = "e2e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_shows_live_server_data_fills_sparklines_and_badges_a_live_run() {
    let server = TestServer::start(server::Config {
        static_dir: Some(dist_dir()),
        live_interval: Duration::from_millis(500),
        idle_interval: Duration::from_millis(500),
        ..server::Config::default()
    })
    .await;

    // Listen to the same stream the page gets, to prove the page shows server data:
    // every CPU figure the server pushed, formatted as the panel shows it.
    let (mut witness, _) = connect_async(format!("ws://{}/ws/projects/{PROJECT}", server.addr))
        .await
        .expect("witness socket connects");
    let witnessed = Arc::new(Mutex::new(HashSet::new()));
    let witness_task = tokio::spawn({
        let witnessed = witnessed.clone();
        async move {
            while let Some(Ok(frame)) = witness.next().await {
                let Message::Text(text) = frame else { continue };
                let samples = match serde_json::from_str(text.as_str()) {
                    Ok(ServerMsg::PerfMetrics(m)) => vec![m],
                    Ok(ServerMsg::History(h)) => h.samples,
                    _ => continue,
                };
                for m in samples {
                    if let Some(cpu) = m.cpu.percent {
                        witnessed.lock().expect("witness lock").insert(format!("{cpu:.1} %"));
                    }
                }
            }
        }
    });

    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    let button = tests::perfmon_button(&client, &format!("http://{}/?project={PROJECT}", server.addr)).await;
    assert!(badge(&client).await.eq_ignore_ascii_case("idle"), "no run registered: Idle");
    button.click().await.expect("click the PerfMon button");

    // Wait for a real CPU percentage: "Not available" until the first frame.
    let cpu = wait_for(&client, "cpu-value", is_percent).await;
    let memory = text(&client, "memory-value").await;
    assert!(memory.ends_with(" GB") && memory.contains(" / "), "memory reads used / total GB: {memory:?}");

    // The panel's figure is one the server pushed on this project's stream (the
    // witness may read it a moment after the browser does).
    let mut seen = false;
    for _ in 0..30 {
        seen = witnessed.lock().expect("witness lock").contains(&cpu);
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the panel's CPU {cpu} was pushed by the server");

    // The sparklines fill from the replayed history and the live stream.
    let mut points = 0;
    for _ in 0..40 {
        let attr = client.find(Locator::Css("[data-testid='cpu'] [data-testid='sparkline']")).await.ok();
        if let Some(svg) = attr {
            points = svg.attr("data-points").await.ok().flatten().and_then(|p| p.parse().ok()).unwrap_or(0);
        }
        if points >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(points >= 3, "the CPU sparkline has history, got {points} points");

    // A registered run turns the badge Live.
    let mut child = std::process::Command::new("sleep").arg("60").spawn().expect("spawn a run");
    server
        .api()
        .call(
            server::cli::client::Method::POST,
            &format!("/api/projects/{PROJECT}/run"),
            Some(serde_json::json!({ "pid": child.id() }).to_string()),
        )
        .await
        .expect("run registered");
    let mut live = String::new();
    for _ in 0..40 {
        live = badge(&client).await;
        if live.eq_ignore_ascii_case("live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(live.eq_ignore_ascii_case("live"), "a running run is Live, got {live:?}");
    let status = wait_for(&client, "run-status", |s| s.starts_with("Running")).await;
    assert!(status.contains(&format!("pid {}", child.id())), "{status}");

    let panel_parent = client
        .execute(
            "return document.querySelector(\"[data-testid='perf-panel']\").parentElement.tagName",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(panel_parent, serde_json::json!("BODY"));

    let _ = child.kill();
    let _ = child.wait();
    witness_task.abort();
    client.close().await.expect("close the browser");
    server.stop().await;
}

async fn badge(client: &Client) -> String {
    client
        .find(Locator::Css("[data-testid='perfmon-button'] [data-testid='badge']"))
        .await
        .expect("the button has a badge")
        .text()
        .await
        .expect("badge text")
}

async fn text(client: &Client, test_id: &str) -> String {
    client
        .find(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .unwrap_or_else(|err| panic!("{test_id} present: {err}"))
        .text()
        .await
        .expect("element text")
}

/// Polls `test_id`'s text until `pred` holds (10 s at most) and returns it.
async fn wait_for(client: &Client, test_id: &str, pred: impl Fn(&str) -> bool) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        last = text(client, test_id).await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{test_id} never satisfied the condition; last text {last:?}");
}

/// `37.2 %`: digits, one decimal, a space, a percent sign.
fn is_percent(text: &str) -> bool {
    let Some(number) = text.strip_suffix(" %") else {
        return false;
    };
    number.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v)) && number.contains('.')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_the_page_streams_and_without_one_it_says_why() {
    let token = "e2e-s3cret";
    let server = TestServer::start(server::Config {
        static_dir: Some(dist_dir()),
        live_interval: Duration::from_millis(500),
        idle_interval: Duration::from_millis(500),
        auth: server::Auth { token: Some(token.into()), jwt_secret: None },
        ..server::Config::default()
    })
    .await;
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;

    // The page passes its ?token= to the socket (as a subprotocol) and streams.
    tests::open_panel(&client, &format!("http://{}/?project={PROJECT}&token={token}", server.addr)).await;
    wait_for(&client, "cpu-value", is_percent).await;
    let page = client.source().await.expect("page source");
    assert!(!page.contains(token), "the token is never shown on the page");

    // Without it, the panel says the server refused, and why, instead of retrying.
    tests::open_panel(&client, &format!("http://{}/?project={PROJECT}", server.addr)).await;
    let why = wait_for(&client, "server-error", |t| !t.is_empty()).await;
    assert!(why.contains("authentication required"), "{why}");
    assert_eq!(text(&client, "cpu-value").await, "Not available");
    let status = client
        .find(Locator::Css("[data-testid='perf-panel'] [data-testid='badge']"))
        .await
        .expect("status badge")
        .text()
        .await
        .expect("text");
    assert!(status.eq_ignore_ascii_case("refused"), "{status}");

    client.close().await.expect("close the browser");
    server.stop().await;
}

/// The CPU sparkline's point count, 0 while it is not drawn.
async fn cpu_points(client: &Client) -> usize {
    let Ok(svg) = client.find(Locator::Css("[data-testid='cpu'] [data-testid='sparkline']")).await else {
        return 0;
    };
    svg.attr("data-points").await.ok().flatten().and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Polls the CPU sparkline until `pred` holds of its point count (20 s at most).
async fn cpu_points_until(client: &Client, what: &str, pred: impl Fn(usize) -> bool) -> usize {
    let mut last = 0;
    for _ in 0..200 {
        last = cpu_points(client).await;
        if pred(last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the CPU sparkline never {what}; last count {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_under_an_open_page_moves_the_sparkline_again() {
    let config = || server::Config {
        static_dir: Some(dist_dir()),
        live_interval: Duration::from_millis(100),
        idle_interval: Duration::from_millis(100),
        ..server::Config::default()
    };
    let first = TestServer::start(config()).await;
    let addr = first.addr;
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    tests::open_panel(&client, &format!("http://{addr}/?project=restart")).await;
    // Let the first server get well ahead: its seq runs far beyond what the
    // restarted one will reach while the test watches.
    let before = cpu_points_until(&client, "filled", |n| n >= 60).await;

    first.stop().await;
    let second = TestServer::start_on(addr, config()).await;
    // The page reconnects; the new server's history replaces the old line…
    let reset = cpu_points_until(&client, "started afresh", |n| n < before).await;
    // …and the line keeps moving with the new server's samples.
    cpu_points_until(&client, "moved again", |n| n >= reset + 5).await;

    client.close().await.expect("close the browser");
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_works_from_localhost_as_from_127_0_0_1_and_without_a_store_offers_only_the_live_span() {
    let server = TestServer::start(server::Config {
        static_dir: Some(dist_dir()),
        live_interval: Duration::from_millis(300),
        idle_interval: Duration::from_millis(300),
        ..server::Config::default()
    })
    .await;
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    for host in ["127.0.0.1", "localhost"] {
        // The page, its wasm and its stream all pass the Host and Origin checks.
        tests::open_panel(&client, &format!("http://{host}:{}/?project=hosts", server.addr.port())).await;
        wait_for(&client, "cpu-value", is_percent).await;
    }
    // This server keeps no history (no store): the range picker offers only
    // what the live stream fills, once the server has said so.
    let mut offered = Vec::new();
    for _ in 0..100 {
        offered.clear();
        for button in client.find_all(Locator::Css(".range__button")).await.expect("the picker") {
            offered.push(button.text().await.expect("a label"));
        }
        if offered == ["15 min"] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(offered, ["15 min"], "without a store the picker offers no span it cannot fill");
    client.close().await.expect("close the browser");
    server.stop().await;
}
