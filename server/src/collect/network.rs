//! Network traffic over every interface but loopback: Linux's `/proc/net/dev`
//! kept open (one small file for every interface; sysinfo reads several files per
//! interface), and sysinfo where that file does not exist. Summed, and per
//! interface with packets, errors and drops each way.
//!
//! # Layout
//! - [`NetworkCollector`]: [`NetworkCollector::read`] gives the totals
//!   ([`NetworkReading`]), [`NetworkCollector::read_detailed`] the totals and each
//!   interface ([`InterfacesReading`]) from the same read.
//! - [`parse_interfaces`], [`parse`]: the pure parsers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use shared::depth::network::{Interface, Interfaces, MAX_INTERFACES};
use sysinfo::Networks;

use super::disk::keep_busiest;
use super::procfs::ProcFile;
use super::rates::RateCounter;
use crate::units::round1;

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

/// One interface's counters since it came up, from its `/proc/net/dev` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InterfaceCounters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_drops: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Send errors.
    pub tx_errors: u64,
    /// Packets to send dropped.
    pub tx_drops: u64,
}

impl InterfaceCounters {
    /// The counters in the order of [`InterfaceRates`]' fields.
    fn all(&self) -> [u64; 8] {
        [
            self.rx_bytes,
            self.tx_bytes,
            self.rx_packets,
            self.tx_packets,
            self.rx_errors,
            self.tx_errors,
            self.rx_drops,
            self.tx_drops,
        ]
    }
}

/// One interface, exactly as read: its counters since it came up (for
/// `/metrics`' counters and PerfWatch's totals) and the rates since the previous
/// reading, `None` on its first reading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterfaceReading {
    /// The kernel's name for it (`eth0`).
    pub name: String,
    /// Its counters since it came up.
    pub counters: InterfaceCounters,
    /// Bytes received per second.
    pub rx_bytes_per_s: Option<f64>,
    /// Bytes sent per second.
    pub tx_bytes_per_s: Option<f64>,
    /// Packets received per second.
    pub rx_packets_per_s: Option<f64>,
    /// Packets sent per second.
    pub tx_packets_per_s: Option<f64>,
    /// Receive errors per second.
    pub rx_errors_per_s: Option<f64>,
    /// Send errors per second.
    pub tx_errors_per_s: Option<f64>,
    /// Received packets dropped per second.
    pub rx_drops_per_s: Option<f64>,
    /// Packets to send dropped per second.
    pub tx_drops_per_s: Option<f64>,
}

/// Every interface but loopback, exactly as read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterfacesReading {
    /// Why there are no interfaces to list, when `/proc/net/dev` cannot be read.
    pub unavailable: Option<String>,
    /// At most [`MAX_INTERFACES`]: the busiest since they came up, by name.
    pub interfaces: Vec<InterfaceReading>,
}

impl InterfacesReading {
    /// The payload's section: bytes per second whole, packets, errors and drops
    /// per second with one decimal (a few a second matter).
    pub fn to_contract(&self) -> Interfaces {
        Interfaces {
            available: self.unavailable.is_none(),
            reason: self.unavailable.clone(),
            interfaces: self
                .interfaces
                .iter()
                .map(|i| Interface {
                    name: i.name.clone(),
                    rx_bytes_per_s: i.rx_bytes_per_s.map(f64::round),
                    tx_bytes_per_s: i.tx_bytes_per_s.map(f64::round),
                    rx_packets_per_s: i.rx_packets_per_s.map(round1),
                    tx_packets_per_s: i.tx_packets_per_s.map(round1),
                    rx_errors_per_s: i.rx_errors_per_s.map(round1),
                    tx_errors_per_s: i.tx_errors_per_s.map(round1),
                    rx_drops_per_s: i.rx_drops_per_s.map(round1),
                    tx_drops_per_s: i.tx_drops_per_s.map(round1),
                })
                .collect(),
        }
    }
}

/// The rates of one interface's counters, in [`InterfaceCounters::all`]' order.
#[derive(Debug, Default)]
struct InterfaceRates([RateCounter; 8]);

