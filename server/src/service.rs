//! The service: wires the tick loop, the hub and the web layer together and
//! serves until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Secret};
use crate::control::{self, ControlError};
use crate::hub::Hub;
use crate::sampling;
use crate::store::{Store, StoreError};
use crate::web::{AppState, HostRules, Services, app};

/// The kernel's send buffer of every accepted connection. Linux grows a
/// socket's buffer up to `tcp_wmem`'s maximum (often 4 MiB) while a peer does not
/// read, so each stalled client could hold megabytes of kernel memory and would
/// take minutes to stall a send; a 1 s stream of a few KB needs far less.
pub const SEND_BUFFER_BYTES: usize = 128 * 1024;

/// Why the server would not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A non-loopback address without authentication would expose the machine.
    #[error(
        "refusing to listen on {0} without authentication: anyone who can reach it could watch \
         this machine. Pass --token (or --jwt-secret), or bind to 127.0.0.1"
    )]
    Unauthenticated(SocketAddr),
    /// An `--allowed-host` that names no host.
    #[error("--allowed-host {0:?} is not a host name: give NAME or NAME:PORT, without a scheme or a path")]
    AllowedHost(String),
    /// An `--allow-origin` that is no origin.
    #[error(
        "--allow-origin {0:?} is not an origin: give SCHEME://HOST[:PORT] as the browser sends it (no path, no default port)"
    )]
    AllowedOrigin(String),
    /// The control secret could not be made or stored.
    #[error("cannot set up the control secret: {0}")]
    Control(#[from] ControlError),
    /// The data directory is another server's.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configuration file cannot be used.
    #[error(transparent)]
    Config(#[from] crate::alerts::ConfigError),
    /// The prices file cannot be used.
    #[error(transparent)]
    Prices(#[from] crate::prices::PricesError),
    /// The listener failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Refuses to serve `addr` beyond loopback without authentication.
pub fn check_exposure(config: &Config, addr: SocketAddr) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || config.auth.is_enabled() {
        Ok(())
    } else {
        Err(ServeError::Unauthenticated(addr))
    }
}

/// The hub a server with `config` publishes into.
pub fn hub_for(config: &Config) -> Arc<Hub> {
    Arc::new(Hub::new(config.live_interval, config.idle_interval, config.history_window))
}

/// Runs the tick loop until shutdown, restarting it if its task dies (a panic
/// outside the blocking reads, which the loop catches itself), and telling
/// clients when that happens.
async fn supervise_sampling(hub: Arc<Hub>, shutdown: CancellationToken) {
    loop {
        let task = tokio::spawn(sampling::run(hub.clone(), shutdown.clone(), sampling::HostSampler::new));
        match task.await {
            Ok(()) => return,
            Err(err) => {
                tracing::error!("sampler task died, restarting it: {err}");
                sampling::Sink::sampling_failed(&*hub);
                // Do not spin if it dies at once every time.
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Serves PerfMon on `listener` until `shutdown` resolves, then closes every socket
/// (code 1001), stops the sampler and returns. Refuses a non-loopback listener
/// unless `config.auth` is set.
pub async fn run(
    listener: TcpListener,
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr()?;
    check_exposure(&config, addr)?;
    if let Some(bad) = HostRules::unusable(&config.allowed_hosts) {
        return Err(ServeError::AllowedHost(bad));
    }
    if let Some(bad) = crate::web::unusable_origin(&config.allowed_origins) {
        return Err(ServeError::AllowedOrigin(bad));
    }
    config.listen = addr;
    if HostRules::new(addr, &config.allowed_hosts).any() {
        tracing::warn!(
            "--allowed-host any: the Host check is off, so a web page that re-points its own name at this \
             machine (DNS rebinding) can use PerfMon from your browser"
        );
    } else if addr.ip().is_unspecified() {
        tracing::info!(
            "listening on every address: clients that reach PerfMon by a name need --allowed-host NAME"
        );
    }
    let store = open_store(&config).await?;
    if let (Some(store), Some(dir)) = (&store, &config.control_dir) {
        let dirs = crate::exits::search_dirs(dir, &config.exit_dirs);
        record_waiting_exits(store.clone(), dirs, addr.port()).await;
    }
    let stored = store_control_secret(&mut config, addr.port())?;
    let token = CancellationToken::new();
    let mut hub = Hub::new(config.live_interval, config.idle_interval, config.history_window);
    // Token usage from the runs' agents' own transcripts; a server that cannot
    // start the reader's thread still serves everything else.
    let prices = match &config.prices_file {
        Some(path) => crate::prices::Prices::load(path)?,
        None => crate::prices::Prices::builtin(),
    };
    match crate::collect::transcripts::Transcripts::start() {
        Ok(transcripts) => hub = hub.with_transcripts(transcripts, prices),
        Err(err) => tracing::warn!("token usage will not be read from transcripts: no thread for it: {err}"),
    }
    if let Some(store) = &store {
        hub = hub.with_recorder(Arc::new(store.clone()));
    }
    let alerts = start_alerts(&config, store.clone()).await?;
    hub = hub.with_recorder(alerts.recorder());
    let hub = Arc::new(hub);
    if let Some(store) = &store {
        resume_runs(store.clone(), hub.clone(), alerts.clone()).await;
    }
    let remote_write = start_remote_write(&config, store.as_ref())?;
    let services =
        Services { store: store.clone(), alerts: Some(alerts.clone()), remote_write: remote_write.clone() };
    let state = AppState::with_store(&config, hub.clone(), services, token.clone());
    let perfwatch_every = Duration::from_millis(shared::perfwatch::PERFWATCH_INTERVAL_MS);
    tokio::spawn(crate::hub::perfwatch::run(hub.clone(), perfwatch_every, token.clone()));
    tokio::spawn(crate::trim::run(crate::trim::TRIM_EVERY, token.clone()));
    let sampler = tokio::spawn(supervise_sampling(hub, token.clone()));

    let trigger = token.clone();
    tokio::spawn(async move {
        shutdown.await;
        trigger.cancel();
    });

    let header_read_timeout = state.config.header_read_timeout;
    crate::web::listen::serve(listener, app(state), token.clone(), header_read_timeout, |tcp| {
        if let Err(err) = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER_BYTES) {
            tracing::debug!("could not bound a connection's send buffer: {err}");
        }
    })
    .await;
    // Whatever ended serving, the sampler must not outlive it.
    token.cancel();
    if let Err(err) = sampler.await {
        tracing::error!("sampler task failed: {err}");
    }
    if let Some((path, secret)) = stored {
        control::remove(&path, secret.expose());
    }
    // A push under way gets a moment to end, so its position is committed
    // with the store's last batch below; a receiver that hangs does not hold
    // the exit (the batch is sent again at the next start).
    if let Some(remote_write) = remote_write {
        let _ = tokio::task::spawn_blocking(move || remote_write.stop(REMOTE_WRITE_CLOSE_LIMIT)).await;
    }
    // Deliveries under way get a moment; a receiver that hangs does not hold the exit.
    let _ = tokio::task::spawn_blocking(move || alerts.shutdown(ALERTS_CLOSE_LIMIT)).await;
    if let Some(store) = store {
        // What the last ticks handed over is committed before the process ends.
        let _ = tokio::task::spawn_blocking(move || store.close(STORE_CLOSE_LIMIT)).await;
    }
    Ok(())
}

/// Records the exit reports `perfmon run` kept while no server answered on this
/// port, in any directory a wrapper may have kept them in (its
/// `XDG_RUNTIME_DIR` may not be this server's); off the async workers: it reads
/// files and the store.
async fn record_waiting_exits(store: Store, dirs: Vec<std::path::PathBuf>, port: u16) {
    let recorded = tokio::task::spawn_blocking(move || {
        let mut recorded = 0;
        let waiting = dirs.iter().flat_map(|dir| crate::exits::waiting(dir, port));
        for (exit, path) in waiting {
            // A file is checked as the API checks a report: one that cannot be
            // true is set aside, not recorded.
            let project = match crate::ProjectName::parse(&exit.project) {
                Ok(project) if exit.report.invalid().is_none() => project,
                _ => {
                    tracing::warn!("an exit report that cannot be true is set aside: {}", path.display());
                    let _ = std::fs::rename(&path, path.with_extension("invalid"));
                    continue;
                }
            };
            match store.has_run(project.as_str(), &exit.run_id) {
                Ok(true) => {
                    store.report_exit(&project, &exit.run_id, exit.report.clone());
                    recorded += 1;
                }
                Ok(false) => tracing::info!(
                    "an exit report for a run this store never saw is dropped: {}",
                    exit.run_id
                ),
                // The store cannot be read now: keep the report for the next start.
                Err(_) => continue,
            }
            let _ = std::fs::remove_file(&path);
        }
        recorded
    })
    .await
    .unwrap_or(0);
    if recorded > 0 {
        tracing::info!("recorded {recorded} exit report(s) kept while PerfMon was down");
    }
}

/// Follows again the runs a previous start of the server left running whose
/// process still runs: a restart during a run does not cut it (off the async
/// workers: it reads the store and /proc). Returns once they are followed;
/// the alerts then catch up on the same thread, not awaited (a slow disk must
/// not hold the start back). One thread, not a second one beside the first:
/// each reads the store, and glibc keeps what a thread's reads allocated in
/// that thread's malloc arena, about 0.4 MB each (BENCHMARKS.md).
async fn resume_runs(store: Store, hub: Arc<Hub>, alerts: crate::alerts::Alerting) {
    let (followed, resumed) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        // A fault in resuming (said by the panic hook) still leaves the
        // catch-up of the runs that ended while PerfMon was down.
        let ids = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| resume(&store, &hub)))
            .unwrap_or_default();
        // The start goes on now; nobody waiting is no reason to skip the catch-up.
        let _ = followed.send(ids.len());
        alerts.catch_up(&ids);
    });
    let resumed = resumed.await.unwrap_or_default();
    if resumed > 0 {
        tracing::info!("following again {resumed} run(s) still running from before the restart");
    }
}

/// The blocking half of [`resume_runs`]: the ids of the runs it follows again.
fn resume(store: &Store, hub: &Hub) -> Vec<String> {
    let runs = match store.unfinished_runs() {
        Ok(runs) => runs,
        Err(err) => {
            tracing::warn!("the runs left running could not be read: {err}");
            return Vec::new();
        }
    };
    let mut resumed = Vec::new();
    for run in runs {
        let mut record = run.clone();
        match hub.resume_run(run) {
            Ok(_) => resumed.push(record.run_id),
            // One this server cannot follow is not left `running` for ever.
            Err(err) => {
                tracing::warn!("run {} was not resumed ({err}): marked interrupted", record.run_id);
                record.end(chrono::Utc::now(), shared::api::RunOutcome::Interrupted);
                crate::hub::Recorder::record(store, crate::hub::Record::Run(record));
            }
        }
    }
    resumed
}

/// The longest shutdown waits for alert deliveries under way.
const ALERTS_CLOSE_LIMIT: Duration = Duration::from_secs(3);

/// The longest shutdown waits for a push under way.
const REMOTE_WRITE_CLOSE_LIMIT: Duration = Duration::from_secs(3);

/// Reads the configuration file and starts the alerts (off the async
/// workers: files, the store). A bad file refuses the start.
async fn start_alerts(config: &Config, store: Option<Store>) -> Result<crate::alerts::Alerting, ServeError> {
    let file = config.config_file.clone();
    let started = tokio::task::spawn_blocking(move || {
        let alert_config = match &file {
            Some(path) => crate::alerts::AlertConfig::load(path)?,
            None => crate::alerts::AlertConfig::default(),
        };
        crate::alerts::Alerting::start(alert_config, store).map_err(ServeError::Io)
    })
    .await;
    started.map_err(|err| ServeError::Io(std::io::Error::other(err.to_string())))?
}

/// Starts a sender per remote-write receiver: they read the store, so there
/// is none without one (the command line refuses `--no-store` with
/// `--remote-write`; a store that could not be opened is said here).
fn start_remote_write(
    config: &Config,
    store: Option<&Store>,
) -> Result<Option<crate::fleet::RemoteWrite>, ServeError> {
    let Some(remote) = &config.remote_write else { return Ok(None) };
    let Some(store) = store else {
        tracing::error!("remote write is off: it sends from the store, and there is none");
        return Ok(None);
    };
    Ok(Some(crate::fleet::RemoteWrite::start(remote, store)?))
}

/// The longest shutdown waits for the store to commit what is queued.
const STORE_CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Opens the store `config` names (off the async workers: it touches the disk).
/// Refuses a data directory another server holds; any other trouble gives a
/// store that is `degraded` and says why, while the live stream works.
pub async fn open_store(config: &Config) -> Result<Option<Store>, StoreError> {
    let Some(store) = config.store.clone() else { return Ok(None) };
    match tokio::task::spawn_blocking(move || Store::open(&store)).await {
        Ok(result) => result.map(Some),
        Err(err) => {
            tracing::error!("the store could not be opened: {err}");
            Ok(None)
        }
    }
}

/// Without a token, writes need the control secret: made now unless given, and
/// stored for the CLI when the config names a directory. Where it was stored.
fn store_control_secret(
    config: &mut Config,
    port: u16,
) -> Result<Option<(std::path::PathBuf, Secret)>, ServeError> {
    if config.auth.is_enabled() {
        config.control_secret = None;
        return Ok(None);
    }
    let secret = match config.control_secret.clone() {
        Some(secret) => secret,
        None => Secret::new(control::generate()?),
    };
    config.control_secret = Some(secret.clone());
    let Some(dir) = &config.control_dir else { return Ok(None) };
    let path = dir.join(format!("control-{port}"));
    control::write(&path, secret.expose())?;
    Ok(Some((path, secret)))
}
