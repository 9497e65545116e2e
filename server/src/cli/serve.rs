//! `perfmon serve`: the server on `--bind` until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use tokio::net::TcpListener;

use super::ServeArgs;

/// Serves until Ctrl-C or SIGTERM; exit 2 for a configuration PerfMon refuses.
pub async fn until_signal(args: ServeArgs) -> ExitCode {
    let config = match args.config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("perfmon: {err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = crate::service::check_exposure(&config, args.connect.bind) {
        eprintln!("perfmon: {err}");
        return ExitCode::from(2);
    }
    let listener = match bind(&args).await {
        Ok(listener) => listener,
        Err(code) => return code,
    };
    let addr = listener.local_addr().unwrap_or(args.connect.bind);
    raise_open_file_limit();
    let serving = crate::service::run(listener, config, shutdown_signal());
    tokio::pin!(serving);
    // Said only once it serves: the server may still refuse to start (a data
    // directory another PerfMon holds), and it answers its health check only
    // once set up.
    let served = tokio::select! {
        served = &mut serving => served,
        () = answers_health(addr) => {
            println!("PerfMon is running: open {}", super::client::page_url(addr, None));
            println!("each project's page: {}", super::client::page_url(addr, Some("NAME")));
            serving.await
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("perfmon: server failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The open-file limit `perfmon serve` raises its soft limit to, where the hard
/// limit allows.
const OPEN_FILES: u64 = 65_536;

/// Raises this process's soft limit on open files towards [`OPEN_FILES`], within
/// its hard limit. PerfMon keeps a few files open per process of each run's tree
/// (its `stat`, `schedstat` and children list, and each thread's counters),
/// beside its clients' sockets: a build of a few hundred processes would pass the
/// usual soft limit of 1,024, and a file that cannot be opened reads as a process
/// gone. Only the long-lived server does this: `perfmon run`'s own server starts
/// the user's command, which should get the limits it would get without PerfMon.
fn raise_open_file_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < OPEN_FILES.min(hard) => {
            let raised = OPEN_FILES.min(hard);
            if let Err(err) = setrlimit(Resource::RLIMIT_NOFILE, raised, hard) {
                tracing::warn!("cannot raise the open-file limit from {soft} to {raised}: {err}");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!("cannot read the open-file limit: {err}"),
    }
}

/// Resolves once the PerfMon at `addr` answers its health check.
async fn answers_health(addr: std::net::SocketAddr) {
    let api = super::client::ApiClient::new(addr);
    while !api.is_up().await {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Listens on `--bind`, or says why it cannot — naming the PerfMon that already
/// serves there, when it is one.
pub async fn bind(args: &ServeArgs) -> Result<TcpListener, ExitCode> {
    let addr = args.connect.bind;
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
            match super::client::ApiClient::new(addr).health().await {
                Some(other) => eprintln!(
                    "perfmon: another PerfMon ({} (commit {})) already serves http://{}/ — use it, stop \
                     it (systemctl --user stop perfmon, if it runs as a service), or pick another --bind",
                    other.version,
                    other.commit,
                    super::client::reachable(addr)
                ),
                None => eprintln!(
                    "perfmon: {addr} is taken by another program (not a PerfMon); pick another --bind"
                ),
            }
            Err(ExitCode::FAILURE)
        }
        Err(err) => {
            eprintln!("perfmon: cannot listen on {addr}: {err}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!("cannot listen for SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};

    use super::*;

    #[test]
    fn the_open_file_limit_is_raised_within_the_hard_limit() {
        let (before, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("the limit");
        // From the usual default (a lower soft limit is always allowed).
        setrlimit(Resource::RLIMIT_NOFILE, 1024.min(hard), hard).expect("lowered");
        raise_open_file_limit();
        let (soft, after) = getrlimit(Resource::RLIMIT_NOFILE).expect("the limit");
        assert_eq!((soft, after), (OPEN_FILES.min(hard), hard));
        setrlimit(Resource::RLIMIT_NOFILE, before.max(soft), hard).expect("as it was");
    }
}
