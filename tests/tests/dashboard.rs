//! The dashboard end to end: the release `perfmon` with its store and its
//! built-in page, two runs recorded by `perfmon run` (one exits 0, one 3), and
//! headless Chromium: the runs table lists both, the range picker changes the
//! range fetched, the charts draw with the runs as bands, and the failed run's
//! report — opened by its own URL, and again after a reload — shows exit code 3,
//! its peaks, a chart of its tree, the comparison with the run before, and a
//! CSV that downloads.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, Locator};
use server::testkit::{Perfmon, Scratch, eventually, raw_http};
use tests::{ChromeDriver, browser};

const PROJECT: &str = "dash";

async fn text(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn count(client: &Client, css: &str) -> usize {
    client.find_all(Locator::Css(css)).await.map(|v| v.len()).unwrap_or(0)
}

async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.attr(name).await.ok().flatten()
}

/// The span the dashboard says it fetched, ms. Both ends are read in one script:
/// a live sample may slide the window between two separate reads.
async fn span(client: &Client) -> Option<f64> {
    let ends = client
        .execute(
            "const c = document.querySelector(\"[data-testid='range-caption']\");
             return c ? [c.dataset.from, c.dataset.to] : null;",
            vec![],
        )
        .await
        .ok()?;
    let ends: [String; 2] = serde_json::from_value(ends).ok()?;
    let (from, to): (f64, f64) = (ends[0].parse().ok()?, ends[1].parse().ok()?);
    Some(to - from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_lists_runs_changes_range_and_reports_the_failed_run() {
    let binary = tests::release_binary();
    let data = Scratch::new("dashboard");
    let dir = data.0.to_str().expect("utf-8").to_owned();
    let perfmon = Perfmon::serve(
        &binary,
        &["--data-dir", &dir, "--live-interval-ms", "250", "--idle-interval-ms", "500"],
    )
    .await;
    let bind = perfmon.addr.to_string();
    // Busy for a moment, so each run has CPU to show; the first also waits two
    // seconds, so it is clearly the longer one however loaded the machine is.
    for (label, code, wait) in [("passing build", 0, 2), ("failing tests", 3, 0)] {
        let script = format!("sleep {wait}; i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; exit {code}");
        let status = perfmon
            .sandbox()
            .tokio_command(&binary)
            .args(["run", "--project", PROJECT, "--label", label, "--bind", &bind, "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("perfmon run");
        assert_eq!(status.code(), Some(code), "{label}: the command's exit code passes through");
    }
    let api = perfmon.api();
    let runs: shared::api::Runs = eventually(Duration::from_secs(20), "both exits are recorded", || async {
        let body =
            api.call(server::cli::client::Method::GET, &format!("/api/projects/{PROJECT}/runs"), None).await;
        let runs: shared::api::Runs = serde_json::from_str(&body.ok()?).ok()?;
        (runs.runs.len() == 2 && runs.runs.iter().all(|r| r.exit_code.is_some())).then_some(runs)
    })
    .await;
    let failed = runs.runs.iter().find(|r| r.exit_code == Some(3)).expect("the failed run");

    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    let base = format!("http://{}", perfmon.addr);
    client.goto(&format!("{base}/?project={PROJECT}")).await.expect("the dashboard loads");

    let rows = eventually(Duration::from_secs(20), "the runs table lists both runs", || async {
        let n = count(&client, "[data-testid='run-row']").await;
        (n == 2).then_some(n)
    })
    .await;
    assert_eq!(rows, 2);
    let outcomes = client.find_all(Locator::Css("[data-testid='run-outcome']")).await.expect("outcomes");
    let mut said = Vec::new();
    for outcome in outcomes {
        said.push(outcome.text().await.expect("text"));
    }
    assert_eq!(said, ["exit 3", "exit 0"], "newest first, each with its exit status");

    // The last 15 minutes, then the last hour: the range fetched follows the picker.
    let first = eventually(Duration::from_secs(20), "the range is shown", || span(&client)).await;
    assert!((first - 900_000.0).abs() < 1.0, "15 minutes by default, got {first} ms");
    client
        .find(Locator::Css("[data-testid='range-1h']"))
        .await
        .expect("the 1 h button")
        .click()
        .await
        .expect("click");
    eventually(Duration::from_secs(20), "the hour is fetched", || async {
        span(&client).await.filter(|s| (s - 3_600_000.0).abs() < 1.0)
    })
    .await;
    let pressed = attr(&client, "[data-testid='range-1h']", "aria-pressed").await;
    assert_eq!(pressed.as_deref(), Some("true"));
    // By keyboard too: Enter on the focused 6 h button.
    let six = client.find(Locator::Css("[data-testid='range-6h']")).await.expect("the 6 h button");
    six.send_keys("\u{E007}").await.expect("press Enter on it");
    eventually(Duration::from_secs(20), "six hours are fetched", || async {
        span(&client).await.filter(|s| (s - 6.0 * 3_600_000.0).abs() < 1.0)
    })
    .await;
    // The table sorts by keyboard: Enter on "Duration" puts the longer run first.
    let by_duration =
        client.find(Locator::Css("[data-testid='sort-duration']")).await.expect("the sort button");
    by_duration.send_keys("\u{E007}").await.expect("press Enter on it");
    let longest = runs.runs.iter().find(|r| r.exit_code == Some(0)).expect("the passing run");
    let shortest = runs.runs.iter().find(|r| r.exit_code == Some(3)).expect("the failing run");
    assert!(
        longest.duration_s > shortest.duration_s,
        "{} s against {} s",
        longest.duration_s,
        shortest.duration_s
    );
    eventually(Duration::from_secs(10), "the longest run is listed first", || async {
        let first = attr(&client, "[data-testid='run-row']", "data-run-id").await?;
        (first == longest.run_id).then_some(())
    })
    .await;

    // The CPU chart draws, with both runs as bands.
    eventually(Duration::from_secs(20), "the CPU chart draws both runs", || async {
        let drawn: usize = attr(&client, "[data-testid='cpu']", "data-drawn-points").await?.parse().ok()?;
        let bands: usize = attr(&client, "[data-testid='cpu']", "data-bands").await?.parse().ok()?;
        (drawn > 0 && bands >= 2 && count(&client, "[data-testid='cpu'] canvas").await > 0).then_some(())
    })
    .await;

    // The failed run's report, by its own URL.
    let href = attr(&client, &format!("[data-run-id='{}'] a", failed.run_id), "href")
        .await
        .expect("the row links to its report");
    assert!(href.contains(&format!("/projects/{PROJECT}/runs/")), "{href}");
    let report_url = if href.starts_with("http") { href.clone() } else { format!("{base}{href}") };
    for visit in ["opened", "reloaded"] {
        if visit == "opened" {
            client.goto(&report_url).await.expect("the report loads");
        } else {
            client.refresh().await.expect("reload");
        }
        let outcome = eventually(Duration::from_secs(20), "the report shows how the run ended", || async {
            let t = text(&client, "[data-testid='run-outcome'] dd").await;
            (!t.is_empty()).then_some(t)
        })
        .await;
        assert_eq!(outcome, "exit 3", "{visit}");
        let title = text(&client, ".report__title").await;
        assert!(title.contains("failing tests"), "{visit}: {title}");
        let rss = text(&client, "[data-testid='run-peak-rss'] dd").await;
        assert!(rss.ends_with(" MB") || rss.ends_with(" GB"), "{visit}: the peak RSS has a unit: {rss:?}");
        let processes = text(&client, "[data-testid='run-peak-processes'] dd").await;
        assert!(processes.parse::<u32>().is_ok_and(|n| n >= 1), "{visit}: {processes:?}");
        eventually(Duration::from_secs(20), "a chart of the run's tree draws", || async {
            let drawn: usize =
                attr(&client, "[data-testid='run-cpu']", "data-drawn-points").await?.parse().ok()?;
            (drawn > 0).then_some(())
        })
        .await;
        let comparison = text(&client, "[data-testid='comparison']").await;
        assert!(comparison.contains("passing build") && comparison.contains("Duration"), "{comparison}");
    }

    let csv = attr(&client, "[data-testid='download-csv']", "href").await.expect("a CSV link");
    let path = csv.strip_prefix(&base).unwrap_or(&csv).to_owned();
    let host = format!("127.0.0.1:{}", perfmon.addr.port());
    let reply = raw_http(perfmon.addr, "GET", &path, &[("host", host.as_str())], None).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    assert!(reply.text().starts_with("time,"), "a CSV with a time column: {}", reply.text());

    client.close().await.expect("close the browser");
}
