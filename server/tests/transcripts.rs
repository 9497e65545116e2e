//! Token usage read from an agent's own transcript, through the real binary: a
//! child that behaves like Claude Code runs under `perfmon run` and appends its
//! transcript line by line while the run is live — a duplicate of a streamed
//! message, a garbage line, a partial last line completed seconds later, an
//! unknown model, a user line holding a secret, and a second session in
//! another project's folder writing at the same time. The run's record counts
//! exactly its own session's tokens, once each; a run without a transcript has
//! none; and the secret, the transcript's file name and its folder appear in no
//! answer of the API, no file of the store and no line of the log. A child that
//! behaves like Codex holds its session rollout open and writes token-count
//! events (one repeated): the run counts the growth of Codex's running total.

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use server::cli::client::{ApiClient, Method};
use server::testkit::{Perfmon, Sandbox, eventually};
use shared::TokenSource;
use shared::api::{RunReport, Runs};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

/// What the transcript's content holds, and nothing PerfMon keeps may.
const SECRET: &str = "SECRET-7f3a9c";

/// The run's session file, and the folder the other session writes in.
const SESSION_FILE: &str = "agent-session-a.jsonl";
const OTHER_FOLDER: &str = "-elsewhere-other-project";

/// Claude Code's folder name for a working directory.
fn encoded(dir: &Path) -> String {
    dir.display().to_string().replace(['/', '.'], "-")
}

/// One assistant line as Claude Code writes it, stamped now.
fn assistant(id: &str, request: &str, model: &str, usage: [u64; 4]) -> String {
    assistant_of("5b2c-session-a", id, request, model, usage)
}

/// The same, of session `session`.
fn assistant_of(session: &str, id: &str, request: &str, model: &str, usage: [u64; 4]) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "type": "assistant", "timestamp": now, "sessionId": session, "requestId": request,
        "cwd": "/the/agents/own/folder",
        "message": {
            "id": id, "model": model, "role": "assistant",
            "content": [{ "type": "text", "text": format!("here is the key: {SECRET}") }],
            "usage": {
                "input_tokens": usage[0], "output_tokens": usage[1],
                "cache_creation_input_tokens": usage[2], "cache_read_input_tokens": usage[3]
            }
        }
    })
    .to_string()
}

#[test]
#[ignore = "the agent-like child of a_runs_tokens_come_from_its_agents_transcript_and_nothing_else_is_kept"]
fn agent_child() {
    let home = std::env::var("HOME").expect("HOME");
    let projects = Path::new(&home).join(".claude/projects");
    let cwd = std::env::current_dir().expect("a working directory");
    let ours = projects.join(encoded(&cwd));
    let theirs = projects.join(OTHER_FOLDER);
    std::fs::create_dir_all(&ours).expect("our folder");
    std::fs::create_dir_all(&theirs).expect("their folder");
    // Claude Code appends and closes: no file stays open.
    let append = |path: &Path, text: &str| {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open");
        file.write_all(text.as_bytes()).expect("append");
    };
    let file = ours.join(SESSION_FILE);
    let other = theirs.join("agent-session-b.jsonl");
    let write = |path: &Path, text: &str| append(path, text);
    let first = assistant("msg_1", "req_1", "claude-sonnet-4-5", [10, 20, 30, 40]);
    write(&file, &format!("{first}\n"));
    // Streaming writes the same message again: counted once.
    write(&file, &format!("{first}\n"));
    write(&file, "this is not json\n");
    let user = serde_json::json!({
        "type": "user", "timestamp": chrono::Utc::now().to_rfc3339(), "sessionId": "5b2c-session-a",
        "message": { "role": "user", "content": format!("use {SECRET} to log in") }
    });
    write(&file, &format!("{user}\n"));
    // Another session, in another project's folder, at the same time.
    write(
        &other,
        &format!(
            "{}\n",
            assistant_of("77aa-session-b", "msg_9", "req_9", "claude-sonnet-4-5", [5000, 5000, 0, 0])
        ),
    );
    std::thread::sleep(Duration::from_millis(2500));
    // A line written in two parts, a poll apart: it counts once complete.
    let second = assistant("msg_2", "req_2", "claude-opus-4-1", [1, 2, 3, 4]);
    let (head, tail) = second.split_at(second.len() / 2);
    write(&file, head);
    std::thread::sleep(Duration::from_millis(2500));
    write(&file, &format!("{tail}\n"));
    write(&file, &format!("{}\n", assistant("msg_3", "req_3", "mystery-model-9", [100, 200, 0, 0])));
    // The agent exits right after its last line: the run's transcripts are
    // read once more after it ended.
}

