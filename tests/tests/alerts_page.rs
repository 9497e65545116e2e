//! Alerts on the page, end to end: the release `perfmon` serving the UI built
//! from its sources (`--static-dir dist`), `perfmon run` making a run end, and
//! headless Chromium.
//!
//! The settings page, reached from the header's link, lists the default
//! rules in effect and a configured destination with its URL masked: the
//! page never holds the URL's secret path, on any page; it passes axe-core
//! and does not scroll sideways at phone width. A browser whose user allowed
//! notifications gets one for a run that ends after the page loaded (the page
//! logs each notification when the browser fires its `show` event, which
//! headless Chromium does), the run's end is marked on the dashboard's charts
//! and listed on its report, an event from before a reload is not notified
//! again, and a refused permission says how to allow it.

use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, Locator};
use server::cli::client::Method;
use server::testkit::{Perfmon, Scratch, eventually, free_port};
use shared::alerts::{AlertState, Alerts};
use tests::{ChromeDriver, axe_violations, browser, set_permission, sideways_overflow};

/// What the configured destination's URL hides: it must never reach a page.
const SECRET: &str = "secret-token-path";

/// The rules every server has, defaults first (`server::alerts::config`).
const DEFAULT_RULES: [&str; 7] =
    ["run_finished", "run_failed", "run_oom", "run_stalled", "memory_low", "filesystem_full", "gpu_idle"];

async fn script(client: &Client, js: &str) -> serde_json::Value {
    client.execute(js, vec![]).await.unwrap_or_else(|err| panic!("{js}: {err}"))
}

