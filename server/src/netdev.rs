//! Network byte counters from Linux's `/proc/net/dev`: one small file for every
//! interface. (sysinfo reads several files per interface under /sys, which made
//! network the most expensive part of a tick.)

/// Bytes received and sent since the interfaces came up, summed over every
/// interface but loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetTotals {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// Reads the totals; `None` where `/proc/net/dev` does not exist (not Linux).
/// Blocking.
pub fn read() -> Option<NetTotals> {
    std::fs::read_to_string("/proc/net/dev").ok().map(|text| parse(&text))
}

/// Sums a `/proc/net/dev` text, skipping loopback (the machine talking to itself,
/// PerfMon's own sockets included) and the two header lines.
pub fn parse(text: &str) -> NetTotals {
    let mut totals = NetTotals::default();
    for line in text.lines() {
        let Some((name, counters)) = line.split_once(':') else { continue };
        if name.trim() == "lo" {
            continue;
        }
        // rx: bytes packets errs drop fifo frame compressed multicast; then tx: bytes …
        let fields: Vec<u64> = counters.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        if let (Some(rx), Some(tx)) = (fields.first(), fields.get(8)) {
            totals.rx_bytes = totals.rx_bytes.saturating_add(*rx);
            totals.tx_bytes = totals.tx_bytes.saturating_add(*tx);
        }
    }
    totals
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
        assert_eq!(parse(SAMPLE), NetTotals { rx_bytes: 563_979_022, tx_bytes: 2_032_704 });
    }

    #[test]
    fn headers_and_garbage_count_nothing() {
        assert_eq!(parse("Inter-| Receive\n face |bytes\nnonsense\n"), NetTotals::default());
    }

    #[test]
    fn this_machine_can_be_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(read().is_some());
        }
    }
}
