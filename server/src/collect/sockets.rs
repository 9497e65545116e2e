//! The machine's sockets: TCP connections by state (`/proc/net/tcp` and `tcp6`),
//! UDP sockets (`/proc/net/udp` and `udp6`) and TCP retransmits (`RetransSegs` of
//! `/proc/net/snmp`), read at most every [`SOCKETS_EVERY`]: the TCP tables hold a
//! line per socket, which on a busy server is many thousands (`ss` asks netlink
//! instead; the text tables are the kernel's stable interface and need no
//! privilege). Between reads the last reading is given again with its age. The
//! retransmit counter is read at the same cadence: its rate over 5 s is as exact
//! as over 1 s, and the tick stays one file lighter.
//!
//! The tables are those of this process's network namespace (in a container,
//! the container's), as `ss` run beside the server would list them.
//!
//! # Layout
//! - [`SocketsCollector`]: `new()` for this machine, `with_root` over a fake
//!   `/proc/net`; [`SocketsCollector::read`] at every tick.
//! - [`count_tcp_states`], [`count_entries`], [`parse_retransmits`]: the pure
//!   parsers (the tables are streamed line by line, never held whole).
//! - [`SocketsReading`]: the reading, and its `to_contract`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shared::depth::network::Sockets;

use super::cadence::{Kept, age_ms};
use super::rates::RateCounter;
use crate::units::round1;

/// The shortest time between two reads of the socket tables.
pub const SOCKETS_EVERY: Duration = Duration::from_secs(5);

/// TCP sockets by state (include/net/tcp_states.h), IPv4 and IPv6 together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpStates {
    /// `ESTABLISHED` (1).
    pub established: u64,
    /// `SYN_SENT` (2).
    pub syn_sent: u64,
    /// `SYN_RECV` (3), and `NEW_SYN_RECV` (12), which the tables print as 3.
    pub syn_recv: u64,
    /// `FIN_WAIT1` (4).
    pub fin_wait1: u64,
    /// `FIN_WAIT2` (5).
    pub fin_wait2: u64,
    /// `TIME_WAIT` (6).
    pub time_wait: u64,
    /// `CLOSE` (7).
    pub close: u64,
    /// `CLOSE_WAIT` (8).
    pub close_wait: u64,
    /// `LAST_ACK` (9).
    pub last_ack: u64,
    /// `LISTEN` (10).
    pub listen: u64,
    /// `CLOSING` (11).
    pub closing: u64,
}

impl TcpStates {
    /// Counts one socket in the kernel's state number `state`; `false` for a
    /// number that is no state.
    fn count(&mut self, state: u8) -> bool {
        let slot = match state {
            1 => &mut self.established,
            2 => &mut self.syn_sent,
            3 | 12 => &mut self.syn_recv,
            4 => &mut self.fin_wait1,
            5 => &mut self.fin_wait2,
            6 => &mut self.time_wait,
            7 => &mut self.close,
            8 => &mut self.close_wait,
            9 => &mut self.last_ack,
            10 => &mut self.listen,
            11 => &mut self.closing,
            _ => return false,
        };
        *slot += 1;
        true
    }
}

/// The sockets, exactly as read, with the reading's age.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SocketsReading {
    /// Why there are no figures, when no table can be read.
    pub unavailable: Option<String>,
    /// How long before this reading was handed out the tables were read, in ms;
    /// `None` when nothing was read.
    pub age_ms: Option<u64>,
    /// TCP sockets by state; `None` when neither TCP table can be read.
    pub tcp: Option<TcpStates>,
    /// UDP sockets, IPv4 and IPv6; `None` when neither UDP table can be read.
    pub udp: Option<u64>,
    /// TCP segments retransmitted since boot (`RetransSegs`).
    pub tcp_retransmits: Option<u64>,
    /// Of those, per second since the previous read; `None` on the first.
    pub tcp_retransmits_per_s: Option<f64>,
}

impl SocketsReading {
    /// The payload's section: counts as read, retransmits per second with one
    /// decimal.
    pub fn to_contract(&self) -> Sockets {
        let state = |f: fn(&TcpStates) -> u64| self.tcp.as_ref().map(f);
        Sockets {
            available: self.unavailable.is_none(),
            reason: self.unavailable.clone(),
            age_ms: self.age_ms,
            tcp_established: state(|s| s.established),
            tcp_syn_sent: state(|s| s.syn_sent),
            tcp_syn_recv: state(|s| s.syn_recv),
            tcp_fin_wait1: state(|s| s.fin_wait1),
            tcp_fin_wait2: state(|s| s.fin_wait2),
            tcp_time_wait: state(|s| s.time_wait),
            tcp_close: state(|s| s.close),
            tcp_close_wait: state(|s| s.close_wait),
            tcp_last_ack: state(|s| s.last_ack),
            tcp_listen: state(|s| s.listen),
            tcp_closing: state(|s| s.closing),
            udp: self.udp,
            tcp_retransmits_per_s: self.tcp_retransmits_per_s.map(round1),
        }
    }
}

