//! `perfmon run -- COMMAND`: runs COMMAND as a project's agent run and streams it
//! live, then exits with COMMAND's exit code. It registers with the PerfMon server
//! at `--bind` if one answers, and otherwise serves one itself for as long as the
//! command runs. PerfMon only watches: Ctrl-C reaches the command through the
//! terminal, and the wrapper waits for the command so the run is closed properly.

use std::process::{ExitCode, ExitStatus};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use axum::http::StatusCode;

use super::ServeArgs;
use super::client::{ApiClient, ClientError, Method};
use crate::hub::project::ProjectName;

/// A server this wrapper started itself, and how to stop it.
type OwnServer = Option<(oneshot::Sender<()>, JoinHandle<Result<(), crate::service::ServeError>>)>;

/// Runs `command` as `project`'s run; the command's exit code (127 when it cannot
/// start, 2 for bad arguments).
pub async fn wrap(project: &str, label: Option<String>, args: ServeArgs, command: Vec<String>) -> ExitCode {
    let project = match ProjectName::parse(project) {
        Ok(project) => project,
        Err(err) => {
            eprintln!("perfmon: --project: {err}");
            return ExitCode::from(2);
        }
    };
    let Some((program, program_args)) = command.split_first() else {
        eprintln!("perfmon: no command to run");
        return ExitCode::from(2);
    };
    let mut config = args.config();
    let bind = args.connect.bind;
    if let Err(err) = crate::service::check_exposure(&config, bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    // Serve ourselves unless a PerfMon is already up at that address.
    // Where exits are kept when no server takes them (beside the control secret).
    let kept_in = config.control_dir.clone();
    let (api, own_server): (Option<ApiClient>, OwnServer) = if ApiClient::new(bind).is_up().await {
        eprintln!("perfmon: using the PerfMon server at http://{}/", super::client::reachable(bind));
        // The command runs whatever happens; without a credential it is only not tracked.
        let api =
            args.connect.client().map_err(|err| eprintln!("perfmon: the run is not tracked: {err}")).ok();
        (api, None)
    } else {
        let listener = match super::serve::bind(&args).await {
            Ok(listener) => listener,
            Err(code) => return code,
        };
        // Our own server's credential is known here; it is also stored for the
        // other perfmon commands (an agent reporting tokens, say).
        let credential = match &args.connect.token {
            Some(token) => token.clone(),
            None => match crate::control::generate() {
                Ok(secret) => secret,
                Err(err) => {
                    eprintln!("perfmon: {err}");
                    return ExitCode::FAILURE;
                }
            },
        };
        if args.connect.token.is_none() {
            config.control_secret = Some(crate::config::Secret::new(credential.clone()));
        }
        // A `perfmon serve` on another port may hold the data directory: the run
        // is still watched live, only not remembered.
        if let Some(store) = &config.store
            && let Err(err) = crate::store::check_free(&store.dir)
        {
            eprintln!("perfmon: this run is not remembered: {err}");
            config.store = None;
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::service::run(listener, config, async {
            let _ = stopped.await;
        }));
        eprintln!(
            "perfmon: PerfMon is running: open http://{}/?project={project}",
            super::client::reachable(bind)
        );
        (Some(ApiClient::new(bind).with_token(Some(credential))), Some((stop, task)))
    };

    // Ctrl-C reaches the child through the terminal; the wrapper itself outlives
    // it to close the run.
    let _ignore_interrupts = tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });
    let mut child = match tokio::process::Command::new(program).args(program_args).spawn() {
        Ok(child) => child,
        Err(err) => {
            eprintln!("perfmon: cannot start {program}: {err}");
            stop(own_server).await;
            return ExitCode::from(127);
        }
    };
    let run_path = format!("/api/projects/{project}/run");
    let mut run_id = None;
    if let (Some(api), Some(pid)) = (&api, child.id()) {
        let register = shared::api::RegisterRun { pid, label };
        let body = serde_json::to_string(&register).unwrap_or_default();
        match api.call(Method::POST, &run_path, Some(body)).await {
            Ok(answer) => {
                run_id = serde_json::from_str::<shared::Run>(&answer).ok().and_then(|run| run.run_id)
            }
            Err(err) => eprintln!("perfmon: the run is not tracked: {err}"),
        }
    }
    let status = child.wait().await;
    if let Some(api) = &api {
        // Our own server keeps its credential; another one may restart with a new one.
        let renew = own_server.is_none().then_some(&args.connect);
        let reported = match (&run_id, &status) {
            (Some(run_id), Ok(status)) => {
                let exit = Exit { project: &project, run_id, kept_in: kept_in.as_deref(), port: bind.port() };
                report_exit(api.clone(), renew, &exit, *status).await
            }
            _ => false,
        };
        if !reported {
            let _ = api.call(Method::DELETE, &run_path, None).await;
        }
    }
    stop(own_server).await;
    match status {
        Ok(status) => ExitCode::from(exit_code(status)),
        Err(err) => {
            eprintln!("perfmon: lost track of the command: {err}");
            ExitCode::FAILURE
        }
    }
}