impl InterfaceRates {
    /// Records `c` read at `now`; the rates since the previous reading, `None` on
    /// the first (`first`).
    fn update(&mut self, name: &str, c: &InterfaceCounters, now: Instant, first: bool) -> InterfaceReading {
        let mut rates = [0.0; 8];
        for ((rate, counter), total) in rates.iter_mut().zip(&mut self.0).zip(c.all()) {
            *rate = counter.update(total, now);
        }
        let rate = |i: usize| (!first).then_some(rates[i]);
        InterfaceReading {
            name: name.to_owned(),
            counters: *c,
            rx_bytes_per_s: rate(0),
            tx_bytes_per_s: rate(1),
            rx_packets_per_s: rate(2),
            tx_packets_per_s: rate(3),
            rx_errors_per_s: rate(4),
            tx_errors_per_s: rate(5),
            rx_drops_per_s: rate(6),
            tx_drops_per_s: rate(7),
        }
    }
}

/// Reads network traffic; owns the counters rates are computed from.
#[derive(Debug)]
pub struct NetworkCollector {
    /// `/proc/net/dev`, kept open.
    dev: ProcFile,
    /// sysinfo's interfaces, only where `/proc/net/dev` is missing (not Linux).
    fallback: Option<Networks>,
    /// Rates from the summed byte counters.
    rx: RateCounter,
    tx: RateCounter,
    /// Each interface's rates, by name; an interface that vanishes is dropped.
    interfaces: HashMap<String, InterfaceRates>,
}

impl NetworkCollector {
    /// A collector; reads nothing yet. Blocking.
    pub fn new() -> Self {
        let mut collector = Self::with_path("/proc/net/dev");
        if collector.dev.read().is_none() {
            collector.fallback = Networks::new_with_refreshed_list()
                .map_err(|err| tracing::warn!("network metrics unavailable: {err}"))
                .ok();
        }
        collector
    }

    /// A collector over another `/proc/net/dev` (a fake one in tests), without
    /// sysinfo's fallback.
    pub fn with_path(dev: impl Into<PathBuf>) -> Self {
        NetworkCollector {
            dev: ProcFile::new(dev),
            fallback: None,
            rx: RateCounter::default(),
            tx: RateCounter::default(),
            interfaces: HashMap::new(),
        }
    }

    /// Reads the counters, as rates since the previous reading; `None` where
    /// there are none. Blocking.
    pub fn read(&mut self, now: Instant) -> Option<NetworkReading> {
        self.read_detailed(now).0
    }

    /// Reads the totals, and each interface from the same read of
    /// `/proc/net/dev`. Blocking.
    pub fn read_detailed(&mut self, now: Instant) -> (Option<NetworkReading>, InterfacesReading) {
        let mut detail = InterfacesReading::default();
        let (rx, tx) = match (self.dev.read(), self.fallback.as_mut()) {
            (Some(text), _) => {
                let listed = parse_interfaces(text);
                // Rates for every interface (one beyond the bound keeps its
                // baseline), then the bound.
                self.interfaces.retain(|name, _| listed.iter().any(|(n, _)| n == name));
                for (name, counters) in &listed {
                    let first = !self.interfaces.contains_key(*name);
                    let rates = self.interfaces.entry((*name).to_owned()).or_default();
                    detail.interfaces.push(rates.update(name, counters, now, first));
                }
                keep_busiest(
                    &mut detail.interfaces,
                    MAX_INTERFACES,
                    |i| i.counters.rx_bytes.saturating_add(i.counters.tx_bytes),
                    |a, b| a.name.cmp(&b.name),
                );
                sum(&listed)
            }
            (None, Some(networks)) => {
                detail.unavailable = Some(NO_DEV.into());
                networks.refresh(true);
                // Loopback is the machine talking to itself (PerfMon's own sockets too).
                networks.iter().filter(|(name, _)| *name != "lo").fold((0u64, 0u64), |(rx, tx), (_, data)| {
                    (rx.saturating_add(data.total_received()), tx.saturating_add(data.total_transmitted()))
                })
            }
            (None, None) => {
                detail.unavailable = Some(NO_DEV.into());
                return (None, detail);
            }
        };
        let totals = NetworkReading {
            rx_bytes_per_s: self.rx.update(rx, now),
            tx_bytes_per_s: self.tx.update(tx, now),
            rx_total_bytes: rx,
            tx_total_bytes: tx,
        };
        (Some(totals), detail)
    }
}