async fn text(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

/// `perfmon serve` of the release binary with the UI built from the sources
/// and `args`, ticking fast.
async fn serve(args: &[&str]) -> Perfmon {
    let dist = tests::dist_dir();
    let dist = dist.to_str().expect("utf-8");
    let mut all = vec!["--static-dir", dist, "--live-interval-ms", "250", "--idle-interval-ms", "500"];
    all.extend_from_slice(args);
    Perfmon::serve(&tests::release_binary(), &all).await
}

/// `perfmon run --project PROJECT --label LABEL -- true` against `perfmon`.
async fn run_to_its_end(perfmon: &Perfmon, project: &str, label: &str) {
    let status = perfmon
        .sandbox()
        .tokio_command(tests::release_binary())
        .args(["run", "--project", project, "--label", label, "--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert!(status.success(), "perfmon run: {status:?}");
}

async fn alerts(perfmon: &Perfmon, query: &str) -> Alerts {
    let body =
        perfmon.api().call(Method::GET, &format!("/api/alerts{query}"), None).await.expect("GET /api/alerts");
    serde_json::from_str(&body).expect("the alerts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_page_lists_the_rules_in_effect_and_never_a_destinations_secret() {
    let scratch = Scratch::new("alerts-settings");
    // Nothing listens there: deliveries fail, and their errors must not say it either.
    let config = scratch.join("config.toml");
    let url = format!("http://127.0.0.1:{}/{SECRET}", free_port());
    std::fs::write(&config, format!("[[alerts.destination]]\nname = \"hook\"\nurl = \"{url}\"\n"))
        .expect("the configuration file");
    let config = config.to_str().expect("utf-8").to_owned();
    let perfmon = serve(&["--config", &config]).await;
    let base = format!("http://{}", perfmon.addr);
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;

    // The header's link opens the settings.
    client.goto(&format!("{base}/?project=settings")).await.expect("the dashboard");
    let link = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='settings-link']"))
        .await
        .expect("the header links to the settings");
    assert_eq!(link.attr("aria-label").await.expect("a label").as_deref(), Some("Settings"));
    link.click().await.expect("click the settings link");
    eventually(Duration::from_secs(20), "the settings page lists the rules", || async {
        let url = client.current_url().await.ok()?;
        let rows = client.find_all(Locator::Css("[data-testid='rule-row']")).await.ok()?;
        (url.path() == "/settings" && !rows.is_empty()).then_some(())
    })
    .await;

    // Every default rule, from the defaults, on.
    let rules = script(
        &client,
        "return [...document.querySelectorAll(\"[data-testid='rule-row']\")]
           .map(r => [r.dataset.rule, r.cells[3].textContent, r.cells[6].textContent]);",
    )
    .await;
    let rules: Vec<[String; 3]> = serde_json::from_value(rules).expect("the rules' rows");
    let names: Vec<&str> = rules.iter().map(|[name, _, _]| name.as_str()).collect();
    assert_eq!(names, DEFAULT_RULES, "the defaults in effect, in order");
    assert!(rules.iter().all(|[_, source, on]| source == "default" && on == "yes"), "{rules:?}");

    // The destination, masked; the file it came from, and how to change it.
    let row = client
        .find(Locator::Css("[data-testid='destination-row'][data-destination='hook']"))
        .await
        .expect("the configured destination is listed");
    let listed = row.text().await.expect("its text");
    assert!(listed.contains("webhook") && listed.contains("http://127.0.0.1:"), "{listed}");
    assert!(listed.contains('…'), "its path is masked: {listed}");
    let file = text(&client, "[data-testid='config-file']").await.unwrap_or_default();
    assert!(file.contains(&config), "{file}");
    let how = text(&client, "[data-testid='how-to-change']").await.unwrap_or_default();
    assert!(how.contains(&config) && how.contains("restart"), "{how}");
    assert!(!client.source().await.expect("the page").contains(SECRET), "the settings page shows the secret");

    // A run's end is delivered to the destination, and fails there; neither
    // the dashboard's alerts nor the settings (nor the API under them) show
    // the URL.
    run_to_its_end(&perfmon, "settings", "secret keeper").await;
    client.goto(&format!("{base}/?project=settings")).await.expect("the dashboard");
    eventually(Duration::from_secs(30), "the dashboard lists the run's end", || async {
        client.find(Locator::Css("[data-testid='alert-row'][data-rule='run_finished']")).await.ok()
    })
    .await;
    assert!(!client.source().await.expect("the page").contains(SECRET), "the dashboard shows the secret");
    for path in ["/api/settings", "/api/alerts?project=settings"] {
        let body = perfmon.api().call(Method::GET, path, None).await.expect("GET");
        assert!(!body.contains(SECRET), "{path} shows the secret: {body}");
    }

    // The settings page passes axe-core, and fits a phone.
    client.goto(&format!("{base}/settings?project=settings")).await.expect("the settings");
    eventually(Duration::from_secs(20), "the settings are shown", || async {
        client.find(Locator::Css("[data-testid='destination-row']")).await.ok()
    })
    .await;
    assert!(!client.source().await.expect("the page").contains(SECRET), "the settings page shows the secret");
    let violations = axe_violations(&client).await;
    assert!(violations.is_empty(), "axe-core on the settings page:\n{}", violations.join("\n"));
    client.set_window_size(390, 844).await.expect("phone width");
    eventually(Duration::from_secs(10), "the settings page fits 390 px", || async {
        let inner = script(&client, "return window.innerWidth;").await.as_i64()?;
        (inner <= 390 && sideways_overflow(&client).await <= 0).then_some(())
    })
    .await;
    // The header with its settings link fits too, on the dashboard.
    client.goto(&format!("{base}/?project=settings")).await.expect("the dashboard");
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("[data-testid='alerts'][data-state='ready']"))
        .await
        .expect("the dashboard's alerts");
    assert_eq!(sideways_overflow(&client).await, 0, "the dashboard at 390 px scrolls sideways");
    // And the run's report, with its alerts.
    let ended =
        alerts(&perfmon, "?project=settings").await.recent.into_iter().find(|e| e.rule == "run_finished");
    let run_id = ended.and_then(|e| e.run_id).expect("the run's end names its run");
    let report = format!("{base}/projects/settings/runs/{}", run_id.replace(':', "%3A"));
    client.goto(&report).await.expect("the run's report");
    eventually(Duration::from_secs(20), "the report lists the run's end", || async {
        client.find(Locator::Css("[data-testid='run-alerts'] [data-testid='alert-row']")).await.ok()
    })
    .await;
    assert_eq!(sideways_overflow(&client).await, 0, "the report at 390 px scrolls sideways");
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_after_the_page_loaded_is_notified_once_allowed() {
    const PROJECT: &str = "notified";
    let perfmon = serve(&[]).await;
    let base = format!("http://{}", perfmon.addr);
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;

    // Not asked yet: the switch is a button; the first answer is the baseline.
    client.goto(&format!("{base}/?project={PROJECT}")).await.expect("the dashboard");
    eventually(Duration::from_secs(20), "the alerts are watched", || async {
        client
            .find(Locator::Css(
                "[data-testid='notifications'][data-watching='true'][data-permission='default']",
            ))
            .await
            .ok()
    })
    .await;
    // The user's "Allow" in the prompt a click brings up (headless Chromium
    // shows none, and answers `denied` without it): the page's click still
    // asks, and hears `granted`.
    set_permission(&driver, &client, "notifications", "granted").await;
    client
        .find(Locator::Css("[data-testid='enable-notifications']"))
        .await
        .expect("the button")
        .click()
        .await
        .expect("click Enable notifications");
    let on = eventually(Duration::from_secs(10), "the page says notifications are on", || async {
        text(&client, "[data-testid='notifications-on']").await
    })
    .await;
    assert_eq!(on, "Notifications are on");

    // A run ends: the browser shows its notification (the page logs it on
    // the notification's `show` event), tagged with the alert and its state.
    run_to_its_end(&perfmon, PROJECT, "notify me").await;
    let finished = eventually(Duration::from_secs(20), "the server lists the run's end", || async {
        alerts(&perfmon, &format!("?project={PROJECT}"))
            .await
            .recent
            .into_iter()
            .find(|e| e.rule == "run_finished" && e.state == AlertState::Event)
    })
    .await;
    let tag = format!("perfmon-{}-event", finished.id);
    let notified = eventually(Duration::from_secs(20), "the browser showed the notification", || async {
        let entry = client
            .find(Locator::Css(&format!("[data-testid='notified'][data-tag='{tag}'][data-shown='true']")))
            .await
            .ok()?;
        entry.text().await.ok()
    })
    .await;
    assert_eq!(notified, format!("Notified: {}", finished.title));
    assert!(finished.title.contains("“notify me”"), "{}", finished.title);
    // Only the run's end is sure to happen here (the machine's own alerts
    // may fire on a full disk): it is notified once.
    let ours = format!("[data-testid='notified'][data-tag='{tag}']");
    let shown = client.find_all(Locator::Css(&ours)).await.expect("the log").len();
    assert_eq!(shown, 1, "one event, one notification");

    // The dashboard lists it, and marks it on its charts.
    let mark = eventually(Duration::from_secs(20), "the CPU chart marks the run's end", || async {
        let css = format!("[data-testid='cpu'] [data-testid='alert-mark'][data-alert-id='{}']", finished.id);
        let mark = client.find(Locator::Css(&css)).await.ok()?;
        mark.attr("title").await.ok()?
    })
    .await;
    assert!(mark.starts_with("run_finished at "), "{mark}");
    client
        .find(Locator::Css(&format!("[data-testid='alert-row'][data-alert-id='{}']", finished.id)))
        .await
        .expect("the recent list has it");

    // Its report lists it, and marks it on its charts.
    let run_id = finished.run_id.clone().expect("the event names its run");
    let report = format!("{base}/projects/{PROJECT}/runs/{}", run_id.replace(':', "%3A"));
    client.goto(&report).await.expect("the run's report");
    eventually(Duration::from_secs(20), "the report lists and marks the run's end", || async {
        client
            .find(Locator::Css(
                "[data-testid='run-alerts'] [data-testid='alert-row'][data-rule='run_finished']",
            ))
            .await
            .ok()?;
        let css = format!("[data-testid='cpu'] [data-testid='alert-mark'][data-alert-id='{}']", finished.id);
        client.find(Locator::Css(&css)).await.ok()
    })
    .await;

    // Allowed at load: on, no button; what happened before is not notified.
    client.goto(&format!("{base}/?project={PROJECT}")).await.expect("the dashboard again");
    eventually(Duration::from_secs(20), "the reloaded page watches, notifications on", || async {
        client
            .find(Locator::Css(
                "[data-testid='notifications'][data-watching='true'][data-permission='granted']",
            ))
            .await
            .ok()?;
        client.find(Locator::Css("[data-testid='notifications-on']")).await.ok()
    })
    .await;
    assert!(client.find(Locator::Css("[data-testid='enable-notifications']")).await.is_err());
    // Two more answers of the poll (every 5 s): still nothing notified.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let shown = client.find_all(Locator::Css(&ours)).await.expect("the log").len();
    assert_eq!(shown, 0, "an event from before the page loaded is not notified");

    // Refused: the page says how to allow them.
    set_permission(&driver, &client, "notifications", "denied").await;
    client.refresh().await.expect("reload");
    let blocked = eventually(Duration::from_secs(20), "the page says notifications are blocked", || async {
        text(&client, "[data-testid='notifications-blocked']").await
    })
    .await;
    assert!(blocked.contains("site settings"), "{blocked}");
    client.close().await.expect("close the browser");
}
