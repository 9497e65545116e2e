//! End to end: the real server serves the real built frontend; headless Chromium
//! opens it, clicks the PerfMon button, and the panel shows what the server sent.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::Locator;
use futures_util::StreamExt;
use shared::ServerMsg;
use tests::{ChromeDriver, Server, browser, dist_dir};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

const PROJECT: &str = "e2e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_shows_live_cpu_and_memory_from_the_server() {
    let server = Server::start(server::Config {
        static_dir: Some(dist_dir()),
        live_interval: Duration::from_millis(500),
        idle_interval: Duration::from_millis(500),
        ..server::Config::default()
    })
    .await;

    // Listen to the same stream the page gets, to prove the page shows server data.
    let (mut witness, _) = connect_async(format!("ws://{}/ws/projects/{PROJECT}", server.addr))
        .await
        .expect("witness socket connects");
    let witnessed = Arc::new(Mutex::new(HashSet::new()));
    let witness_task = tokio::spawn({
        let witnessed = witnessed.clone();
        async move {
            while let Some(Ok(frame)) = witness.next().await {
                if let Message::Text(text) = frame
                    && let Ok(ServerMsg::PerfMetrics(m)) = serde_json::from_str(text.as_str())
                {
                    witnessed
                        .lock()
                        .expect("witness lock")
                        .insert(m.timestamp.0);
                }
            }
        }
    });

    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    client
        .goto(&format!("http://{}/?project={PROJECT}", server.addr))
        .await
        .expect("page loads");

    let button = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='perfmon-button']"))
        .await
        .expect("the PerfMon button renders");
    let badge = client
        .find(Locator::Css(
            "[data-testid='perfmon-button'] [data-testid='badge']",
        ))
        .await
        .expect("the button has a badge")
        .text()
        .await
        .expect("badge text");
    assert!(
        badge.eq_ignore_ascii_case("idle"),
        "no run registered: the badge says Idle, got {badge:?}"
    );
    button.click().await.expect("click the PerfMon button");

    // Wait for a real CPU percentage: "Not available" until the first frame.
    let mut cpu = String::new();
    for _ in 0..100 {
        cpu = client
            .find(Locator::Css("[data-testid='cpu-value']"))
            .await
            .expect("the panel opened")
            .text()
            .await
            .expect("cpu text");
        if is_percent(&cpu) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        is_percent(&cpu),
        "panel shows a CPU percentage, got {cpu:?}"
    );

    let memory = text(&client, "memory-value").await;
    assert!(
        memory.ends_with(" GB") && memory.contains(" / "),
        "memory reads used / total GB: {memory:?}"
    );
    let sampled = text(&client, "sample-time").await;
    let shown_stamp = sampled
        .strip_prefix("Sampled ")
        .expect("a sample time")
        .to_owned();

    // The panel's sample is one the server pushed on this project's stream (the
    // witness may read it a moment after the browser does).
    let mut seen = false;
    for _ in 0..30 {
        seen = witnessed
            .lock()
            .expect("witness lock")
            .contains(&shown_stamp);
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "the panel's sample {shown_stamp} was pushed by the server"
    );

    // And it keeps updating.
    let mut later = sampled.clone();
    for _ in 0..40 {
        later = text(&client, "sample-time").await;
        if later != sampled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(later, sampled, "the panel keeps updating");
    witness_task.abort();

    let panel_parent = client
        .execute(
            "return document.querySelector(\"[data-testid='perf-panel']\").parentElement.tagName",
            vec![],
        )
        .await
        .expect("script runs");
    assert_eq!(panel_parent, serde_json::json!("BODY"));

    client.close().await.expect("close the browser");
    server.stop().await;
}

async fn text(client: &fantoccini::Client, test_id: &str) -> String {
    client
        .find(Locator::Css(&format!("[data-testid='{test_id}']")))
        .await
        .unwrap_or_else(|err| panic!("{test_id} present: {err}"))
        .text()
        .await
        .expect("element text")
}

/// `37.2 %`: digits, one decimal, a space, a percent sign.
fn is_percent(text: &str) -> bool {
    let Some(number) = text.strip_suffix(" %") else {
        return false;
    };
    number
        .parse::<f64>()
        .is_ok_and(|v| (0.0..=100.0).contains(&v))
        && number.contains('.')
}
