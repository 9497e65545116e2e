//! Reading an agent's transcript: a generated Claude Code transcript of 200 MB
//! (realistic lines: prompts, streamed assistant messages written twice, tool
//! results) tailed from scratch, then one appended line, then a poll that
//! finds nothing new (a `stat`, no read). Memory must stay bounded whatever
//! the file's size: the process's peak and current resident memory are
//! printed before and after.
//!
//! `cargo bench -p server --bench transcripts` (`PERFMON_TRANSCRIPT_MB` to
//! change the size).
//!
//! The collector is private to the server crate (the hub is its only caller),
//! so the bench compiles its source in directly.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::Criterion;

// Its unit tests come along under `--all-targets`, with their imports but not run.
#[allow(
    unused_imports,
    dead_code,
    reason = "the bench uses the tailer, not all of the collector; its tests come along, not run"
)]
#[path = "../src/collect/transcripts/mod.rs"]
mod transcripts;

use transcripts::Agent;
use transcripts::tail::TranscriptFile;

/// Peak and current resident memory, from /proc/self/status.
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map_or_else(|| "?".to_owned(), |rest| rest.trim().to_owned())
    };
    format!("VmHWM {} VmRSS {}", field("VmHWM:"), field("VmRSS:"))
}

/// One assistant message as Claude Code writes it, `n` its number.
fn assistant(n: u64, block: &str, filler: &str) -> String {
    format!(
        r#"{{"parentUuid":"p{n}","isSidechain":false,"userType":"external","cwd":"/home/me/app","sessionId":"bench-session","version":"2.0.14","gitBranch":"main","message":{{"id":"msg_{n:08}","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{{"type":"{block}","text":"{filler}"}}],"stop_reason":null,"stop_sequence":null,"usage":{{"input_tokens":4,"cache_creation_input_tokens":{},"cache_read_input_tokens":{},"cache_creation":{{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}},"output_tokens":{},"service_tier":"standard"}}}},"requestId":"req_{n:08}","type":"assistant","uuid":"u{n}{block}","timestamp":"2025-10-01T12:00:00.000Z"}}"#,
        n % 500,
        20_000 + n % 1000,
        1 + n % 300
    )
}

/// A tool result as Claude Code writes it.
fn tool_result(n: u64, filler: &str) -> String {
    format!(
        r#"{{"parentUuid":"p{n}","isSidechain":false,"userType":"external","cwd":"/home/me/app","sessionId":"bench-session","version":"2.0.14","gitBranch":"main","type":"user","message":{{"role":"user","content":[{{"tool_use_id":"toolu_{n}","type":"tool_result","content":"{filler}\n{filler}\n{filler}","is_error":false}}]}},"uuid":"t{n}","timestamp":"2025-10-01T12:00:00.000Z"}}"#
    )
}

/// Writes a transcript of about `mb` MB; returns its assistant messages.
fn generate(path: &Path, mb: u64) -> u64 {
    let file = std::fs::File::create(path).expect("creates the transcript");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let filler =
        "let x = compute(y); // some code the agent read, with \\\"quotes\\\" and \\\\ escapes ".repeat(6);
    let (mut written, mut n) = (0u64, 0u64);
    while written < mb << 20 {
        n += 1;
        // Streamed: the same message twice (text, then tool use), then its result.
        for line in
            [assistant(n, "text", &filler), assistant(n, "tool_use", &filler), tool_result(n, &filler)]
        {
            out.write_all(line.as_bytes()).expect("writes");
            out.write_all(b"\n").expect("writes");
            written += line.len() as u64 + 1;
        }
    }
    out.flush().expect("flushes");
    n
}

fn main() {
    let mb = std::env::var("PERFMON_TRANSCRIPT_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir: PathBuf = std::env::temp_dir().join(format!("perfmon-bench-transcripts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join("bench-session.jsonl");
    let messages = generate(&path, mb);
    let since: DateTime<Utc> = "2025-10-01T00:00:00Z".parse().expect("a timestamp");
    println!("transcripts: {mb} MB, {messages} messages; before: {}", memory());

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    c.bench_function(&format!("transcripts/tail {mb} MB from scratch"), |b| {
        b.iter(|| {
            let mut file = TranscriptFile::new(path.clone(), Agent::ClaudeCode, since);
            file.poll().expect("reads");
            let turns: u64 = file.sessions().map(|s| s.turns).sum();
            assert_eq!(turns, messages, "each streamed message counted once");
        });
    });
    println!("transcripts: after the reads from scratch: {}", memory());

    let mut file = TranscriptFile::new(path.clone(), Agent::ClaudeCode, since);
    file.poll().expect("reads");
    let filler = "appended";
    let mut n = 1_000_000_000;
    let mut c = c.sample_size(20).measurement_time(Duration::from_secs(3));
    c.bench_function("transcripts/append 1 line and poll", |b| {
        b.iter(|| {
            n += 1;
            let mut out = std::fs::OpenOptions::new().append(true).open(&path).expect("opens");
            writeln!(out, "{}", assistant(n, "text", filler)).expect("appends");
            drop(out);
            file.poll().expect("reads");
        });
    });
    let reads = file.reads();
    c.bench_function("transcripts/poll, nothing new", |b| b.iter(|| file.poll().expect("stats")));
    assert_eq!(file.reads(), reads, "a poll that finds nothing new reads nothing");
    c.final_summary();
    println!("transcripts: after: {}", memory());
    let _ = std::fs::remove_dir_all(&dir);
}