/// How long the wrapper keeps trying to report the exit to a server that does
/// not answer (one restarting); the command has ended, so this only delays the
/// wrapper's own exit, never the command. After that the report is kept for the
/// server's next start.
const REPORT_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The run whose exit is reported, and where to keep the report if no server
/// takes it.
struct Exit<'a> {
    project: &'a ProjectName,
    run_id: &'a str,
    kept_in: Option<&'a std::path::Path>,
    port: u16,
}

/// Reports how the command ended, so the run's record has its exit code: retried
/// while the server does not answer, with the control secret read again when a
/// restarted server refuses the old one, and kept for the server's next start
/// when it is still down. Whether the server took it (or it was kept).
async fn report_exit(
    mut api: ApiClient,
    renew: Option<&super::ConnectArgs>,
    exit: &Exit<'_>,
    status: ExitStatus,
) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let report = match (status.code(), status.signal()) {
        (Some(code), _) => shared::api::ExitReport { exit_code: Some(code), signal: None },
        (None, Some(signal)) => shared::api::ExitReport { exit_code: None, signal: Some(signal) },
        (None, None) => return false,
    };
    let body = serde_json::to_string(&report).unwrap_or_default();
    let path = format!("/api/projects/{}/runs/{}/exit", exit.project, exit.run_id);
    let deadline = tokio::time::Instant::now() + REPORT_FOR;
    let mut said = false;
    loop {
        let why = match api.call(Method::POST, &path, Some(body.clone())).await {
            Ok(_) => return true,
            Err(ClientError::Refused { status, .. })
                if status == StatusCode::UNAUTHORIZED && renew.is_some() =>
            {
                // A restarted server made a new control secret: read it again.
                if let Some(fresh) = renew.and_then(|connect| connect.client().ok()) {
                    api = fresh;
                }
                "PerfMon refused the old credential".to_owned()
            }
            Err(ClientError::Refused { .. }) => return false,
            Err(err) => err.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return keep(exit, report, &why);
        }
        if !said {
            eprintln!(
                "perfmon: PerfMon is not answering; trying to record the exit for {}s",
                REPORT_FOR.as_secs()
            );
            said = true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Keeps an exit report no server took, for the server's next start.
fn keep(exit: &Exit<'_>, report: shared::api::ExitReport, why: &str) -> bool {
    let Some(dir) = exit.kept_in else {
        eprintln!("perfmon: the exit was not recorded: {why}");
        return false;
    };
    let pending = crate::exits::PendingExit {
        project: exit.project.to_string(),
        run_id: exit.run_id.to_owned(),
        report,
    };
    match crate::exits::save(dir, exit.port, &pending) {
        Ok(_) => {
            eprintln!(
                "perfmon: the exit was not recorded yet ({why}); PerfMon on port {} records it when it starts again",
                exit.port
            );
            true
        }
        Err(err) => {
            eprintln!("perfmon: the exit was not recorded ({why}) and could not be kept: {err}");
            false
        }
    }
}

async fn stop(own: OwnServer) {
    if let Some((stop, task)) = own {
        let _ = stop.send(());
        if let Ok(Err(err)) = task.await {
            eprintln!("perfmon: server failed: {err}");
        }
    }
}

/// The command's exit code, or 128 + the signal number for one killed by a
/// signal, as shells report it.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(script: &str) -> ExitStatus {
        std::process::Command::new("sh").args(["-c", script]).status().expect("sh runs")
    }

    #[test]
    fn exit_codes_pass_through_and_signals_read_as_128_plus_n() {
        assert_eq!(exit_code(status_of("exit 0")), 0);
        assert_eq!(exit_code(status_of("exit 7")), 7);
        assert_eq!(exit_code(status_of("kill -KILL $$")), 128 + 9);
        assert_eq!(exit_code(status_of("kill -TERM $$")), 128 + 15);
    }
}
