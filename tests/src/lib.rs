//! Helpers for PerfMon's end-to-end tests: headless Chromium driven through
//! ChromeDriver, against the real server (`server::testkit`) serving the real
//! built frontend.
//!
//! # Layout
//! - [`ChromeDriver`]: a `chromedriver` child process on a free port, killed on drop.
//! - [`browser`]: a fantoccini session with the flags Chromium needs as root in a
//!   sandbox-less container.
//! - [`open_panel`] / [`perfmon_button`]: load the app and open its panel.
//! - [`dist_dir`]: where `trunk build` put the frontend.
//! - [`axe_violations`] / [`sideways_overflow`]: what axe-core finds on a page,
//!   and whether it scrolls sideways.
//! - [`set_permission`]: the answer to a browser's permission prompt, which
//!   headless Chromium cannot show.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary `scripts/test.sh` builds before the tests run: `env` names it, else
/// `default` under the target directory. Panics with the command to run when it is
/// missing: a test of the installed binary without it would test nothing.
fn built_binary(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join(default));
    assert!(
        path.is_file(),
        "no {} at {}: run `scripts/test.sh`, which builds it first",
        default,
        path.display()
    );
    path
}

/// The release `perfmon`, with the frontend built in (`PERFMON_RELEASE_BIN`, else
/// `target/release/perfmon`).
pub fn release_binary() -> PathBuf {
    built_binary("PERFMON_RELEASE_BIN", "release/perfmon")
}

/// A `perfmon` built before the frontend (`PERFMON_NO_UI_BIN`, else
/// `target/perfmon-no-ui`).
pub fn no_ui_binary() -> PathBuf {
    built_binary("PERFMON_NO_UI_BIN", "perfmon-no-ui")
}

/// The built frontend. Panics with the command to run when it is missing: an
/// end-to-end test without the real frontend would test nothing.
pub fn dist_dir() -> PathBuf {
    let dist =
        std::env::var_os("PERFMON_DIST").map(PathBuf::from).unwrap_or_else(|| workspace_root().join("dist"));
    assert!(
        dist.join("index.html").is_file(),
        "no built frontend at {}: run `scripts/test.sh` (it runs \
         `trunk build --release --config trunk.toml` first)",
        dist.display()
    );
    dist
}

/// A `chromedriver` process on a free loopback port.
pub struct ChromeDriver {
    /// The WebDriver endpoint.
    pub url: String,
    /// Killed on drop with its process group, so no browser outlives the test,
    /// even one that panicked before closing its session.
    child: Child,
}

impl ChromeDriver {
    /// Starts ChromeDriver (`$CHROMEDRIVER`, else `chromedriver` on PATH) on a port
    /// it picks itself and waits until it says it listens.
    ///
    /// Why not a [`server::testkit::free_port`] handed over: between that probe and
    /// ChromeDriver's bind, another test's driver could take the same port. The
    /// second driver then failed to bind, this test talked to the other test's
    /// driver, and was reset when that test ended and killed it (CI, stop 43). With
    /// `--port=0` the port is the one this driver bound, and its own line says so.
    pub fn start() -> ChromeDriver {
        let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        // unsandboxed: ChromeDriver, not perfmon.
        let mut child = Command::new(&program)
            .arg("--port=0")
            // Its own process group, which the Chromiums it starts join: dropping
            // the driver ends them all (killing the driver alone leaves them).
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!("cannot start {program}: {err}; run `scripts/setup.sh` to install it")
            });
        let stdout = child.stdout.take().expect("chromedriver's stdout is piped");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        // The thread reads on to the end, so a chatty driver never blocks on a full pipe.
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(port) = listening_port(&line) {
                    let _ = port_tx.send(port);
                }
            }
        });
        let port = port_rx.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|err| {
            let _ = child.kill();
            match err {
                std::sync::mpsc::RecvTimeoutError::Timeout => {
                    panic!("{program} did not say within 20 s that it was listening")
                }
                std::sync::mpsc::RecvTimeoutError::Disconnected => {
                    panic!("{program} exited without saying it was listening: {:?}", child.wait())
                }
            }
        });
        ChromeDriver { url: format!("http://127.0.0.1:{port}"), child }
    }
}

