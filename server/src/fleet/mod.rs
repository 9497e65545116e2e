//! Many machines on engines that already exist: PerfMon pushes what it
//! keeps to Prometheus, VictoriaMetrics or anything that takes Prometheus
//! remote write 1.0 (`--remote-write URL`), rather than growing a hub of its
//! own. Boxes that can only reach out (behind NAT, laptops, CI runners) push;
//! a scrape of `/metrics` needs the server to reach each box, and misses what
//! happens while the link is down.
//!
//! No gaps: each receiver's sender reads its batches from the store's raw
//! tier after the position that receiver has accepted, so an outage (of the
//! receiver, the link, or PerfMon itself) is sent afterwards, oldest first,
//! up to what the raw tier keeps (48 h by default). See `docs/fleet.md`.
//!
//! # Layout
//! - [`config`]: the flags and credentials, checked before the start.
//! - [`wire`]: the protobuf messages, snappy, the headers.
//! - [`series`]: the store's figures as series, named as `/metrics` names them.
//! - [`sender`]: one receiver's thread: read, send, move on or keep its place.
//! - here: [`RemoteWrite`], the handle the service starts and health reads.

pub mod config;
pub mod sender;
pub mod series;
pub mod wire;

use std::sync::{Arc, Mutex};

use shared::api::RemoteWriteHealth;

pub use config::{Credentials, Given, Receiver, RemoteWriteConfig};
use sender::{REQUEST_TIMEOUT, Sender, Status, Stop, lock, now_ms};

use crate::store::Store;

/// The senders: one thread per receiver.
#[derive(Debug, Clone)]
pub struct RemoteWrite {
    senders: Arc<Vec<(Receiver, Arc<Mutex<Status>>)>>,
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
    stop: Arc<Stop>,
}

impl RemoteWrite {
    /// Starts a sender per receiver of `config`, reading from `store`.
    pub fn start(config: &RemoteWriteConfig, store: &Store) -> std::io::Result<RemoteWrite> {
        let stop = Arc::new(Stop::default());
        let agent = crate::outbound::http_agent(REQUEST_TIMEOUT);
        let labels = series::BaseLabels::new(&config.host, &config.labels);
        let mut senders = Vec::new();
        let mut threads = Vec::new();
        for receiver in &config.receivers {
            let status = Arc::new(Mutex::new(Status { state: "starting", ..Status::default() }));
            let sender = Sender {
                receiver: receiver.clone(),
                store: store.clone(),
                agent: agent.clone(),
                credentials: config.credentials.clone(),
                labels: labels.clone(),
                interval: config.interval,
                status: status.clone(),
                stop: stop.clone(),
            };
            threads.push(
                std::thread::Builder::new()
                    .name("perfmon-remote-write".into())
                    .spawn(move || sender.run())?,
            );
            tracing::info!(
                "pushing to {} every {} as host {:?}",
                receiver.origin,
                humantime::format_duration(config.interval),
                config.host
            );
            senders.push((receiver.clone(), status));
        }
        Ok(RemoteWrite { senders: Arc::new(senders), threads: Arc::new(Mutex::new(threads)), stop })
    }

    /// Each receiver's state, for `/api/health`.
    pub fn health(&self) -> Vec<RemoteWriteHealth> {
        let now = now_ms();
        self.senders
            .iter()
            .map(|(receiver, status)| {
                let s = lock(status).clone();
                RemoteWriteHealth {
                    receiver: receiver.origin.clone(),
                    state: s.state.to_owned(),
                    lag_ms: s.accepted_to.map(|to| u64::try_from(now - to).unwrap_or(0)),
                    last_sent_ms: s.last_sent_ms,
                    last_error: s.last_error,
                    last_error_ms: s.last_error_ms,
                    samples_sent: s.samples_sent,
                    batches_skipped: s.batches_skipped,
                }
            })
            .collect()
    }

    /// Stops every sender and waits up to `limit` for them to finish: a
    /// request under way ends (or times out) and its position is handed to
    /// the store before the store closes, so a restart does not send it
    /// again. A sender still busy after `limit` is left; what it carried is
    /// sent again at the next start if it was not taken. Blocking.
    pub fn stop(&self, limit: std::time::Duration) {
        self.stop.stop();
        let deadline = std::time::Instant::now() + limit;
        let threads = std::mem::take(&mut *lock(&self.threads));
        for thread in threads {
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}
