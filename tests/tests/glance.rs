//! The page read at a glance, end to end: the release `perfmon` with its store,
//! a failed run and a live one recorded by `perfmon run`, and headless
//! Chromium. The project's own URL (`/projects/NAME`) opens its dashboard with
//! the switcher on it; the live run's row moves with the stream; the range and
//! a zoom live in the URL; axe-core finds nothing on the dashboard or the
//! report; at phone width (390 px) neither scrolls sideways; the panel opened by
//! keyboard takes focus, names the run and gives focus back; and a server that
//! goes away is said in the header and across the page.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, Locator};
use server::testkit::{Perfmon, Scratch, eventually};
use tests::{ChromeDriver, axe_violations, browser, sideways_overflow};

const PROJECT: &str = "glance";

async fn text(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn script(client: &Client, js: &str) -> serde_json::Value {
    client.execute(js, vec![]).await.unwrap_or_else(|err| panic!("{js}: {err}"))
}

/// The live run's row: its duration and peak CPU cells.
async fn live_row(client: &Client) -> Option<(String, String)> {
    let cells = script(
        client,
        "const row = [...document.querySelectorAll(\"[data-testid='run-row']\")]
           .find(r => r.querySelector(\"[data-testid='run-outcome']\").textContent === 'running');
         return row ? [row.cells[2].textContent, row.cells[4].textContent] : null;",
    )
    .await;
    let [duration, cpu]: [String; 2] = serde_json::from_value(cells).ok()?;
    Some((duration, cpu))
}

fn assert_clean(violations: &[String], page: &str) {
    assert!(violations.is_empty(), "axe-core on the {page}:\n{}", violations.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reads_at_a_glance_on_any_screen() {
    let binary = tests::release_binary();
    let data = Scratch::new("glance");
    let dir = data.0.to_str().expect("utf-8").to_owned();
    let perfmon = Perfmon::serve(
        &binary,
        &["--data-dir", &dir, "--live-interval-ms", "250", "--idle-interval-ms", "500"],
    )
    .await;
    let (bind, addr) = (perfmon.addr.to_string(), perfmon.addr);
    let status = perfmon
        .sandbox()
        .tokio_command(&binary)
        .args([
            "run",
            "--project",
            PROJECT,
            "--label",
            "quick check",
            "--bind",
            &bind,
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert_eq!(status.code(), Some(3));
    // A busy run that outlives the test (it is stopped at the end).
    let mut long = perfmon
        .sandbox()
        .tokio_command(&binary)
        .args(["run", "--project", PROJECT, "--label", "long job", "--bind", &bind, "--"])
        .args(["sh", "-c", "end=$(($(date +%s) + 120)); while [ $(date +%s) -lt $end ]; do :; done"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the long run starts");

    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    let base = format!("http://{addr}");

    // The project's own path opens its dashboard, the switcher on it.
    client.goto(&format!("{base}/projects/{PROJECT}")).await.expect("the project's page loads");
    eventually(Duration::from_secs(20), "the switcher lists the project as live", || async {
        let options = script(
            &client,
            "const s = document.querySelector(\"[data-testid='project-switcher']\");
             return s ? [s.value, [...s.options].map(o => o.textContent).join('|')] : null;",
        )
        .await;
        let [value, options]: [String; 2] = serde_json::from_value(options).ok()?;
        (value == PROJECT && options.contains(&format!("{PROJECT} · live"))).then_some(())
    })
    .await;

    // The live run's row moves with the stream: its duration grows, and its
    // peak CPU is a figure, without the table being fetched again.
    let (first, cpu) = eventually(Duration::from_secs(30), "the live run's row shows its CPU", || async {
        live_row(&client).await.filter(|(_, cpu)| cpu.ends_with(" %"))
    })
    .await;
    assert!(cpu.trim_end_matches(" %").parse::<f64>().is_ok_and(|v| v > 0.0), "a busy run's peak CPU: {cpu}");
    eventually(Duration::from_secs(20), "the live run's duration moves on", || async {
        live_row(&client).await.filter(|(duration, _)| *duration != first)
    })
    .await;

    // The range lives in the URL: picked, then kept through a reload.
    client.find(Locator::Css("[data-testid='range-1h']")).await.expect("1 h").click().await.expect("click");
    eventually(Duration::from_secs(10), "the URL names the range", || async {
        client.current_url().await.ok().filter(|u| u.query().is_some_and(|q| q.contains("range=1h")))
    })
    .await;
    client.refresh().await.expect("reload");
    eventually(Duration::from_secs(20), "the reloaded page shows the hour", || async {
        let pressed = client.find(Locator::Css("[data-testid='range-1h']")).await.ok()?;
        (pressed.attr("aria-pressed").await.ok()?? == "true").then_some(())
    })
    .await;
    // A zoom too: a span in the URL is the span shown.
    let (from, to) = (1_764_000_000_000_i64, 1_764_000_600_000_i64);
    client.goto(&format!("{base}/?project={PROJECT}&from={from}&to={to}")).await.expect("a zoomed link");
    eventually(Duration::from_secs(20), "the zoomed span is shown", || async {
        let caption = client.find(Locator::Css("[data-testid='range-caption']")).await.ok()?;
        let shown = (caption.attr("data-from").await.ok()??, caption.attr("data-to").await.ok()??);
        (shown == (from.to_string(), to.to_string())).then_some(())
    })
    .await;
    let caption = text(&client, "[data-testid='range-caption']").await.unwrap_or_default();
    assert!(caption.starts_with("Zoomed in"), "{caption}");

    // axe-core finds nothing on the dashboard (with its runs and charts)…
    client.goto(&format!("{base}/?project={PROJECT}")).await.expect("the dashboard");
    eventually(Duration::from_secs(20), "the charts and runs are drawn", || async {
        let rows = client.find_all(Locator::Css("[data-testid='run-row']")).await.ok()?.len();
        let drawn = client
            .find(Locator::Css("[data-testid='cpu']"))
            .await
            .ok()?
            .attr("data-drawn-points")
            .await
            .ok()??;
        (rows == 2 && drawn != "0").then_some(())
    })
    .await;
    assert_clean(&axe_violations(&client).await, "dashboard");

    // …and at phone width the dashboard does not scroll sideways.
    client.set_window_size(390, 844).await.expect("phone width");
    eventually(Duration::from_secs(10), "the dashboard fits 390 px", || async {
        let inner = script(&client, "return window.innerWidth;").await.as_i64()?;
        (inner <= 390 && sideways_overflow(&client).await <= 0).then_some(())
    })
    .await;

    // The failed run's report: clean, and it fits too.
    let href = script(
        &client,
        "const row = [...document.querySelectorAll(\"[data-testid='run-row']\")]
           .find(r => r.querySelector(\"[data-testid='run-outcome']\").textContent === 'exit 3');
         return row ? row.querySelector('a').getAttribute('href') : null;",
    )
    .await;
    let href = href.as_str().expect("the failed run's link").to_owned();
    client.goto(&format!("{base}{href}")).await.expect("the report");
    eventually(Duration::from_secs(20), "the report shows how the run ended", || async {
        text(&client, "[data-testid='run-outcome'] dd").await.filter(|t| t == "exit 3")
    })
    .await;
    assert_eq!(sideways_overflow(&client).await, 0, "the report at 390 px scrolls sideways");
    assert_clean(&axe_violations(&client).await, "run report");

    // The panel, by keyboard: focus goes in, the run is named, focus comes back.
    client.set_window_size(1200, 800).await.expect("desktop width");
    let button = tests::perfmon_button(&client, &format!("{base}/?project={PROJECT}")).await;
    button.send_keys("\u{E007}").await.expect("Enter on the PerfMon button");
    eventually(Duration::from_secs(10), "focus moves into the panel", || async {
        let inside = script(
            &client,
            "const p = document.querySelector(\"[data-testid='perf-panel']\");
             return !!p && p.contains(document.activeElement);",
        )
        .await;
        (inside == serde_json::Value::Bool(true)).then_some(())
    })
    .await;
    let label = eventually(Duration::from_secs(10), "the panel names the run", || async {
        text(&client, "[data-testid='run-label']").await.filter(|t| !t.is_empty())
    })
    .await;
    assert_eq!(label, "long job");
    client.active_element().await.expect("focus").send_keys("\u{E00C}").await.expect("Escape");
    eventually(Duration::from_secs(10), "focus is back on the button", || async {
        let back = script(
            &client,
            "return document.activeElement?.dataset?.testid === 'perfmon-button'
               && !document.querySelector(\"[data-testid='perf-panel']\");",
        )
        .await;
        (back == serde_json::Value::Bool(true)).then_some(())
    })
    .await;
    let badge =
        text(&client, "[data-testid='perfmon-button'] [data-testid='badge']").await.unwrap_or_default();
    assert!(badge.eq_ignore_ascii_case("live"), "a live run: {badge}");

    // The server goes away: the header and a banner say so.
    let sandbox = perfmon.sandbox().clone();
    let stopped = perfmon.terminate(Duration::from_secs(10));
    assert!(stopped.success(), "{stopped:?}");
    eventually(Duration::from_secs(30), "the header says the server is lost", || async {
        let badge = text(&client, "[data-testid='perfmon-button'] [data-testid='badge']").await?;
        let banner = text(&client, "[data-testid='connection-lost']").await?;
        (badge.eq_ignore_ascii_case("offline") && banner.contains("Lost the connection")).then_some(())
    })
    .await;

    // SIGTERM to `perfmon run`, which hands it to the busy command.
    if let Some(pid) = long.id() {
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    }
    let ended = tokio::time::timeout(Duration::from_secs(20), long.wait()).await;
    assert!(ended.is_ok(), "perfmon run ends on SIGTERM");
    drop(sandbox);
    client.close().await.expect("close the browser");
}