/// The port in ChromeDriver's `ChromeDriver was started successfully on port N.`
fn listening_port(line: &str) -> Option<u16> {
    let port: u16 =
        line.split_once("started successfully on port ")?.1.trim_end_matches('.').trim().parse().ok()?;
    // Port 0 is what was asked for, not where it listens.
    (port != 0).then_some(port)
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Loads `url` and waits (up to 20 s) for the app's PerfMon button; returns it.
pub async fn perfmon_button(client: &Client, url: &str) -> fantoccini::elements::Element {
    client.goto(url).await.unwrap_or_else(|err| panic!("{url} loads: {err}"));
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(fantoccini::Locator::Css("[data-testid='perfmon-button']"))
        .await
        .expect("the PerfMon button renders")
}

/// Loads `url` and opens the PerfMon panel.
pub async fn open_panel(client: &Client, url: &str) {
    perfmon_button(client, url).await.click().await.expect("click the PerfMon button");
}

/// A headless Chromium session. As root in a container Chromium only starts with
/// these flags; the background-networking ones keep it off the closed network.
pub async fn browser(driver: &ChromeDriver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1200,800"
            ]
        }),
    );
    // A session is Chromium starting under the driver: on a loaded two-core CI
    // machine the driver has been seen to drop that first connection (reset by
    // peer). That is the set-up failing, not the page under test, so it is
    // tried again, twice, with a word on stderr each time.
    let mut tries = 0;
    loop {
        tries += 1;
        match ClientBuilder::new(HttpConnector::new()).capabilities(caps.clone()).connect(&driver.url).await {
            Ok(client) => return client,
            Err(
                err @ (NewSessionError::Failed(_) | NewSessionError::FailedC(_) | NewSessionError::Lost(_)),
            ) if tries < 3 => {
                eprintln!("a WebDriver session, try {tries}: {err}; trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(err) => panic!("a WebDriver session with headless Chromium: {err:?}"),
        }
    }
}

/// axe-core's violations on the page `client` shows, one line each (`rule:
/// help (n nodes: selector…)`): the accessibility check the page must pass.
/// axe-core is the frontend's dev dependency (`frontend/node_modules`, which
/// `scripts/setup.sh` installs); it is injected into the page, never served.
pub async fn axe_violations(client: &Client) -> Vec<String> {
    let path = workspace_root().join("frontend/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("axe-core at {}: {err}; run scripts/setup.sh", path.display()));
    client.execute(&format!("{source}\nreturn true;"), vec![]).await.expect("axe-core loads in the page");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => `${v.id}: ${v.help} (${v.nodes.length} nodes: ${
                 v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')})`)))
               .catch(e => done([`axe failed: ${e}`]));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    serde_json::from_value(found).expect("a list of violations")
}

/// How far the page is wider than the window, CSS px (0: no sideways scroll).
pub async fn sideways_overflow(client: &Client) -> i64 {
    let width = client
        .execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
            vec![],
        )
        .await
        .expect("the page's width");
    width.as_i64().expect("a number")
}

/// Sets the permission `name` (`notifications`) of the page `client` shows
/// to `state` (`granted`, `denied` or `prompt`), as the user's answer to the
/// browser's prompt would: headless Chromium shows no prompt (it answers
/// `denied` to every request), so a test stands in for the user with
/// WebDriver's Set Permission command, which ChromeDriver implements and
/// fantoccini does not wrap.
pub async fn set_permission(driver: &ChromeDriver, client: &Client, name: &str, state: &str) {
    let session = client.session_id().await.expect("the session's id").expect("a session");
    let addr: std::net::SocketAddr =
        driver.url.trim_start_matches("http://").parse().expect("ChromeDriver's address");
    let body = serde_json::json!({ "descriptor": { "name": name }, "state": state }).to_string();
    let host = addr.to_string();
    let reply = server::testkit::raw_http(
        addr,
        "POST",
        &format!("/session/{session}/permissions"),
        &[("host", host.as_str()), ("content-type", "application/json")],
        Some(&body),
    )
    .await;
    assert_eq!(reply.status, 200, "set permission {name} {state}: {}", reply.text());
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn the_port_is_read_from_chromedrivers_own_line_and_from_no_other() {
        assert_eq!(listening_port("ChromeDriver was started successfully on port 33479."), Some(33479));
        assert_eq!(listening_port("Starting ChromeDriver 156.0.8078.114 (ea19f97) on port 0"), None);
        assert_eq!(listening_port("Only local connections are allowed."), None);
        assert_eq!(listening_port("ChromeDriver was started successfully on port 0."), None);
    }
}
