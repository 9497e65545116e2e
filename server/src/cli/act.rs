//! `perfmon register | end | pause | resume | tokens`: the writes an agent or a
//! script needs, sent with the credential found for them (the token, or this
//! user's control secret), so nobody handles the secret by hand.

use std::process::ExitCode;

use super::ConnectArgs;
use super::client::{ClientError, Method};
use crate::hub::project::ProjectName;

/// Which server and which project a write is for.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The project (its runs, its run, its tokens).
    #[arg(long, short, env = "PERFMON_PROJECT", default_value = "default")]
    pub project: String,
    /// Where PerfMon is, and its token if it has one.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Print the server's answer as JSON (for scripts) instead of words.
    #[arg(long)]
    pub json: bool,
}

/// Registers `pid` as the project's run.
pub async fn register(target: Target, pid: u32) -> ExitCode {
    let body = serde_json::json!({ "pid": pid }).to_string();
    send(&target, Method::POST, "run", Some(body)).await
}

/// Ends the project's run.
pub async fn end(target: Target) -> ExitCode {
    send(&target, Method::DELETE, "run", None).await
}

/// Pauses the project's run.
pub async fn pause(target: Target) -> ExitCode {
    send(&target, Method::POST, "run/pause", None).await
}

/// Resumes the project's run.
pub async fn resume(target: Target) -> ExitCode {
    send(&target, Method::POST, "run/resume", None).await
}

/// Reports `tokens` used by the project's agent.
pub async fn tokens(target: Target, tokens: u64) -> ExitCode {
    let body = serde_json::json!({ "tokens": tokens }).to_string();
    send(&target, Method::POST, "tokens", Some(body)).await
}

/// What a write did, from the server's answer (a run or token counts), in
/// words.
fn done(project: &ProjectName, answer: &str) -> String {
    if let Ok(tokens) = serde_json::from_str::<shared::Tokens>(answer) {
        return format!(
            "project {project}: {} tokens this run, {} this session",
            tokens.current_run, tokens.total_session
        );
    }
    match serde_json::from_str::<shared::Run>(answer) {
        Ok(run) => {
            let status = serde_json::to_value(run.status).ok().and_then(|v| v.as_str().map(str::to_owned));
            format!(
                "project {project}: run {} is {}{}",
                run.run_id.as_deref().unwrap_or("-"),
                status.as_deref().unwrap_or("unknown"),
                run.pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
            )
        }
        Err(_) => answer.to_owned(),
    }
}

/// Sends one write; prints what it did on success (a sentence), the server's
/// error message otherwise. Exit 0, 1 when the server refused, 2 for bad arguments or a
/// missing credential, 3 when no server answered.
async fn send(target: &Target, method: Method, what: &str, body: Option<String>) -> ExitCode {
    let project = match ProjectName::parse(&target.project) {
        Ok(project) => project,
        Err(err) => {
            eprintln!("perfmon: --project: {err}");
            return ExitCode::from(2);
        }
    };
    let api = match target.connect.client() {
        Ok(api) => api,
        Err(err) => {
            eprintln!("perfmon: {err}");
            return ExitCode::from(2);
        }
    };
    match api.call(method, &format!("/api/projects/{project}/{what}"), body).await {
        Ok(answer) => {
            if target.json {
                println!("{answer}");
            } else {
                println!("{}", done(&project, &answer));
            }
            ExitCode::SUCCESS
        }
        Err(ClientError::Refused { status, body }) => {
            eprintln!("perfmon: {status}: {}", super::client::readable(&body));
            ExitCode::FAILURE
        }
        Err(err @ ClientError::Unreachable(_)) => {
            eprintln!("perfmon: {err}");
            ExitCode::from(3)
        }
    }
}
