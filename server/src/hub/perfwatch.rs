//! PerfWatch's stream (`/api/ws/metrics`): every five seconds the machine's
//! newest sample in PerfWatch's shape, serialised once and handed to every
//! socket through one `watch` channel, like the projects' frames.
//!
//! The figures are the tick loop's exact readings (bytes as read, not the
//! panel's rounded GB): nothing is sampled for this stream.
//!
//! The feed is only built while someone listens, so its last frame may be as old
//! as the last time anyone did: a new client's first message is built by
//! [`newest`] from the newest sample instead.

use std::sync::Arc;
use std::time::Duration;

use shared::perfwatch::{
    PerfWatchCpu, PerfWatchData, PerfWatchDisk, PerfWatchDiskIo, PerfWatchMemory, PerfWatchMetrics,
    PerfWatchMsg, PerfWatchNetwork, PerfWatchPartition,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Frame, Hub};
use crate::sampling::{HostSample, timestamp_seconds};

/// The newest PerfWatch frame, for every socket of the stream.
#[derive(Debug)]
pub struct PerfWatchFeed {
    frames: watch::Sender<Option<Frame>>,
}

impl Default for PerfWatchFeed {
    fn default() -> Self {
        PerfWatchFeed { frames: watch::Sender::new(None) }
    }
}

impl PerfWatchFeed {
    /// A receiver of the stream's frames from now on. Its current value is the
    /// last frame built, which is stale if nobody listened since: a new client
    /// starts with [`newest`].
    pub fn subscribe(&self) -> watch::Receiver<Option<Frame>> {
        self.frames.subscribe()
    }

    /// Whether any socket listens.
    fn listened(&self) -> bool {
        self.frames.receiver_count() > 0
    }

    /// Serialises `sample` once and hands it to every subscriber; nothing is
    /// done while nobody listens.
    fn publish(&self, sample: &HostSample) {
        if !self.listened() {
            return;
        }
        if let Some(frame) = frame_of(sample) {
            self.frames.send_replace(Some(frame));
        }
    }
}

/// `sample` as a serialised PerfWatch message.
fn frame_of(sample: &HostSample) -> Option<Frame> {
    match serde_json::to_string(&message(sample)) {
        Ok(text) => Some(Frame::from(text)),
        Err(err) => {
            tracing::error!("could not serialise a PerfWatch message: {err}");
            None
        }
    }
}

/// The newest host sample as a PerfWatch frame, built now: what a client gets
/// on connecting. `None` before the first sample, which [`run`] then publishes
/// as soon as it is taken.
pub fn newest(hub: &Hub) -> Option<Frame> {
    frame_of(&*hub.latest_sample()?)
}

/// How often [`run`] looks for the sampler's first reading.
const FIRST_SAMPLE_POLL: Duration = Duration::from_millis(50);

/// Publishes the newest sample every `every` until `shutdown`.
pub async fn run(hub: Arc<Hub>, every: Duration, shutdown: CancellationToken) {
    // The sampler's first reading comes one of its intervals after the start; a
    // client that connected before it gets it as soon as it exists, not up to
    // `every` later.
    while hub.latest_sample().is_none() {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(FIRST_SAMPLE_POLL) => {}
        }
    }
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        // Nobody listening costs one check every five seconds.
        if hub.perfwatch().listened()
            && let Some(sample) = hub.latest_sample()
        {
            hub.perfwatch().publish(&sample);
        }
    }
}