/// Why there is no per-interface detail.
const NO_DEV: &str = "/proc/net/dev cannot be read (not Linux, or no /proc)";

/// Every interface of a `/proc/net/dev` text but loopback (the machine talking
/// to itself, PerfMon's own sockets included), with its counters; the two
/// header lines and lines too short are skipped.
pub fn parse_interfaces(text: &str) -> Vec<(&str, InterfaceCounters)> {
    let mut interfaces = Vec::new();
    for line in text.lines() {
        // An interface name holds no `:` (the kernel refuses one), so the first
        // ends the name, even with no space before a long first counter.
        let Some((name, counters)) = line.split_once(':') else { continue };
        let name = name.trim();
        if name == "lo" || name.is_empty() {
            continue;
        }
        // rx: bytes packets errs drop fifo frame compressed multicast; then tx: bytes …
        let mut fields = [0u64; 12];
        let mut read = 0;
        for (slot, field) in fields.iter_mut().zip(counters.split_whitespace()) {
            let Ok(number) = field.parse() else { break };
            *slot = number;
            read += 1;
        }
        if read < fields.len() {
            continue;
        }
        let [
            rx_bytes,
            rx_packets,
            rx_errors,
            rx_drops,
            _,
            _,
            _,
            _,
            tx_bytes,
            tx_packets,
            tx_errors,
            tx_drops,
        ] = fields;
        interfaces.push((
            name,
            InterfaceCounters {
                rx_bytes,
                rx_packets,
                rx_errors,
                rx_drops,
                tx_bytes,
                tx_packets,
                tx_errors,
                tx_drops,
            },
        ));
    }
    interfaces
}

/// Sums a `/proc/net/dev` text, skipping loopback (the machine talking to itself,
/// PerfMon's own sockets included) and the two header lines.
// The reading sums the interfaces it parsed once; this is the same sum of a text.
#[cfg(test)]
pub fn parse(text: &str) -> (u64, u64) {
    sum(&parse_interfaces(text))
}

