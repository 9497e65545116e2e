//! What the CLI says, through the real binary: sentences, not JSON; the
//! project named when a run is not in it; a bad label refused before the
//! command runs; no colour codes in a redirected log.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use server::testkit::{Perfmon, Sandbox, Scratch, eventually};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_answer_in_sentences_and_refusals_in_the_servers_words() {
    let perfmon = Perfmon::serve(Path::new(PERFMON), &[]).await;
    let cli = |args: &[&str]| perfmon.sandbox().command(PERFMON).args(args).output().expect("perfmon");
    let out = cli(&["tokens", "--project", "words", "1420"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "project words: 1420 tokens this run, 1420 this session");
    let out = cli(&["pause", "--project", "words"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success() && stdout.is_empty());
    assert!(stderr.contains("project has no live run") && !stderr.contains('{'), "no JSON: {stderr}");
    let out = cli(&["report", "--project", "elsewhere", "42-2026-01-01T00:00:00Z"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("in project elsewhere") && !stderr.contains('{'), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_label_is_refused_before_the_command_runs() {
    let sandbox = Sandbox::new("words-label");
    let scratch = Scratch::new("words-label");
    let touched = scratch.join("ran");
    let label = "x".repeat(129);
    let out = sandbox
        .command(PERFMON)
        .args(["run", "--label", &label, "--", "touch"])
        .arg(&touched)
        .output()
        .expect("perfmon run");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--label"), "{stderr}");
    assert!(!touched.exists(), "the command never ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_log_has_no_colour_codes() {
    let sandbox = Sandbox::new("words-colour");
    let data = Scratch::new("words-colour-data");
    let log = data.join("log");
    let file = std::fs::File::create(&log).expect("a log file");
    let mut child = sandbox
        .command(PERFMON)
        .args(["serve", "--data-dir", data.join("store").to_str().expect("utf-8")])
        .env("PERFMON_LOG", "info")
        .stdout(file.try_clone().expect("a handle"))
        .stderr(file)
        .spawn()
        .expect("perfmon serve");
    let written = eventually(Duration::from_secs(20), "the server logs", || async {
        std::fs::read_to_string(&log).ok().filter(|t| t.contains("INFO"))
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(!written.contains('\u{1b}'), "escape codes in a file: {written:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn perfmon_run_prints_its_projects_page() {
    // A server already up: its address, and the run's project's page on it.
    let perfmon = Perfmon::serve(Path::new(PERFMON), &["--no-store"]).await;
    let out = perfmon
        .sandbox()
        .command(PERFMON)
        .args(["run", "--project", "glance.1", "--", "true"])
        .output()
        .expect("perfmon run");
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let addr = perfmon.sandbox().addr();
    let said = format!(
        "using the PerfMon server at http://{addr}/; watch this run at http://{addr}/?project=glance.1"
    );
    assert!(stderr.contains(&said), "{stderr}");
    // No server: the one it serves for the command's time, and the page on it.
    let sandbox = Sandbox::new("words-own-page");
    let out = sandbox
        .command(PERFMON)
        .args(["run", "--project", "solo", "--", "true"])
        .output()
        .expect("perfmon run");
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let said = format!("PerfMon is running: open http://{}/?project=solo", sandbox.addr());
    assert!(stderr.contains(&said), "{stderr}");
}