/// Reads the socket tables at most every [`SOCKETS_EVERY`].
#[derive(Debug)]
pub struct SocketsCollector {
    /// What reads the tables.
    tables: SocketTables,
    /// The last reading and when it was taken.
    last: Kept<SocketsReading>,
}

/// Reads the socket tables of one `/proc/net`, keeping what the next read needs.
#[derive(Debug)]
struct SocketTables {
    /// `/proc/net` (this process's network namespace).
    proc_net: PathBuf,
    /// The rate of `RetransSegs`.
    retransmits: RateCounter,
    /// Whether `RetransSegs` was read before (the first read has no rate).
    retransmits_seen: bool,
    /// One table line, its buffer kept from read to read.
    line: String,
}

/// How much of a table is read at once.
const TABLE_BUFFER_BYTES: usize = 16 * 1024;

impl SocketsCollector {
    /// This machine's sockets. Reads nothing yet.
    pub fn new() -> Self {
        Self::with_root("/proc/net")
    }

    /// The sockets of another `/proc/net` (a fake one in tests).
    pub fn with_root(proc_net: impl Into<PathBuf>) -> Self {
        SocketsCollector {
            tables: SocketTables {
                proc_net: proc_net.into(),
                retransmits: RateCounter::default(),
                retransmits_seen: false,
                line: String::new(),
            },
            last: Kept::new(SOCKETS_EVERY),
        }
    }

    /// The sockets, read again when the last reading is [`SOCKETS_EVERY`] old
    /// (or there is none), with their age at `now`. Blocking (a TCP table may be
    /// long).
    pub fn read(&mut self, now: Instant) -> SocketsReading {
        let (last, age) = self.last.read(now, || self.tables.read(now));
        if last.unavailable.is_none() {
            last.age_ms = Some(age_ms(age));
        }
        last.clone()
    }
}

impl SocketTables {
    /// Reads every table now. Blocking.
    fn read(&mut self, now: Instant) -> SocketsReading {
        let mut tcp: Option<TcpStates> = None;
        for table in ["tcp", "tcp6"] {
            let Ok(file) = File::open(self.proc_net.join(table)) else { continue };
            let states = tcp.get_or_insert_with(TcpStates::default);
            // A table cut short by a read error still counts what it listed.
            let _ =
                count_tcp_states(BufReader::with_capacity(TABLE_BUFFER_BYTES, file), &mut self.line, states);
        }
        let mut udp: Option<u64> = None;
        for table in ["udp", "udp6"] {
            let Ok(file) = File::open(self.proc_net.join(table)) else { continue };
            let count = count_entries(BufReader::with_capacity(TABLE_BUFFER_BYTES, file), &mut self.line);
            *udp.get_or_insert(0) += count;
        }
        let retransmits = std::fs::read_to_string(self.proc_net.join("snmp"))
            .ok()
            .and_then(|text| parse_retransmits(&text));
        let tcp_retransmits_per_s = retransmits.and_then(|total| {
            let rate = self.retransmits.update(total, now);
            std::mem::replace(&mut self.retransmits_seen, true).then_some(rate)
        });
        let unavailable = (tcp.is_none() && udp.is_none() && retransmits.is_none()).then(|| {
            format!(
                "none of tcp, tcp6, udp, udp6 and snmp can be read in {} (not Linux, or no /proc)",
                self.proc_net.display()
            )
        });
        // Release a long table's line buffer; the next read regrows it.
        self.line.shrink_to(256);
        let age_ms = unavailable.is_none().then_some(0);
        SocketsReading { unavailable, age_ms, tcp, udp, tcp_retransmits: retransmits, tcp_retransmits_per_s }
    }
}

/// Counts the sockets of a `/proc/net/tcp` or `tcp6` table by state (the `st`
/// column, hex) into `states`, reading line by line into `line`. The header and
/// lines with no state are skipped.
pub fn count_tcp_states(
    mut table: impl BufRead,
    line: &mut String,
    states: &mut TcpStates,
) -> std::io::Result<()> {
    loop {
        line.clear();
        if table.read_line(line)? == 0 {
            return Ok(());
        }
        // sl local_address rem_address st …
        if let Some(state) = line.split_whitespace().nth(3).and_then(|st| u8::from_str_radix(st, 16).ok()) {
            states.count(state);
        }
    }
}

