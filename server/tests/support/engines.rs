//! Debian's Prometheus tools for the tests: where scripts/setup.sh unpacks
//! them (without their services: `dpkg -x`), and the two time-series engines
//! started on loopback with data directories of their own — Prometheus 2.42
//! as a remote-write receiver and VictoriaMetrics 1.79 — with their HTTP
//! query APIs.
//!
//! Included by integration tests with
//! `#[path = "support/engines.rs"] mod engines;`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where scripts/setup.sh unpacks Debian's Prometheus tools: scripts/lib.sh's
/// `TOOLS_DIR` (`$PERFMON_TOOLS_DIR`, else `~/.cache/perfmon-tools`), `debian/usr/bin`.
pub fn debian_bin() -> PathBuf {
    let tools = std::env::var_os("PERFMON_TOOLS_DIR").filter(|dir| !dir.is_empty()).map_or_else(
        || PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/perfmon-tools"),
        PathBuf::from,
    );
    tools.join("debian/usr/bin")
}

/// `name` from where setup.sh puts it, else from PATH; fails the test when
/// neither has it.
pub fn tool(name: &str) -> PathBuf {
    let unpacked = debian_bin().join(name);
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    std::iter::once(unpacked).chain(on_path).find(|path| path.is_file()).unwrap_or_else(|| {
        panic!(
            "{name} is neither in {} nor on PATH: run scripts/setup.sh, which unpacks Debian's prometheus, \
             prometheus-alertmanager and victoria-metrics packages there",
            debian_bin().display()
        )
    })
}

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Prometheus with `--web.enable-remote-write-receiver`.
    Prometheus,
    /// VictoriaMetrics single-node, fresh samples queryable at once.
    VictoriaMetrics,
}

/// An engine on `127.0.0.1:port`, keeping its data in `dir`; killed when
/// dropped.
pub struct Engine {
    kind: Kind,
    /// Its port.
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    agent: ureq::Agent,
}

impl Engine {
    /// Starts one and waits (up to 60 s) until it is ready. Blocking.
    pub fn start(kind: Kind, dir: &Path, port: u16) -> Engine {
        std::fs::create_dir_all(dir).expect("the engine's directory");
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .new_agent();
        let mut engine = Engine { kind, port, dir: dir.to_owned(), child: None, agent };
        engine.restart();
        engine
    }

    /// Starts it again on the same port and data (after [`Engine::stop`]).
    /// Blocking.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let listen = format!("127.0.0.1:{}", self.port);
        let mut command = match self.kind {
            Kind::Prometheus => {
                let config = self.dir.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 15s\n").expect("the config");
                let mut command = Command::new(tool("prometheus"));
                command.args([
                    format!("--config.file={}", config.display()),
                    format!("--storage.tsdb.path={}", self.dir.join("data").display()),
                    format!("--web.listen-address={listen}"),
                    "--web.enable-remote-write-receiver".into(),
                    "--log.level=warn".into(),
                ]);
                command
            }
            Kind::VictoriaMetrics => {
                let mut command = Command::new(tool("victoria-metrics"));
                command.args([
                    format!("-httpListenAddr={listen}"),
                    format!("-storageDataPath={}", self.dir.join("vm").display()),
                    // Fresh samples are queryable at once; answers are never
                    // from a cache filled before an outage was back-filled.
                    "-search.latencyOffset=0s".into(),
                    "-search.disableCache".into(),
                    "-loggerLevel=WARN".into(),
                ]);
                command
            }
        };
        let log = std::fs::File::create(self.dir.join("engine.log")).expect("a log file");
        let child = command
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {:?}: {err}", self.kind));
        self.child = Some(child);
        let ready = match self.kind {
            Kind::Prometheus => "/-/ready",
            Kind::VictoriaMetrics => "/health",
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.get(ready).is_none_or(|(status, _)| status != 200) {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{:?} exited at start ({status}): {}", self.kind, self.log());
            }
            assert!(Instant::now() < deadline, "{:?} not ready within 60 s: {}", self.kind, self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it (SIGTERM, then SIGKILL after 30 s) and waits for it to exit.
    /// Blocking.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pid = child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its remote-write endpoint.
    pub fn write_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/write", self.port)
    }

    /// What it logged (for failures).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("engine.log")).unwrap_or_default()
    }

    fn get(&self, path_and_query: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path_and_query}", self.port);
        let mut response = self.agent.get(&url).call().ok()?;
        let status = response.status().as_u16();
        Some((status, response.body_mut().read_to_string().ok()?))
    }

    fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.agent.get(&url);
        for (key, value) in params {
            request = request.query(*key, *value);
        }
        let mut response = request.call().unwrap_or_else(|err| panic!("{path}: {err}"));
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().expect("an answer");
        assert_eq!(status, 200, "{path} {params:?}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|err| panic!("{path}: {err}: {body}"))
    }

    /// The series `promql` gives now (an instant query's `result`).
    pub fn query(&self, promql: &str) -> Vec<Value> {
        let answer = self.api("/api/v1/query", &[("query", promql)]);
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The series `promql` gives from `start` to `end` (unix seconds) every
    /// `step` seconds.
    pub fn query_range(&self, promql: &str, start: i64, end: i64, step: u32) -> Vec<Value> {
        let (start, end, step) = (start.to_string(), end.to_string(), step.to_string());
        let params =
            [("query", promql), ("start", start.as_str()), ("end", end.as_str()), ("step", step.as_str())];
        let answer = self.api("/api/v1/query_range", &params);
        answer["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// The stored samples (unix ms, value) of the one series `selector`
    /// names, between `from_ms` and `to_ms`, oldest first: Prometheus's range
    /// vector, VictoriaMetrics' export.
    pub fn samples(&self, selector: &str, from_ms: i64, to_ms: i64) -> Vec<(i64, f64)> {
        let seconds = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
        let mut samples: Vec<(i64, f64)> = match self.kind {
            Kind::Prometheus => {
                let window = format!("{selector}[{}ms]", to_ms - from_ms);
                let end = seconds(to_ms);
                let answer = self.api("/api/v1/query", &[("query", &window), ("time", &end)]);
                let result = answer["data"]["result"].as_array().cloned().unwrap_or_default();
                assert!(result.len() <= 1, "{selector} names one series: {result:?}");
                result
                    .first()
                    .and_then(|series| series["values"].as_array().cloned())
                    .unwrap_or_default()
                    .iter()
                    .map(|pair| {
                        let ms = (pair[0].as_f64().expect("a time") * 1000.0).round() as i64;
                        (ms, pair[1].as_str().expect("a value").parse().expect("a number"))
                    })
                    .collect()
            }
            Kind::VictoriaMetrics => {
                let (start, end) = (seconds(from_ms), seconds(to_ms));
                let url = format!("http://127.0.0.1:{}/api/v1/export", self.port);
                let mut response = self
                    .agent
                    .get(&url)
                    .query("match[]", selector)
                    .query("start", &start)
                    .query("end", &end)
                    .call()
                    .expect("export");
                let body = response.body_mut().read_to_string().expect("an export");
                let lines: Vec<Value> =
                    body.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
                assert!(lines.len() <= 1, "{selector} names one series: {body}");
                lines
                    .first()
                    .map(|series| {
                        let times = series["timestamps"].as_array().cloned().unwrap_or_default();
                        let values = series["values"].as_array().cloned().unwrap_or_default();
                        times
                            .iter()
                            .zip(&values)
                            .map(|(t, v)| (t.as_i64().expect("ms"), v.as_f64().unwrap_or(f64::NAN)))
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        samples.sort_by_key(|(ms, _)| *ms);
        samples
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
