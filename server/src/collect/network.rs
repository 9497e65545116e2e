//! Network traffic over every interface but loopback: Linux's `/proc/net/dev`
//! kept open (one small file for every interface; sysinfo reads several files per
//! interface), and sysinfo where that file does not exist.

use std::time::Instant;

use sysinfo::Networks;

use super::procfs::ProcFile;
use super::rates::RateCounter;

/// Network traffic, exactly as read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NetworkReading {
    /// Bytes received per second since the previous reading (0 on the first).
    pub rx_bytes_per_s: f64,
    /// Bytes sent per second since the previous reading (0 on the first).
    pub tx_bytes_per_s: f64,
    /// Bytes received since the interfaces came up.
    pub rx_total_bytes: u64,
    /// Bytes sent since the interfaces came up.
    pub tx_total_bytes: u64,
}

/// Reads network traffic; owns the counters rates are computed from.
#[derive(Debug)]
pub struct NetworkCollector {
    /// `/proc/net/dev`, kept open.
    dev: ProcFile,
    /// sysinfo's interfaces, only where `/proc/net/dev` is missing (not Linux).
    fallback: Option<Networks>,
    /// Rates from the byte counters.
    rx: RateCounter,
    tx: RateCounter,
}

impl NetworkCollector {
    /// A collector; reads nothing yet. Blocking.
    pub fn new() -> Self {
        let mut dev = ProcFile::new("/proc/net/dev");
        let fallback = match dev.read() {
            Some(_) => None,
            None => Networks::new_with_refreshed_list()
                .map_err(|err| tracing::warn!("network metrics unavailable: {err}"))
                .ok(),
        };
        NetworkCollector { dev, fallback, rx: RateCounter::default(), tx: RateCounter::default() }
    }

    /// Reads the counters, as rates since the previous reading; `None` where
    /// there are none. Blocking.
    pub fn read(&mut self, now: Instant) -> Option<NetworkReading> {
        let (rx, tx) = match (self.dev.read().map(parse), self.fallback.as_mut()) {
            (Some(totals), _) => totals,
            (None, Some(networks)) => {
                networks.refresh(true);
                // Loopback is the machine talking to itself (PerfMon's own sockets too).
                networks.iter().filter(|(name, _)| *name != "lo").fold((0u64, 0u64), |(rx, tx), (_, data)| {
                    (rx.saturating_add(data.total_received()), tx.saturating_add(data.total_transmitted()))
                })
            }
            (None, None) => return None,
        };
        Some(NetworkReading {
            rx_bytes_per_s: self.rx.update(rx, now),
            tx_bytes_per_s: self.tx.update(tx, now),
            rx_total_bytes: rx,
            tx_total_bytes: tx,
        })
    }
}

/// Sums a `/proc/net/dev` text, skipping loopback (the machine talking to itself,
/// PerfMon's own sockets included) and the two header lines.
pub fn parse(text: &str) -> (u64, u64) {
    let (mut rx_total, mut tx_total) = (0u64, 0u64);
    for line in text.lines() {
        let Some((name, counters)) = line.split_once(':') else { continue };
        if name.trim() == "lo" {
            continue;
        }
        // rx: bytes packets errs drop fifo frame compressed multicast; then tx: bytes …
        let fields: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if let (Some(rx), Some(tx)) = (fields.first(), fields.get(8)) {
            rx_total = rx_total.saturating_add(*rx);
            tx_total = tx_total.saturating_add(*tx);
        }
    }
    (rx_total, tx_total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 199954549  174893    0    0    0     0          0         0 199954549  174893    0    0    0     0       0          0
  eth0: 563978022  400000    0    0    0     0          0         0  2032204   20000    0    0    0     0       0          0
 wlan0:      1000      10    0    0    0     0          0         0      500       5    0    0    0     0       0          0
";

    #[test]
    fn sums_every_interface_but_loopback() {
        assert_eq!(parse(SAMPLE), (563_979_022, 2_032_704));
    }

    #[test]
    fn headers_and_garbage_count_nothing() {
        assert_eq!(parse("Inter-| Receive\n face |bytes\nnonsense\n"), (0, 0));
    }

    #[test]
    fn this_machine_reads_totals_and_a_first_rate_of_zero() {
        let r = NetworkCollector::new().read(Instant::now()).expect("network is readable here");
        assert_eq!((r.rx_bytes_per_s, r.tx_bytes_per_s), (0.0, 0.0));
    }
}