/// Bytes received and sent over `interfaces`.
fn sum(interfaces: &[(&str, InterfaceCounters)]) -> (u64, u64) {
    interfaces
        .iter()
        .fold((0u64, 0u64), |(rx, tx), (_, c)| (rx.saturating_add(c.rx_bytes), tx.saturating_add(c.tx_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, UdpSocket};
    use std::path::Path;
    use std::time::Duration;

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

    /// A `/proc/net/dev` line of an interface with these counters.
    fn line(name: &str, c: InterfaceCounters) -> String {
        format!(
            "{name:>6}: {} {} {} {} 0 0 0 0 {} {} {} {} 0 0 0 0\n",
            c.rx_bytes,
            c.rx_packets,
            c.rx_errors,
            c.rx_drops,
            c.tx_bytes,
            c.tx_packets,
            c.tx_errors,
            c.tx_drops
        )
    }

    /// Counters where each sent figure is half the received one.
    fn counters(bytes: u64, packets: u64, errors: u64, drops: u64) -> InterfaceCounters {
        InterfaceCounters {
            rx_bytes: bytes,
            rx_packets: packets,
            rx_errors: errors,
            rx_drops: drops,
            tx_bytes: bytes / 2,
            tx_packets: packets / 2,
            tx_errors: errors / 2,
            tx_drops: drops / 2,
        }
    }

    const HEADER: &str = "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n";

    fn fake_dev(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("perfmon-net-dev-{tag}-{}", std::process::id()))
    }

    #[test]
    fn every_counter_of_a_line_is_read_and_loopback_is_not() {
        let listed = parse_interfaces(SAMPLE);
        let names: Vec<&str> = listed.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["eth0", "wlan0"]);
        let text = "  eth1:123456789012 7 1 2 0 0 0 0 99 3 4 5 0 0 0 0\n";
        assert_eq!(
            parse_interfaces(text),
            [(
                "eth1",
                InterfaceCounters {
                    rx_bytes: 123_456_789_012,
                    rx_packets: 7,
                    rx_errors: 1,
                    rx_drops: 2,
                    tx_bytes: 99,
                    tx_packets: 3,
                    tx_errors: 4,
                    tx_drops: 5,
                }
            )],
            "a long first counter may touch the colon"
        );
        assert!(parse_interfaces("  eth2: 1 2 3\n").is_empty(), "too short");
    }

    #[test]
    fn each_interface_has_rates_from_its_second_reading_and_leaves_when_it_vanishes() {
        let dev = fake_dev("appear");
        let write =
            |lines: &[String]| std::fs::write(&dev, format!("{HEADER}{}", lines.concat())).expect("dev");
        let mut net = NetworkCollector::with_path(&dev);
        let t0 = Instant::now();
        write(&[line("lo", counters(9, 9, 9, 9)), line("eth0", counters(10_000, 100, 4, 8))]);
        let (_, first) = net.read_detailed(t0);
        assert_eq!(first.unavailable, None);
        assert_eq!(first.interfaces.len(), 1, "no loopback: {first:?}");
        assert_eq!((first.interfaces[0].rx_bytes_per_s, first.interfaces[0].tx_drops_per_s), (None, None));

        write(&[line("eth0", counters(30_000, 300, 8, 12)), line("wlan0", counters(500, 5, 0, 0))]);
        let (total, second) = net.read_detailed(t0 + Duration::from_secs(2));
        let names: Vec<&str> = second.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["eth0", "wlan0"]);
        let eth0 = &second.interfaces[0];
        assert_eq!((eth0.rx_bytes_per_s, eth0.tx_bytes_per_s), (Some(10_000.0), Some(5_000.0)));
        assert_eq!((eth0.rx_packets_per_s, eth0.tx_packets_per_s), (Some(100.0), Some(50.0)));
        assert_eq!((eth0.rx_errors_per_s, eth0.tx_errors_per_s), (Some(2.0), Some(1.0)));
        assert_eq!((eth0.rx_drops_per_s, eth0.tx_drops_per_s), (Some(2.0), Some(1.0)));
        assert_eq!(second.interfaces[1].rx_packets_per_s, None, "wlan0 is new");
        assert_eq!(total.map(|t| t.rx_total_bytes), Some(30_500), "the totals stay over every interface");

        // eth0 vanishes; wlan0's counters reset (the interface was recreated).
        write(&[line("wlan0", counters(100, 1, 0, 0))]);
        let (_, third) = net.read_detailed(t0 + Duration::from_secs(3));
        assert_eq!(third.interfaces.len(), 1);
        let wlan0 = &third.interfaces[0];
        assert_eq!((wlan0.rx_bytes_per_s, wlan0.rx_packets_per_s), (Some(0.0), Some(0.0)), "no spike");
        assert!(!net.interfaces.contains_key("eth0"), "its baseline is dropped");
        write(&[line("wlan0", counters(1100, 11, 0, 0))]);
        let (_, fourth) = net.read_detailed(t0 + Duration::from_secs(4));
        assert_eq!(fourth.interfaces[0].rx_bytes_per_s, Some(1000.0), "from the new baseline");

        let contract = second.to_contract();
        assert!(contract.available);
        assert_eq!(contract.interfaces[0].name, "eth0");
        assert_eq!(contract.interfaces[0].rx_errors_per_s, Some(2.0));
        assert_eq!(contract.interfaces[1].rx_bytes_per_s, None);
        let _ = std::fs::remove_file(&dev);
    }

    #[test]
    fn the_list_keeps_the_busiest_interfaces_by_name() {
        let dev = fake_dev("bound");
        let lines: Vec<String> = (0..MAX_INTERFACES as u64 + 5)
            .map(|i| line(&format!("veth{i:02}"), counters(i * 10, i, 0, 0)))
            .collect();
        std::fs::write(&dev, format!("{HEADER}{}", lines.concat())).expect("dev");
        let (_, detail) = NetworkCollector::with_path(&dev).read_detailed(Instant::now());
        assert_eq!(detail.interfaces.len(), MAX_INTERFACES);
        assert_eq!(
            detail.interfaces.first().map(|i| i.name.as_str()),
            Some("veth05"),
            "the 5 idlest are left out"
        );
        let _ = std::fs::remove_file(&dev);
    }

    #[test]
    fn a_missing_file_makes_the_section_unavailable_with_a_reason() {
        let mut net = NetworkCollector::with_path("/nonexistent/net/dev");
        let (total, detail) = net.read_detailed(Instant::now());
        assert_eq!(total, None);
        assert!(detail.unavailable.as_deref().is_some_and(|r| r.contains("/proc/net/dev")));
        let contract = detail.to_contract();
        assert!(!contract.available && contract.interfaces.is_empty());
    }

    /// The default route's interface and gateway, from a `/proc/net/route` text
    /// (addresses in the kernel's byte order, hex).
    fn default_route(text: &str) -> Option<(String, Ipv4Addr)> {
        text.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (name, destination, gateway) = (fields.first()?, fields.get(1)?, fields.get(2)?);
            if *destination != "00000000" {
                return None;
            }
            let gateway = u32::from_str_radix(gateway, 16).ok()?;
            Some(((*name).to_owned(), Ipv4Addr::from(gateway.to_le_bytes())))
        })
    }

    fn sysfs_counter(interface: &str, counter: &str) -> u64 {
        let path = Path::new("/sys/class/net").join(interface).join("statistics").join(counter);
        std::fs::read_to_string(&path).ok().and_then(|s| s.trim().parse().ok()).expect("a sysfs counter")
    }

    /// Traffic to the machine's own addresses goes over loopback, which is not
    /// listed: the load here is datagrams to the default gateway's discard port
    /// (RFC 863), which leave by the default route's interface. Checked against
    /// that interface's sysfs counters, read around ours.
    #[test]
    fn datagrams_sent_out_move_their_interfaces_packets_and_bytes() {
        const DATAGRAMS: u64 = 200;
        const PAYLOAD: usize = 1000;
        let route = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        let Some((interface, gateway)) = default_route(&route) else {
            eprintln!(
                "no default route: the per-interface rates are proved by the fake /proc/net/dev tests only"
            );
            return;
        };
        let mut net = NetworkCollector::new();
        let packets_before = sysfs_counter(&interface, "tx_packets");
        let bytes_before = sysfs_counter(&interface, "tx_bytes");
        let t0 = Instant::now();
        net.read_detailed(t0);
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("a UDP socket");
        for _ in 0..DATAGRAMS {
            socket.send_to(&[0u8; PAYLOAD], (gateway, 9)).expect("a datagram to the gateway's discard port");
        }
        // The last may wait in the queue (or for ARP) a moment after send_to.
        let deadline = Instant::now() + Duration::from_secs(3);
        while sysfs_counter(&interface, "tx_packets") < packets_before + DATAGRAMS
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let t1 = Instant::now();
        let (_, detail) = net.read_detailed(t1);
        let packets_after = sysfs_counter(&interface, "tx_packets");
        let bytes_after = sysfs_counter(&interface, "tx_bytes");
        let ours =
            detail.interfaces.iter().find(|i| i.name == interface).expect("the route's interface is listed");
        let seconds = t1.duration_since(t0).as_secs_f64();
        let packets = ours.tx_packets_per_s.expect("a rate") * seconds;
        let bytes = ours.tx_bytes_per_s.expect("a rate") * seconds;
        eprintln!(
            "{interface} over {seconds:.3} s: ours {packets:.1} packets {bytes:.0} bytes; sysfs {} packets {} bytes",
            packets_after - packets_before,
            bytes_after - bytes_before
        );
        // Ours lies within sysfs' readings (taken just outside ours), and holds
        // every datagram sent: each is at least its payload and UDP/IP headers.
        assert!(packets >= DATAGRAMS as f64 - 0.01, "{packets} packets seen, {DATAGRAMS} sent");
        assert!(packets <= (packets_after - packets_before) as f64 + 0.01);
        assert!(bytes >= (DATAGRAMS * (PAYLOAD as u64 + 28)) as f64 - 0.01, "{bytes} bytes");
        assert!(bytes <= (bytes_after - bytes_before) as f64 + 0.01);
        assert_eq!(ours.tx_errors_per_s, Some(0.0), "{ours:?}");
    }
}
