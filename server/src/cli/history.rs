//! `perfmon runs` and `perfmon report RUN_ID`: what the store remembers, as
//! text for a terminal. Asked of the server at `--bind`; when none answers, read
//! straight from the store's file (read-only), so history is there even while
//! PerfMon is stopped.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Local};
use serde::de::DeserializeOwned;
use shared::api::{RunRecord, RunReport, Runs};
use shared::why::Share;

use super::act::Target;
use super::client::{ApiClient, ClientError, Method};
use crate::hub::project::ProjectName;
use crate::store::{Store, StoreConfig};

/// Where an answer comes from.
enum Source {
    Server(ApiClient),
    File(Store),
}

/// Prints the project's last `limit` runs as a table.
pub async fn runs(target: Target, limit: u32, data_dir: Option<PathBuf>) -> ExitCode {
    let Some((project, source)) = source(&target, data_dir).await else { return ExitCode::from(2) };
    let answer: Result<Runs, String> = match source {
        Source::Server(api) => get(&api, &format!("/api/projects/{project}/runs?limit={limit}")).await,
        Source::File(store) => store.runs(project.as_str(), limit, None).map_err(|e| e.to_string()),
    };
    match answer {
        Ok(page) if target.json => print_json(&page),
        Ok(page) if page.runs.is_empty() => {
            println!("no runs of project {project} recorded yet");
            ExitCode::SUCCESS
        }
        Ok(page) => {
            print!("{}", table(&page.runs));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("perfmon: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints one run's summary and its change from the run before.
pub async fn report(target: Target, run_id: &str, data_dir: Option<PathBuf>) -> ExitCode {
    if !crate::hub::run_id_is_valid(run_id) {
        eprintln!(
            "perfmon: {run_id:?} is not a run id: a run id is PID-STARTED_AT, as `perfmon runs` lists it"
        );
        return ExitCode::from(2);
    }
    let Some((project, source)) = source(&target, data_dir).await else { return ExitCode::from(2) };
    let answer: Result<RunReport, String> = match source {
        Source::Server(api) => get(&api, &format!("/api/projects/{project}/runs/{run_id}")).await,
        Source::File(store) => store.report(project.as_str(), run_id).map_err(|e| e.to_string()),
    };
    match answer {
        Ok(report) if target.json => print_json(&report),
        Ok(report) => {
            print!("{}", summary(&report));
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("perfmon: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The server if one answers at `--bind`, else the store's file.
async fn source(target: &Target, data_dir: Option<PathBuf>) -> Option<(ProjectName, Source)> {
    let project =
        ProjectName::parse(&target.project).map_err(|err| eprintln!("perfmon: --project: {err}")).ok()?;
    let api = target.connect.reader();
    if api.is_up().await {
        return Some((project, Source::Server(api)));
    }
    let dir = data_dir.or_else(crate::control::state_dir).or_else(|| {
        eprintln!("perfmon: no server at {} and no --data-dir to read", target.connect.bind);
        None
    })?;
    let config = StoreConfig { dir, retention: crate::store::Retention::default() };
    match Store::read_only(&config) {
        Ok(store) => Some((project, Source::File(store))),
        Err(err) => {
            eprintln!("perfmon: no server at {}, and {err}", target.connect.bind);
            None
        }
    }
}

/// `--json`: the answer as the API gives it.
fn print_json(answer: &impl serde::Serialize) -> ExitCode {
    match serde_json::to_string(answer) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("perfmon: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn get<T: DeserializeOwned>(api: &ApiClient, path: &str) -> Result<T, String> {
    match api.call(Method::GET, path, None).await {
        Ok(body) => {
            serde_json::from_str(&body).map_err(|err| format!("unexpected answer from the server: {err}"))
        }
        Err(ClientError::Refused { status, body }) => {
            Err(format!("{status}: {}", super::client::readable(&body)))
        }
        Err(err) => Err(err.to_string()),
    }
}

/// `1h 02m`, `3m 07s`, `12s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

/// How a run ended, in the words the page uses.
pub fn outcome(run: &RunRecord) -> String {
    run.outcome_text()
}

/// Local time with its UTC offset, so it reads unambiguously beside run ids
/// (which are in UTC).
fn local(at: &shared::Timestamp) -> String {
    DateTime::parse_from_rfc3339(at.as_str())
        .map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S %:z").to_string())
        .unwrap_or_else(|_| at.as_str().to_owned())
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".into())
}

/// The runs as an aligned table.
pub fn table(runs: &[RunRecord]) -> String {
    let header =
        ["RUN", "STARTED", "LABEL", "DURATION", "STATUS", "PEAK CPU", "PEAK RSS", "PEAK GPU", "TOKENS"];
    let rows: Vec<[String; 9]> = runs
        .iter()
        .map(|r| {
            [
                r.run_id.clone(),
                local(&r.started_at),
                or_dash(r.label.clone()),
                duration(r.duration_s),
                outcome(r),
                or_dash(r.peak_cpu_percent.map(|p| format!("{p:.1}%"))),
                or_dash(r.peak_rss_mb.map(|m| format!("{m:.0} MB"))),
                or_dash(r.peak_gpu_memory_gb.map(|g| format!("{g:.1} GB"))),
                r.tokens.to_string(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out.push_str(&line(row));
    }
    out
}

/// The change from `before` to `now`, as the page shows it (`+12.5 %`).
fn change(now: Option<f64>, before: Option<f64>) -> String {
    shared::api::percent_change(now, before).map(|c| format!(" ({c} vs previous)")).unwrap_or_default()
}

/// Cells in a share's text bar: one per 5 %.
const BAR_CELLS: usize = 20;

/// `████░░░…`: `percent` of [`BAR_CELLS`] filled.
fn text_bar(percent: f64) -> String {
    let filled = ((percent.clamp(0.0, 100.0) / 100.0 * BAR_CELLS as f64).round() as usize).min(BAR_CELLS);
    format!("{}{}", "█".repeat(filled), "░".repeat(BAR_CELLS - filled))
}

/// Where the run's time went, as the report opens: the verdict's headline,
/// each share of the bar with a text bar and, under it, its evidence; the
/// GPUs' shares beside the bar; then what moved since the previous run.
fn where_time_went(report: &RunReport) -> String {
    let Some(verdict) = &report.run.verdict else {
        return "where its time went: not measured (recorded before PerfMon measured runs)\n".into();
    };
    let mut out = format!("{}\n", verdict.headline);
    let all = || verdict.shares.iter().chain(&verdict.gpu_shares);
    let width = all().map(|s| s.kind.label().chars().count()).max().unwrap_or(0);
    let share = |s: &Share| {
        let percent = crate::verdict::percent_words(s.percent);
        format!("  {:<width$}  {percent:>5}  {}\n      {}\n", s.kind.label(), text_bar(s.percent), s.evidence)
    };
    out.extend(verdict.shares.iter().map(share));
    if !verdict.gpu_shares.is_empty() {
        out.push_str("  beside the bar (the GPUs' time overlaps it):\n");
        out.extend(verdict.gpu_shares.iter().map(share));
    }
    let previous = report.previous.as_ref().and_then(|p| p.verdict.as_ref());
    if !report.changes.is_empty() {
        out.push_str("since the previous run:\n");
        out.extend(report.changes.iter().map(|c| format!("  {}\n", c.text)));
    } else if verdict.judged && previous.is_some_and(|p| p.judged) {
        out.push_str(&format!(
            "since the previous run: no share moved by {} points or more\n",
            crate::verdict::CHANGE_POINTS
        ));
    }
    out
}

/// One run's summary: where its time went, then its record.
pub fn summary(report: &RunReport) -> String {
    let r = &report.run;
    let p = report.previous.as_ref();
    let f = |v: Option<f64>, unit: &str| or_dash(v.map(|v| format!("{v}{unit}")));
    let mut out = where_time_went(report);
    out.push_str(&format!("\nrun       {}\nproject   {}\n", r.run_id, r.project));
    if let Some(label) = &r.label {
        out.push_str(&format!("label     {label}\n"));
    }
    out.push_str(&format!(
        "started   {}\nended     {}\nstatus    {}\nduration  {}{}\ncpu time  {}s\npeak cpu  {}{}\npeak rss  {}{}\npeak gpu  {}{}\nprocesses {}\ntokens    {}{}\n",
        local(&r.started_at),
        or_dash(r.ended_at.as_ref().map(local)),
        outcome(r),
        duration(r.duration_s),
        change(Some(r.duration_s), p.map(|p| p.duration_s)),
        r.cpu_seconds,
        f(r.peak_cpu_percent, "%"),
        change(r.peak_cpu_percent, p.and_then(|p| p.peak_cpu_percent)),
        f(r.peak_rss_mb, " MB"),
        change(r.peak_rss_mb, p.and_then(|p| p.peak_rss_mb)),
        f(r.peak_gpu_memory_gb, " GB"),
        change(r.peak_gpu_memory_gb, p.and_then(|p| p.peak_gpu_memory_gb)),
        r.peak_process_count,
        r.tokens,
        change(Some(r.tokens as f64), p.map(|p| p.tokens as f64)),
    ));
    out.push_str(&token_lines(r));
    if let Some(p) = p {
        out.push_str(&format!("previous  {} ({}, {})\n", p.run_id, duration(p.duration_s), outcome(p)));
    }
    out
}

/// Where a run's tokens came from and, read from transcripts, by kind.
fn token_lines(r: &shared::api::RunRecord) -> String {
    let source = match r.token_source {
        Some(shared::TokenSource::ClaudeCode) => "Claude Code's transcripts",
        Some(shared::TokenSource::Codex) => "Codex's session rollouts",
        Some(shared::TokenSource::Api) => "reported through the API",
        None => return String::new(),
    };
    let mut out = format!("  from    {source}\n");
    if let Some(d) = &r.token_detail {
        out.push_str(&format!(
            "  kinds   input {} · output {} · cache write {} · cache read {}\n  models  {}\n",
            d.input,
            d.output,
            d.cache_write,
            d.cache_read,
            if d.models.is_empty() { "-".to_owned() } else { d.models.join(", ") },
        ));
        if let Some(usd) = d.cost_usd {
            out.push_str(&format!("  cost    ${usd:.4}\n"));
        } else if let Some(why) = &d.cost_reason {
            out.push_str(&format!("  cost    - ({why})\n"));
        }
        if d.by_session.len() > 1 {
            for s in &d.by_session {
                out.push_str(&format!(
                    "  session {}: input {} · output {} · cache write {} · cache read {}\n",
                    s.session, s.input, s.output, s.cache_write, s.cache_read
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::RunOutcome;
    use shared::why::{Change, ShareKind, Verdict};

    fn record(run_id: &str, status: RunOutcome, exit_code: Option<i32>, signal: Option<i32>) -> RunRecord {
        RunRecord {
            run_id: run_id.into(),
            project: "p".into(),
            label: Some("build".into()),
            pid: 1,
            started_at: shared::Timestamp("2026-11-25T08:00:00Z".into()),
            ended_at: None,
            status,
            exit_code,
            signal,
            duration_s: 3725.0,
            cpu_seconds: 12.0,
            peak_cpu_percent: Some(50.0),
            peak_rss_mb: Some(200.0),
            peak_gpu_memory_gb: None,
            peak_process_count: 3,
            tokens: 1000,
            verdict: None,
            token_source: None,
            token_detail: None,
        }
    }

    #[test]
    fn durations_and_outcomes_read_as_words() {
        assert_eq!(duration(12.4), "12s");
        assert_eq!(duration(187.0), "3m 07s");
        assert_eq!(duration(3725.0), "1h 02m");
        assert_eq!(outcome(&record("a", RunOutcome::Exited, Some(3), None)), "exit 3");
        assert_eq!(outcome(&record("a", RunOutcome::Killed, None, Some(9))), "killed (SIGKILL)");
        assert_eq!(outcome(&record("a", RunOutcome::Killed, None, Some(15))), "killed (SIGTERM)");
        assert_eq!(outcome(&record("a", RunOutcome::Interrupted, None, None)), "interrupted");
    }

    #[test]
    fn the_table_aligns_its_columns_and_the_report_compares_with_the_previous_run() {
        let text = table(&[
            record("1-a", RunOutcome::Exited, Some(0), None),
            record("22-b", RunOutcome::Running, None, None),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let column = |line: &str| line.find("build").expect("label column");
        assert_eq!(column(lines[1]), column(lines[2]), "{text}");
        let mut previous = record("1-a", RunOutcome::Exited, Some(0), None);
        previous.tokens = 800;
        let report = RunReport {
            run: record("22-b", RunOutcome::Exited, Some(3), None),
            previous: Some(previous),
            history: Default::default(),
            counters: None,
            changes: Vec::new(),
        };
        let text = summary(&report);
        assert!(!text.contains("  from "), "no token source, no line: {text}");
        let mut run = report.run.clone();
        run.token_source = Some(shared::TokenSource::ClaudeCode);
        run.token_detail = Some(shared::TokenDetail {
            input: 10,
            output: 20,
            cache_write: 30,
            cache_read: 940,
            models: vec!["claude-sonnet-4-5".into()],
            ..Default::default()
        });
        let tokens = token_lines(&run);
        assert!(tokens.contains("from    Claude Code's transcripts"), "{tokens}");
        assert!(tokens.contains("input 10 · output 20 · cache write 30 · cache read 940"), "{tokens}");
        assert!(tokens.contains("models  claude-sonnet-4-5"), "{tokens}");
        assert!(text.contains("status    exit 3"), "{text}");
        assert!(text.contains("tokens    1000 (+25.0 % vs previous)"), "{text}");
        assert!(text.contains("peak cpu  50%"), "the peak CPU and its change are there: {text}");
        assert!(
            text.starts_with(
                "where its time went: not measured (recorded before PerfMon measured runs)\n\nrun"
            ),
            "a run without a verdict says so first: {text}"
        );
    }

    fn share(kind: ShareKind, percent: f64, evidence: &str) -> Share {
        Share { kind, percent, evidence: evidence.into() }
    }

    #[test]
    fn the_report_opens_with_the_verdict_its_bar_the_gpus_and_what_moved() {
        let verdict = Verdict {
            judged: true,
            headline: "IO-stalled 37 % of its 41 min; 33 % on CPU".into(),
            bound: Some(ShareKind::Io),
            cores_busy: Some(0.33),
            cores: Some(2),
            shares: vec![
                share(ShareKind::Cpu, 33.0, "CPU 13 min user"),
                share(ShareKind::Io, 37.0, "some task on the machine stalled on IO"),
                share(ShareKind::Idle, 30.0, "the rest"),
            ],
            gpu_shares: vec![share(ShareKind::GpuBusy, 100.0, "the busiest GPU")],
        };
        let mut run = record("22-b", RunOutcome::Exited, Some(0), None);
        run.verdict = Some(verdict.clone());
        let mut previous = record("1-a", RunOutcome::Exited, Some(0), None);
        previous.verdict = Some(verdict);
        let change =
            Change { kind: ShareKind::Io, before: 4.0, after: 37.0, text: "IO stall 4 % → 37 %".into() };
        let mut report = RunReport {
            run,
            previous: Some(previous),
            history: Default::default(),
            counters: None,
            changes: vec![change],
        };
        let text = summary(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "IO-stalled 37 % of its 41 min; 33 % on CPU", "{text}");
        assert_eq!(lines[1], "  On CPU                   33 %  ███████░░░░░░░░░░░░░", "{text}");
        assert_eq!(lines[2], "      CPU 13 min user");
        assert_eq!(lines[3], "  IO stall                 37 %  ███████░░░░░░░░░░░░░");
        assert_eq!(lines[5], "  Idle (waiting outside)   30 %  ██████░░░░░░░░░░░░░░");
        assert!(text.contains("  beside the bar (the GPUs' time overlaps it):\n  GPU busy                100 %  ████████████████████\n"), "{text}");
        assert!(text.contains("since the previous run:\n  IO stall 4 % → 37 %\n\nrun       22-b"), "{text}");

        report.changes.clear();
        let text = summary(&report);
        assert!(text.contains("since the previous run: no share moved by 5 points or more\n"), "{text}");
        report.previous = None;
        assert!(!summary(&report).contains("since the previous run"));
        report.run.verdict = Some(Verdict {
            judged: false,
            headline: "Too short to judge: 4 s (needs 10 s)".into(),
            ..Verdict::default()
        });
        let text = summary(&report);
        assert!(text.starts_with("Too short to judge: 4 s (needs 10 s)\n\nrun"), "{text}");
    }
}