async fn get(api: &ApiClient, path: &str) -> String {
    api.call(Method::GET, path, None).await.unwrap_or_else(|err| panic!("GET {path}: {err}"))
}

/// The run of `project` labelled `label`, once `ready` says it is recorded as wanted.
async fn recorded(api: &ApiClient, project: &str, ready: fn(&shared::api::RunRecord) -> bool) -> RunReport {
    let run_id = eventually(Duration::from_secs(20), "the run is recorded", || async {
        let runs: Runs =
            serde_json::from_str(&get(api, &format!("/api/projects/{project}/runs")).await).ok()?;
        runs.runs.into_iter().find(&ready).map(|r| r.run_id)
    })
    .await;
    serde_json::from_str(&get(api, &format!("/api/projects/{project}/runs/{run_id}")).await)
        .expect("a report")
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path, out: &mut Vec<(std::path::PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_tokens_come_from_its_agents_transcript_and_nothing_else_is_kept() {
    let sandbox = Sandbox::new("transcripts");
    let log_path = sandbox.home().join("perfmon.log");
    let log = std::fs::File::create(&log_path).expect("a log file");
    // The unknown model gets a price from the server's prices file.
    let prices = sandbox.home().join("prices.toml");
    std::fs::write(
        &prices,
        "[models.\"mystery-model-9\"]\ninput = 1.0\noutput = 2.0\ncache_write = 0.0\ncache_read = 0.0\n",
    )
    .expect("a prices file");
    let mut serve = sandbox.command(PERFMON);
    serve.args(["serve", "--bind", &sandbox.addr().to_string()]).stdout(Stdio::null()).stderr(log);
    serve.arg("--prices").arg(&prices);
    serve.env_remove("CLAUDE_CONFIG_DIR").env_remove("CODEX_HOME");
    let perfmon = Perfmon::start(serve, &sandbox).await;
    let api = perfmon.api();

    let work = sandbox.home().join("work/my.app");
    std::fs::create_dir_all(&work).expect("the agent's folder");
    let me = std::env::current_exe().expect("this test binary");
    let status = sandbox
        .tokio_command(PERFMON)
        .args(["run", "--project", "agent", "--label", "agent", "--"])
        .arg(&me)
        .args(["--exact", "agent_child", "--ignored", "--nocapture"])
        .current_dir(&work)
        .stdout(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert!(status.success(), "the agent-like child ended {status}");

    // Its last line, written as it exited, counts too.
    let report = recorded(&api, "agent", |r| r.ended_at.is_some() && r.tokens == 111 + 222 + 33 + 44).await;
    let run = &report.run;
    assert_eq!(run.token_source, Some(TokenSource::ClaudeCode));
    let detail = run.token_detail.clone().expect("tokens by kind");
    // msg_1 once, msg_2 once complete, msg_3 (an unknown model) — not the
    // duplicate, not the other folder's session.
    assert_eq!(
        (detail.input, detail.output, detail.cache_write, detail.cache_read),
        (10 + 1 + 100, 20 + 2 + 200, 30 + 3, 40 + 4),
        "{detail:?}"
    );
    assert_eq!(run.tokens, 111 + 222 + 33 + 44);
    assert_eq!((detail.turns, detail.sessions, detail.malformed_lines), (3, 1, 1), "{detail:?}");
    assert_eq!(detail.models, ["claude-opus-4-1", "claude-sonnet-4-5", "mystery-model-9"]);
    assert_eq!(detail.found_by, "project folder");
    // One session: its share is the run's, under a hash, never its id.
    let [session] = detail.by_session.as_slice() else { panic!("one session: {:?}", detail.by_session) };
    assert_eq!((session.input, session.output, session.turns), (111, 222, 3));
    assert!(
        session.session.len() == 12 && session.session.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        session.session
    );
    // Each model's kinds at its price per million: Sonnet 4.5 (built in), Opus
    // 4.1 (built in), the mystery model (the file's).
    let expected = (10.0 * 3.0
        + 20.0 * 15.0
        + 30.0 * 3.75
        + 40.0 * 0.30
        + 1.0 * 15.0
        + 2.0 * 75.0
        + 3.0 * 18.75
        + 4.0 * 1.50
        + 100.0 * 1.0
        + 200.0 * 2.0)
        / 1e6;
    let cost = detail.cost_usd.expect("every model has a price");
    assert!((cost - expected).abs() < 1e-6, "{cost} vs {expected}");
    assert_eq!(detail.usage_percent, None, "the latest turn's model has no known window");
    assert!(detail.usage_reason.as_deref().is_some_and(|r| r.contains("mystery-model-9")), "{detail:?}");

    // A run with no transcript has no token figures.
    let quiet = sandbox
        .tokio_command(PERFMON)
        .args(["run", "--project", "quiet", "--", "sleep", "1"])
        .current_dir(&work)
        .stdout(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert!(quiet.success());
    let none = recorded(&api, "quiet", |r| r.ended_at.is_some()).await;
    assert_eq!((none.run.token_source, none.run.tokens), (None, 0), "{:?}", none.run);

    // Nothing of the transcript but its counts, anywhere.
    let mut answers = Vec::new();
    for path in [
        "/api/projects/agent/runs".to_owned(),
        format!("/api/projects/agent/runs/{}", run.run_id),
        "/api/projects/agent/runs?format=csv".to_owned(),
        format!("/api/projects/agent/runs/{}?format=csv", run.run_id),
        "/metrics".to_owned(),
    ] {
        answers.push((path.clone().into(), get(&api, &path).await.into_bytes()));
    }
    perfmon.terminate(Duration::from_secs(10));
    files_under(&sandbox.data_dir(), &mut answers);
    answers.push((log_path.clone(), std::fs::read(&log_path).expect("the log")));
    assert!(
        answers.len() > 6,
        "the store's files were read: {:?}",
        answers.iter().map(|a| &a.0).collect::<Vec<_>>()
    );
    for (what, bytes) in &answers {
        for private in [SECRET, SESSION_FILE, "my.app", "my-app", "5b2c-session-a", "/the/agents/own/folder"]
        {
            assert!(!contains(bytes, private), "{private} is in {}", what.display());
        }
    }
}

#[test]
fn a_bad_prices_file_refuses_the_start_and_says_where() {
    let sandbox = Sandbox::new("bad-prices");
    let prices = sandbox.home().join("prices.toml");
    std::fs::create_dir_all(sandbox.home()).expect("home");
    std::fs::write(
        &prices,
        "[models.\"x\"]\ninput = 1.0\noutput = \"free\"\ncache_write = 0.0\ncache_read = 0.0\n",
    )
    .expect("a prices file");
    let out = sandbox
        .command(PERFMON)
        .args(["serve", "--bind", &sandbox.addr().to_string(), "--no-store", "--prices"])
        .arg(&prices)
        .output()
        .expect("perfmon serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a bad prices file refuses the start: {stderr}");
    assert!(stderr.contains("prices.toml") && stderr.contains("line 3"), "{stderr}");
}

/// The Codex-like child's rollout file name (under `sessions/YYYY/MM/DD/`).
const ROLLOUT: &str = "rollout-2026-12-03T05-00-00-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl";

/// One Codex rollout line of `kind` with `payload`, stamped now.
fn rollout_line(kind: &str, payload: serde_json::Value) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!("{}\n", serde_json::json!({ "timestamp": now, "type": kind, "payload": payload }))
}

/// A `token_count` event: the running total, and the latest response's.
fn token_count(total: [u64; 4], last: [u64; 4]) -> String {
    let usage = |[input, cached, output, reasoning]: [u64; 4]| {
        serde_json::json!({
            "input_tokens": input, "cached_input_tokens": cached, "output_tokens": output,
            "reasoning_output_tokens": reasoning, "total_tokens": input + output
        })
    };
    rollout_line(
        "event_msg",
        serde_json::json!({ "type": "token_count",
            "info": { "total_token_usage": usage(total), "last_token_usage": usage(last), "model_context_window": 272000 },
            "rate_limits": { "primary": { "used_percent": 7.0, "window_minutes": 300 } } }),
    )
}

#[test]
#[ignore = "the Codex-like child of a_codex_runs_tokens_come_from_the_rollout_it_holds_open"]
fn codex_child() {
    let home = std::env::var("HOME").expect("HOME");
    let day = Path::new(&home).join(".codex/sessions/2026/12/03");
    std::fs::create_dir_all(&day).expect("the sessions folder");
    // Codex keeps its rollout open for the session's life.
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(day.join(ROLLOUT)).expect("the rollout");
    let mut write = |text: &str| {
        file.write_all(text.as_bytes()).expect("append");
        file.flush().expect("flush");
    };
    write(&rollout_line(
        "session_meta",
        serde_json::json!({ "id": "0199a1b2-c3d4", "cwd": "/the/agents/own/folder", "instructions": SECRET }),
    ));
    write(&rollout_line(
        "turn_context",
        serde_json::json!({ "model": "gpt-5-codex", "cwd": "/the/agents/own/folder" }),
    ));
    write(&rollout_line(
        "response_item",
        serde_json::json!({ "type": "message", "role": "user", "content": [{ "type": "input_text", "text": SECRET }] }),
    ));
    write(&token_count([1000, 200, 50, 20], [1000, 200, 50, 20]));
    // Codex repeats an event when nothing new was used: it adds nothing.
    write(&token_count([1000, 200, 50, 20], [1000, 200, 50, 20]));
    std::thread::sleep(Duration::from_millis(2500));
    write(&token_count([2500, 1100, 80, 25], [1500, 900, 30, 5]));
    std::thread::sleep(Duration::from_millis(3000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_codex_runs_tokens_come_from_the_rollout_it_holds_open() {
    let sandbox = Sandbox::new("codex");
    let mut serve = sandbox.command(PERFMON);
    serve.args(["serve", "--bind", &sandbox.addr().to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
    serve.env_remove("CLAUDE_CONFIG_DIR").env_remove("CODEX_HOME");
    let perfmon = Perfmon::start(serve, &sandbox).await;
    let api = perfmon.api();
    let me = std::env::current_exe().expect("this test binary");
    let status = sandbox
        .tokio_command(PERFMON)
        .args(["run", "--project", "codex", "--"])
        .arg(&me)
        .args(["--exact", "codex_child", "--ignored", "--nocapture"])
        .env_remove("CODEX_HOME")
        .stdout(Stdio::null())
        .status()
        .await
        .expect("perfmon run");
    assert!(status.success(), "the Codex-like child ended {status}");

    let report = recorded(&api, "codex", |r| r.ended_at.is_some() && r.token_source.is_some()).await;
    let run = &report.run;
    assert_eq!(run.token_source, Some(TokenSource::Codex));
    let detail = run.token_detail.clone().expect("tokens by kind");
    // The running total's growth: 2,500 input of which 1,100 cached, 80 output.
    assert_eq!(
        (detail.input, detail.output, detail.cache_write, detail.cache_read),
        (2500 - 1100, 80, 0, 1100),
        "{detail:?}"
    );
    assert_eq!(run.tokens, 2580);
    assert_eq!((detail.turns, detail.found_by.as_str()), (2, "open files"), "{detail:?}");
    assert_eq!(detail.models, ["gpt-5-codex"]);
    let [session] = detail.by_session.as_slice() else { panic!("one session: {:?}", detail.by_session) };
    assert_eq!((session.agent, session.cache_read), (Some(TokenSource::Codex), 1100));
    assert_eq!(detail.context_window, Some(272_000));
    // GPT-5-Codex: $1.25 per million input, $10 output, $0.125 cached.
    let cost = detail.cost_usd.expect("a price");
    assert!((cost - (1400.0 * 1.25 + 80.0 * 10.0 + 1100.0 * 0.125) / 1e6).abs() < 1e-6, "{cost}");
    let body = get(&api, &format!("/api/projects/codex/runs/{}", run.run_id)).await;
    assert!(!body.contains(SECRET) && !body.contains(ROLLOUT), "{body}");
}