/// `sample` as a PerfWatch `metrics` message.
pub fn message(sample: &HostSample) -> PerfWatchMsg {
    let memory = sample.memory.as_ref().filter(|m| m.total_bytes > 0);
    let percent = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    let network = sample.network.as_ref();
    let disk = &sample.disk;
    let partitions = match (disk.used_bytes, disk.total_bytes) {
        (Some(used), Some(total)) if total > 0 => vec![PerfWatchPartition {
            total_bytes: total,
            used_bytes: used,
            free_bytes: total.saturating_sub(used),
            usage_percent: percent(used, total),
        }],
        _ => Vec::new(),
    };
    PerfWatchMsg::Metrics(PerfWatchMetrics {
        timestamp: timestamp_seconds(sample.taken_at),
        data: PerfWatchData {
            cpu: PerfWatchCpu {
                usage_percent: sample.cpu.percent,
                per_core: sample.cpu.per_core.clone(),
                load_avg: sample.cpu.load,
                core_count: (!sample.cpu.per_core.is_empty()).then_some(sample.cpu.per_core.len() as u32),
            },
            memory: PerfWatchMemory {
                total_bytes: memory.map(|m| m.total_bytes),
                available_bytes: memory.map(|m| m.total_bytes.saturating_sub(m.used_bytes)),
                used_bytes: memory.map(|m| m.used_bytes),
                usage_percent: memory.map(|m| percent(m.used_bytes, m.total_bytes)),
                swap_total_bytes: memory.map(|m| m.swap_total_bytes),
                swap_used_bytes: memory.map(|m| m.swap_used_bytes),
                swap_free_bytes: memory.map(|m| m.swap_total_bytes.saturating_sub(m.swap_used_bytes)),
                swap_percent: memory.map(|m| percent(m.swap_used_bytes, m.swap_total_bytes)),
            },
            network: PerfWatchNetwork {
                bytes_sent_per_sec: network.map(|n| n.tx_bytes_per_s),
                bytes_recv_per_sec: network.map(|n| n.rx_bytes_per_s),
                total_bytes_sent: network.map(|n| n.tx_total_bytes),
                total_bytes_recv: network.map(|n| n.rx_total_bytes),
            },
            disk: PerfWatchDisk {
                partitions,
                io: PerfWatchDiskIo {
                    read_bytes_per_sec: disk.read_bytes_per_s,
                    write_bytes_per_sec: disk.write_bytes_per_s,
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::sampling::{CpuReading, DiskReading, MemoryReading, NetworkReading};

    fn sample() -> HostSample {
        HostSample {
            taken_at: chrono::Utc.with_ymd_and_hms(2026, 1, 19, 14, 30, 5).single().expect("a valid instant"),
            cpu: CpuReading { percent: Some(37.25), per_core: vec![30.0, 44.5], load: Some([0.5, 0.4, 0.3]) },
            memory: Some(MemoryReading {
                total_bytes: 16 << 30,
                used_bytes: 4 << 30,
                swap_total_bytes: 0,
                swap_used_bytes: 0,
            }),
            network: Some(NetworkReading {
                rx_bytes_per_s: 1024.0,
                tx_bytes_per_s: 312.0,
                rx_total_bytes: 5000,
                tx_total_bytes: 700,
            }),
            disk: DiskReading {
                read_bytes_per_s: Some(0.0),
                write_bytes_per_s: Some(4096.0),
                used_bytes: Some(250),
                total_bytes: Some(1000),
            },
            ..HostSample::default()
        }
    }

    #[test]
    fn a_sample_reads_in_perfwatch_names_with_exact_bytes() {
        let PerfWatchMsg::Metrics(m) = message(&sample()) else { panic!("a metrics message") };
        assert_eq!(m.timestamp.as_str(), "2026-01-19T14:30:05Z", "PerfWatch's whole seconds");
        assert_eq!(m.data.cpu.usage_percent, Some(37.25), "exact, not rounded for display");
        assert_eq!(m.data.cpu.core_count, Some(2));
        assert_eq!(m.data.cpu.load_avg, Some([0.5, 0.4, 0.3]));
        assert_eq!(m.data.memory.total_bytes, Some(16 << 30));
        assert_eq!(m.data.memory.available_bytes, Some(12 << 30));
        assert_eq!(m.data.memory.usage_percent, Some(25.0));
        assert_eq!(m.data.memory.swap_percent, Some(0.0), "no swap is 0 %, not a division by zero");
        assert_eq!(m.data.network.bytes_recv_per_sec, Some(1024.0));
        assert_eq!(m.data.network.total_bytes_sent, Some(700));
        assert_eq!(m.data.disk.io.write_bytes_per_sec, Some(4096.0));
        assert_eq!(
            m.data.disk.partitions,
            [PerfWatchPartition { total_bytes: 1000, used_bytes: 250, free_bytes: 750, usage_percent: 25.0 }]
        );
        let text = serde_json::to_string(&PerfWatchMsg::Metrics(m)).expect("serialises");
        assert!(
            text.starts_with(r#"{"type":"metrics","timestamp":"2026-01-19T14:30:05Z","data":{"cpu":"#),
            "{text}"
        );
        assert!(!text.contains("mountpoint") && !text.contains("device"), "no paths or devices: {text}");
    }

    #[test]
    fn what_cannot_be_read_is_null() {
        let bare = HostSample { memory: None, network: None, disk: DiskReading::default(), ..sample() };
        let PerfWatchMsg::Metrics(m) = message(&bare) else { panic!("a metrics message") };
        assert_eq!(m.data.memory, PerfWatchMemory::default());
        assert_eq!(m.data.network, PerfWatchNetwork::default());
        assert!(m.data.disk.partitions.is_empty());
        assert_eq!(m.data.disk.io.read_bytes_per_sec, None);
    }

    fn taken_at(sample: &HostSample, seconds: i64) -> HostSample {
        HostSample { taken_at: sample.taken_at + chrono::Duration::seconds(seconds), ..sample.clone() }
    }

    #[test]
    fn a_new_client_starts_from_the_newest_sample_not_the_feeds_last_frame() {
        let hub = crate::hub::tests::hub();
        assert!(newest(&hub).is_none(), "nothing before the first sample");
        let listener = hub.perfwatch().subscribe();
        hub.perfwatch().publish(&sample());
        drop(listener);
        // Hours on, nobody listening: the feed still holds that frame.
        hub.publish(taken_at(&sample(), 3 * 3600));
        let stale = hub.perfwatch().subscribe().borrow().clone().expect("the feed's last frame");
        assert!(stale.as_str().contains("14:30:05Z"), "{}", stale.as_str());
        let fresh = newest(&hub).expect("built from the newest sample");
        assert!(fresh.as_str().contains(r#""timestamp":"2026-01-19T17:30:05Z""#), "{}", fresh.as_str());
    }

    #[tokio::test]
    async fn the_first_sample_is_published_when_it_comes_not_a_whole_interval_later() {
        let hub = Arc::new(crate::hub::tests::hub());
        let shutdown = CancellationToken::new();
        let mut frames = hub.perfwatch().subscribe();
        let feed = tokio::spawn(run(hub.clone(), Duration::from_secs(3600), shutdown.clone()));
        // Let the loop take its first look (no sample yet) on this one thread.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(frames.borrow().is_none());
        hub.publish(sample());
        tokio::time::timeout(Duration::from_secs(5), frames.changed())
            .await
            .expect("published within moments of the sample, not an interval later")
            .expect("the feed is open");
        assert!(frames.borrow().as_ref().is_some_and(|f| f.as_str().contains("14:30:05Z")));
        shutdown.cancel();
        feed.await.expect("the loop ends on shutdown");
    }

    #[test]
    fn the_feed_serialises_only_while_someone_listens() {
        let feed = PerfWatchFeed::default();
        feed.publish(&sample());
        let receiver = feed.subscribe();
        assert!(receiver.borrow().is_none(), "nothing was built for nobody");
        feed.publish(&sample());
        let frame = receiver.borrow().clone().expect("a frame for the listener");
        assert!(frame.as_str().contains(r#""usage_percent":37.25"#));
    }
}