/// The sockets a `/proc/net/udp` or `udp6` table lists: its lines but the
/// header (those starting with an `sl:` slot number), read line by line into
/// `line`; a read error ends the count.
pub fn count_entries(mut table: impl BufRead, line: &mut String) -> u64 {
    let mut count = 0;
    loop {
        line.clear();
        match table.read_line(line) {
            Ok(0) | Err(_) => return count,
            Ok(_) => {
                let slot = line.split_whitespace().next().and_then(|sl| sl.strip_suffix(':'));
                if slot.is_some_and(|sl| sl.parse::<u64>().is_ok()) {
                    count += 1;
                }
            }
        }
    }
}

/// `RetransSegs` of a `/proc/net/snmp` text: the `Tcp:` line of names and the
/// `Tcp:` line of values after it.
pub fn parse_retransmits(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter_map(|line| line.strip_prefix("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let index = names.split_whitespace().position(|name| name == "RetransSegs")?;
    values.split_whitespace().nth(index)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
    use std::path::Path;
    use std::process::Command;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1530 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:07E8 01 00000000:00000000 00:00000000 00000000  1000        0 2001 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:07E8 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 2002 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:A1B4 0100007F:07E8 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   4: 0100007F:07E8 0100007F:A1B6 08 00000000:00000000 00:00000000 00000000  1000        0 2003 1 0000000000000000 20 4 30 10 -1
   5: 0100007F:A1B8 0100007F:07E8 0C 00000000:00000000 00:00000000 00000000  1000        0 2004 1 0000000000000000 20 4 30 10 -1
   6: garbage
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3001 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0050 00000000000000000000000001000000:B000 05 00000000:00000000 00:00000000 00000000     0        0 3002 1 0000000000000000 100 0 0 10 0
";

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4001 2 0000000000000000 0
  456: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4002 2 0000000000000000 0
";

    fn snmp(retransmits: u64) -> String {
        format!(
            "Ip: Forwarding DefaultTTL\nIp: 2 64\n\
             Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
             Tcp: 1 200 120000 -1 19974 16621 3291 1387 0 460378 447304 {retransmits} 0 4172 0\n\
             Udp: InDatagrams NoPorts\nUdp: 2373 0\n"
        )
    }

    #[test]
    fn tcp_states_are_counted_from_the_hex_st_column() {
        let mut states = TcpStates::default();
        let mut line = String::new();
        count_tcp_states(TCP.as_bytes(), &mut line, &mut states).expect("reads");
        count_tcp_states(TCP6.as_bytes(), &mut line, &mut states).expect("reads");
        assert_eq!(
            states,
            TcpStates {
                established: 2,
                syn_recv: 1,
                fin_wait2: 1,
                time_wait: 1,
                close_wait: 1,
                listen: 2,
                ..TcpStates::default()
            }
        );
        assert!(!TcpStates::default().count(0x0D), "no such state");
    }

    #[test]
    fn udp_sockets_are_the_tables_lines_but_the_header() {
        let mut line = String::new();
        assert_eq!(count_entries(UDP.as_bytes(), &mut line), 2);
        assert_eq!(count_entries("   sl  local_address\n".as_bytes(), &mut line), 0);
        assert_eq!(count_entries("".as_bytes(), &mut line), 0);
    }

    #[test]
    fn retransmits_come_from_the_tcp_header_and_value_pair() {
        assert_eq!(parse_retransmits(&snmp(56)), Some(56));
        assert_eq!(parse_retransmits("Tcp: RetransSegs\n"), None, "no values line");
        assert_eq!(parse_retransmits("Tcp: InSegs OutSegs\nTcp: 1 2\n"), None, "no such field");
        assert_eq!(parse_retransmits("Tcp: InSegs RetransSegs\nTcp: 1\n"), None, "a short values line");
        assert_eq!(parse_retransmits(""), None);
    }

    fn fake_proc_net(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-sockets-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_reading_every_five_seconds_with_its_age_and_a_retransmit_rate() {
        let dir = fake_proc_net("cadence");
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("fake table");
        write("tcp", TCP);
        write("udp", UDP);
        write("udp6", UDP);
        write("snmp", &snmp(1000));
        let mut sockets = SocketsCollector::with_root(&dir);
        let t0 = Instant::now();
        let first = sockets.read(t0);
        assert_eq!((first.unavailable.as_deref(), first.age_ms), (None, Some(0)));
        assert_eq!(first.tcp.map(|t| (t.established, t.listen)), Some((2, 1)), "no tcp6: IPv6 is off");
        assert_eq!(first.udp, Some(4));
        assert_eq!((first.tcp_retransmits, first.tcp_retransmits_per_s), (Some(1000), None));

        write("tcp6", TCP6);
        write("snmp", &snmp(1050));
        let soon = sockets.read(t0 + Duration::from_secs(3));
        assert_eq!((soon.tcp, soon.age_ms), (first.tcp, Some(3000)), "not read again yet");
        let later = sockets.read(t0 + Duration::from_secs(5));
        assert_eq!(later.age_ms, Some(0));
        assert_eq!(later.tcp.map(|t| (t.listen, t.fin_wait2)), Some((2, 1)));
        assert_eq!(later.tcp_retransmits_per_s, Some(10.0), "50 over 5 s");

        // A counter that went back (a new network namespace's) gives no spike.
        write("snmp", &snmp(3));
        assert_eq!(sockets.read(t0 + Duration::from_secs(10)).tcp_retransmits_per_s, Some(0.0));

        let contract = later.to_contract();
        assert!(contract.available);
        assert_eq!(
            (contract.tcp_established, contract.tcp_listen, contract.tcp_close_wait),
            (Some(2), Some(2), Some(1))
        );
        assert_eq!(
            (contract.tcp_time_wait, contract.tcp_syn_recv, contract.tcp_closing),
            (Some(1), Some(1), Some(0))
        );
        assert_eq!(
            (contract.udp, contract.tcp_retransmits_per_s, contract.age_ms),
            (Some(4), Some(10.0), Some(0))
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_tables_are_null_and_all_missing_is_unavailable() {
        let dir = fake_proc_net("missing");
        std::fs::write(dir.join("udp"), UDP).expect("udp");
        let only_udp = SocketsCollector::with_root(&dir).read(Instant::now());
        assert_eq!((only_udp.tcp, only_udp.udp, only_udp.tcp_retransmits), (None, Some(2), None));
        let contract = only_udp.to_contract();
        assert!(contract.available);
        assert_eq!((contract.tcp_established, contract.tcp_retransmits_per_s), (None, None));

        let none = SocketsCollector::with_root(dir.join("nonexistent")).read(Instant::now());
        assert!(none.unavailable.as_deref().is_some_and(|r| r.contains("snmp")), "{none:?}");
        assert_eq!(none.age_ms, None);
        let contract = none.to_contract();
        assert!(!contract.available && contract.udp.is_none() && contract.tcp_listen.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `ss`'s counts: TCP sockets by state name (`ESTAB`, `LISTEN`, …) and UDP
    /// sockets, as `ss -Htan` and `ss -Huan` list them.
    fn ss() -> (HashMap<String, u64>, u64) {
        let run = |args: &[&str]| {
            let out = Command::new("ss").args(args).output();
            let Ok(out) = out else { panic!("ss (iproute2) is missing: scripts/setup.sh installs it") };
            assert!(out.status.success(), "ss {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let mut tcp = HashMap::new();
        for line in run(&["-Htan"]).lines() {
            if let Some(state) = line.split_whitespace().next() {
                *tcp.entry(state.to_owned()).or_insert(0) += 1;
            }
        }
        (tcp, run(&["-Huan"]).lines().count() as u64)
    }

    /// Ours by `ss`'s state names.
    fn by_ss_name(t: &TcpStates) -> [(&'static str, u64); 11] {
        [
            ("ESTAB", t.established),
            ("SYN-SENT", t.syn_sent),
            ("SYN-RECV", t.syn_recv),
            ("FIN-WAIT-1", t.fin_wait1),
            ("FIN-WAIT-2", t.fin_wait2),
            ("TIME-WAIT", t.time_wait),
            ("UNCONN", t.close),
            ("CLOSE-WAIT", t.close_wait),
            ("LAST-ACK", t.last_ack),
            ("LISTEN", t.listen),
            ("CLOSING", t.closing),
        ]
    }

    /// Sockets this test opens on loopback, each kind a known number of times.
    struct OwnSockets {
        _listeners: Vec<TcpListener>,
        _open: Vec<TcpStream>,
        _udp: Vec<UdpSocket>,
    }

    /// Listeners (one on IPv6 where the machine has it), established pairs, pairs
    /// whose client closed (the server's end in CLOSE-WAIT, the client's in
    /// FIN-WAIT-2), pairs closed client first (the client's end in TIME-WAIT),
    /// and bound UDP sockets.
    const LISTENERS: u64 = 3;
    const PAIRS: u64 = 4;
    const HALF_CLOSED: u64 = 2;
    const CLOSED: u64 = 2;
    const UDP_SOCKETS: u64 = 3;

    fn open_own_sockets() -> OwnSockets {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let main = TcpListener::bind(loopback).expect("a listener");
        let to = main.local_addr().expect("its address");
        let mut listeners = vec![TcpListener::bind(loopback).expect("a listener")];
        listeners.push(
            TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
                .or_else(|_| TcpListener::bind(loopback))
                .expect("a listener"),
        );
        let mut open = Vec::new();
        let pair = || {
            let client = TcpStream::connect(to).expect("connects");
            let (server, _) = main.accept().expect("accepts");
            (client, server)
        };
        for _ in 0..PAIRS {
            let (client, server) = pair();
            open.extend([client, server]);
        }
        for _ in 0..HALF_CLOSED {
            let (client, server) = pair();
            drop(client);
            open.push(server);
        }
        for _ in 0..CLOSED {
            let (client, server) = pair();
            drop(client);
            // Wait for the client's FIN to reach the server before it closes too,
            // so the client ends in TIME-WAIT (not both in CLOSING).
            let _ = server.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = std::io::Read::read(&mut &server, &mut [0u8; 1]);
            drop(server);
        }
        listeners.insert(0, main);
        let udp = (0..UDP_SOCKETS).map(|_| UdpSocket::bind(loopback).expect("a UDP socket")).collect();
        OwnSockets { _listeners: listeners, _open: open, _udp: udp }
    }

    #[test]
    fn loopback_sockets_move_the_counts_as_ss_sees_them() {
        let mut sockets = SocketsCollector::new();
        // Others open and close sockets too: a few tries for a quiet moment, and
        // 2 sockets of slack each way per state.
        const CHURN: i64 = 2;
        let mut failures = Vec::new();
        for _ in 0..3 {
            let t0 = Instant::now();
            // Read the tables now, whatever the cadence.
            let before = sockets.tables.read(t0);
            let own = open_own_sockets();
            // The last FINs cross loopback at once; give the states a moment.
            std::thread::sleep(Duration::from_millis(50));
            let t1 = Instant::now();
            let after = sockets.tables.read(t1);
            let (theirs, their_udp) = ss();
            drop(own);
            let (b, a) = (before.tcp.expect("tcp before"), after.tcp.expect("tcp after"));
            let delta = |f: fn(&TcpStates) -> u64| f(&a) as i64 - f(&b) as i64;
            let expected = [
                ("listen", delta(|s| s.listen), LISTENERS),
                ("established", delta(|s| s.established), 2 * PAIRS),
                ("close_wait", delta(|s| s.close_wait), HALF_CLOSED),
                ("fin_wait2", delta(|s| s.fin_wait2), HALF_CLOSED),
                ("time_wait", delta(|s| s.time_wait), CLOSED),
            ];
            let mut wrong: Vec<String> = expected
                .iter()
                .filter(|(_, moved, made)| (moved - *made as i64).abs() > CHURN)
                .map(|(state, moved, made)| format!("{state} moved {moved}, {made} made"))
                .collect();
            let udp_moved = after.udp.expect("udp") as i64 - before.udp.expect("udp") as i64;
            if (udp_moved - UDP_SOCKETS as i64).abs() > CHURN {
                wrong.push(format!("udp moved {udp_moved}, {UDP_SOCKETS} made"));
            }
            for (name, ours) in by_ss_name(&a) {
                let ss_count = theirs.get(name).copied().unwrap_or(0);
                if (ours as i64 - ss_count as i64).abs() > CHURN {
                    wrong.push(format!("{name}: ours {ours}, ss {ss_count}"));
                }
            }
            if (after.udp.expect("udp") as i64 - their_udp as i64).abs() > CHURN {
                wrong.push(format!("udp: ours {:?}, ss {their_udp}", after.udp));
            }
            eprintln!("ours {a:?} udp {:?}\nss {theirs:?} udp {their_udp}", after.udp);
            if wrong.is_empty() {
                assert!(after.tcp_retransmits_per_s.is_some_and(|r| r >= 0.0), "a rate from the second read");
                return;
            }
            failures.push(wrong);
        }
        panic!("the counts did not move as the sockets made, or disagree with ss: {failures:?}");
    }

    #[test]
    fn this_machines_tables_are_readable() {
        let reading = SocketsCollector::new().read(Instant::now());
        assert_eq!(reading.unavailable, None);
        assert!(
            reading.tcp.is_some() && reading.udp.is_some() && reading.tcp_retransmits.is_some(),
            "{reading:?}"
        );
        assert!(Path::new("/proc/net/tcp").exists());
    }
}
