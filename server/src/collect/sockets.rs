//! The machine's sockets: TCP connections by state (a netlink `sock_diag` dump,
//! as `ss` asks, or `/proc/net/tcp` and `tcp6`), UDP sockets (`/proc/net/udp`
//! and `udp6`) and TCP retransmits (`RetransSegs` of `/proc/net/snmp`), read at
//! most every [`SOCKETS_EVERY`]. Between reads the last reading is given again
//! with its age. The retransmit counter is read at the same cadence: its rate
//! over 5 s is as exact as over 1 s, and the tick stays one file lighter.
//!
//! TCP states come from netlink because the text tables make the kernel walk
//! every bucket of the established hash, which is sized by memory, not by
//! sockets: 3.5–4.2 ms a table on a 24 GiB machine with one socket open, 0.16 %
//! of a core at a read every 5 s, more than the whole server may take at rest.
//! The dump walks that hash too, but once for both families with the older
//! request (`TCPDIAG_GETSOCK`, the one that takes `AF_UNSPEC`; the newer
//! `inet_diag_req_v2` refuses it with `ENOENT`), and writes no text: 1.2 ms
//! against 7.0 ms for both tables, median of 20 on that machine (2.9 ms for a
//! newer dump per family, the way taken where the older request is refused).
//! Neither needs privilege. Where netlink is refused (a sandbox, a kernel
//! without `inet_diag`) or a dump fails, the text tables are read instead for
//! ten minutes, then a new netlink socket is tried; a debug log line says at
//! each switch which source the counts come from. The UDP tables (~100 µs) and `snmp` are cheap and stay text.
//!
//! The newer request and the answers are laid out by `netlink-packet-sock-diag`
//! (the rust-netlink crates), so only the older request's 60 bytes are written
//! here (the crate does not have it); the socket is `nix`'s, already a
//! dependency, which also sets the receive timeout that `netlink-sys`'s socket
//! would need a third crate for.
//!
//! The sockets are those of this process's network namespace (in a container,
//! the container's), as `ss` run beside the server would list them.
//!
//! # Layout
//! - [`SocketsCollector`]: `new()` for this machine, `with_root` over a fake
//!   `/proc/net` (text tables only); [`SocketsCollector::read`] at every tick.
//! - `SockDiag`: the kept netlink socket, one dump of both families at each
//!   read (`Dump`), or one per family.
//! - [`count_sock_diag`], [`count_tcp_states`], [`count_entries`],
//!   [`parse_retransmits`]: the pure parsers (the dump and the tables are
//!   streamed, never held whole).
//! - [`SocketsReading`]: the reading, and its `to_contract`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    DoneBuffer, Emitable, ErrorBuffer, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_ALIGNTO, NLMSG_DONE, NLMSG_ERROR,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, Parseable,
};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags};
use netlink_packet_sock_diag::{AF_INET, AF_INET6, IPPROTO_TCP, SOCK_DIAG_BY_FAMILY, SockDiagMessage};
use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, sockopt};
use nix::sys::time::TimeVal;
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
    /// TCP sockets by state; `None` when neither netlink nor a TCP table can be
    /// read.
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
    /// Where the TCP states come from.
    tcp: TcpSource,
    /// The rate of `RetransSegs`.
    retransmits: RateCounter,
    /// Whether `RetransSegs` was read before (the first read has no rate).
    retransmits_seen: bool,
    /// One table line, its buffer kept from read to read.
    line: String,
}

/// Opens a `NETLINK_SOCK_DIAG` socket: [`SockDiag::open`], or a test's.
type Opener = fn() -> nix::Result<OwnedFd>;

/// Where the TCP states come from.
#[derive(Debug)]
enum TcpSource {
    /// Netlink, not tried yet: the first read opens its socket with this
    /// (injectable, so tests can have it refused).
    Untried(Opener),
    /// Netlink, its socket kept open, and what opened it (for a new one after
    /// a failure).
    SockDiag(SockDiag, Opener),
    /// The text tables: `/proc/net` is a fake, or netlink was refused or
    /// failed — then netlink is tried again (a new socket) from `retry`.
    Tables {
        /// The opener and when to try it again; `None` over a fake `/proc/net`.
        retry: Option<(Opener, Instant)>,
    },
}

/// How long the text tables stand in after netlink was refused or failed,
/// before a new netlink socket is tried (a dump that failed halfway leaves its
/// socket unusable, and a refusal may have been a moment's).
const NETLINK_RETRY_EVERY: Duration = Duration::from_secs(600);

/// How much of a table is read at once.
const TABLE_BUFFER_BYTES: usize = 16 * 1024;

impl SocketsCollector {
    /// This machine's sockets. Reads nothing yet.
    pub fn new() -> Self {
        Self::with_sock_diag(SockDiag::open)
    }

    /// The sockets of another `/proc/net` (a fake one in tests), TCP states
    /// from its text tables: netlink would answer for this machine instead.
    pub fn with_root(proc_net: impl Into<PathBuf>) -> Self {
        SocketsCollector {
            tables: SocketTables {
                proc_net: proc_net.into(),
                tcp: TcpSource::Tables { retry: None },
                retransmits: RateCounter::default(),
                retransmits_seen: false,
                line: String::new(),
            },
            last: Kept::new(SOCKETS_EVERY),
        }
    }

    /// This machine's sockets, TCP states from a netlink socket that `open`
    /// opens at the first read (the text tables if it fails).
    fn with_sock_diag(open: Opener) -> Self {
        let mut sockets = Self::with_root("/proc/net");
        sockets.tables.tcp = TcpSource::Untried(open);
        sockets
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
        let tcp = self.sock_diag_states(now).or_else(|| self.table_states());
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

    /// The TCP states from netlink; `None` when it is not (or not now) the
    /// source, the text tables' turn. Each switch is logged once: to netlink
    /// at a socket's first dump, to the tables at a refusal or a failure (and
    /// back to netlink, with a new socket, [`NETLINK_RETRY_EVERY`] later).
    fn sock_diag_states(&mut self, now: Instant) -> Option<TcpStates> {
        if let TcpSource::Tables { retry: Some((open, at)) } = self.tcp
            && now >= at
        {
            self.tcp = TcpSource::Untried(open);
        }
        let first = matches!(self.tcp, TcpSource::Untried(_));
        if let TcpSource::Untried(open) = self.tcp {
            match open().map_err(std::io::Error::from).and_then(SockDiag::new) {
                Ok(diag) => self.tcp = TcpSource::SockDiag(diag, open),
                Err(err) => {
                    self.tcp = TcpSource::Tables { retry: Some((open, now + NETLINK_RETRY_EVERY)) };
                    tracing::debug!(
                        "sockets: TCP states from {}/tcp and tcp6 for now, netlink sock_diag refused: {err}",
                        self.proc_net.display()
                    );
                }
            }
        }
        let TcpSource::SockDiag(diag, open) = &mut self.tcp else { return None };
        let open = *open;
        match diag.count() {
            Ok(states) => {
                if first {
                    tracing::debug!("sockets: TCP states from netlink sock_diag");
                }
                Some(states)
            }
            Err(err) => {
                self.tcp = TcpSource::Tables { retry: Some((open, now + NETLINK_RETRY_EVERY)) };
                tracing::debug!(
                    "sockets: TCP states from {}/tcp and tcp6 for now, a netlink sock_diag dump failed: {err}",
                    self.proc_net.display()
                );
                None
            }
        }
    }

    /// The TCP states from the text tables; `None` when neither can be opened.
    fn table_states(&mut self) -> Option<TcpStates> {
        let mut tcp: Option<TcpStates> = None;
        for table in ["tcp", "tcp6"] {
            let Ok(file) = File::open(self.proc_net.join(table)) else { continue };
            let states = tcp.get_or_insert_with(TcpStates::default);
            // A table cut short by a read error still counts what it listed.
            let _ =
                count_tcp_states(BufReader::with_capacity(TABLE_BUFFER_BYTES, file), &mut self.line, states);
        }
        tcp
    }
}

/// A `NETLINK_SOCK_DIAG` socket, kept open from read to read.
#[derive(Debug)]
struct SockDiag {
    /// The socket; the kernel binds it at the first send.
    socket: OwnedFd,
    /// The last request's sequence number: an answer to another is skipped.
    sequence: u32,
    /// Whether the kernel takes [`Dump::BothFamilies`]; once it refuses it, a
    /// dump per family.
    one_walk: bool,
}

/// What one dump asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dump {
    /// IPv4 and IPv6 in one walk of the kernel's hash: the older request
    /// (`TCPDIAG_GETSOCK` with a `struct inet_diag_req`), the one that takes
    /// `AF_UNSPEC`. The walk is the cost (the established hash is sized by
    /// memory: 262,144 buckets on a 24 GiB machine), so one walk costs half of
    /// two. The request is still answered by every kernel (`ss` sent it for
    /// years; `inet_diag_rcv_msg_compat`); where it is refused, [`Dump::Family`].
    BothFamilies,
    /// One family (`SOCK_DIAG_BY_FAMILY` with an `inet_diag_req_v2`, which
    /// refuses `AF_UNSPEC`).
    Family(u8),
}

/// The older request's message type (`TCPDIAG_GETSOCK`, linux/inet_diag.h),
/// which its answers carry too.
const TCPDIAG_GETSOCK: u16 = 18;

/// The states a dump asks for: those the text tables list, 1 (`ESTABLISHED`)
/// to 11 (`CLOSING`), and 12 (`NEW_SYN_RECV`, a listener's pending
/// connections, answered as 3 `SYN_RECV`, as the tables print them; the kernel
/// adds 12 to a mask with 3, named here all the same). Not 13
/// (`BOUND_INACTIVE`, Linux 6.7: bound, never listening nor connected), which
/// neither the tables nor `ss -a` list.
const DUMPED_STATES: u32 = 0x1ffe;

/// How long a dump may wait for the kernel's next datagram: the slow-sources
/// thread must never hang on a kernel that stops answering.
const DUMP_TIMEOUT: Duration = Duration::from_secs(1);

/// The receive buffer: the kernel fills a dump's datagrams up to the largest
/// buffer a read offered, at most 32 KiB, so none is ever cut short.
const DUMP_BUFFER_BYTES: usize = 32 * 1024;

impl SockDiag {
    /// Opens a `NETLINK_SOCK_DIAG` socket (the default opener).
    fn open() -> nix::Result<OwnedFd> {
        socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )
    }

    /// Keeps `socket`, with [`DUMP_TIMEOUT`] on its reads.
    fn new(socket: OwnedFd) -> std::io::Result<Self> {
        let timeout = TimeVal::new(DUMP_TIMEOUT.as_secs().try_into().unwrap_or(1), 0);
        socket::setsockopt(&socket, sockopt::ReceiveTimeout, &timeout)?;
        Ok(SockDiag { socket, sequence: 0, one_walk: true })
    }

    /// The TCP sockets by state, IPv4 and IPv6: one dump of both, or where the
    /// kernel refuses that request, a dump each. Blocking.
    fn count(&mut self) -> std::io::Result<TcpStates> {
        let mut buffer = vec![0; DUMP_BUFFER_BYTES];
        if self.one_walk {
            let mut states = TcpStates::default();
            match self.dump(Dump::BothFamilies, &mut buffer, &mut states) {
                Ok(()) => return Ok(states),
                // The kernel answered the request with an error: it ended the
                // dump (or never began it), and the other request may do.
                Err(err) if err.raw_os_error().is_some() => {
                    self.one_walk = false;
                    tracing::debug!(
                        "sockets: a dump per family from now on, the one-walk request refused: {err}"
                    );
                }
                // No answer, or one cut short: a dump may still be running on
                // this socket, which would refuse another (EBUSY).
                Err(err) => return Err(err),
            }
        }
        let mut states = TcpStates::default();
        self.dump(Dump::Family(AF_INET), &mut buffer, &mut states)?;
        match self.dump(Dump::Family(AF_INET6), &mut buffer, &mut states) {
            // A kernel without IPv6 has no handler for its family: no IPv6
            // sockets, as a missing `tcp6` table says.
            Err(err) if err.raw_os_error() == Some(Errno::ENOENT as i32) => Ok(states),
            other => other.map(|()| states),
        }
    }

    /// Counts the TCP sockets `dump` asks for into `states`, reading into `buffer`.
    fn dump(&mut self, dump: Dump, buffer: &mut [u8], states: &mut TcpStates) -> std::io::Result<()> {
        self.sequence = self.sequence.wrapping_add(1);
        let request = match dump {
            Dump::BothFamilies => both_families_request(self.sequence),
            Dump::Family(family) => family_request(family, self.sequence),
        };
        self.send(&request)?;
        loop {
            let length = self.receive(buffer)?;
            let datagram = buffer.get(..length).ok_or_else(|| {
                invalid(format!("a dump datagram of {length} bytes, over the {} read", buffer.len()))
            })?;
            if count_sock_diag(datagram, self.sequence, states)?.is_break() {
                return Ok(());
            }
        }
    }

    /// Sends a request whole.
    fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        loop {
            match socket::send(self.socket.as_raw_fd(), bytes, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(err) => return Err(err.into()),
                Ok(sent) if sent == bytes.len() => return Ok(()),
                Ok(sent) => {
                    return Err(invalid(format!("{sent} of the request's {} bytes sent", bytes.len())));
                }
            }
        }
    }

    /// The next datagram into `buffer`; its whole length (`MSG_TRUNC`), which
    /// is over the buffer's if it was cut short.
    fn receive(&self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            match socket::recv(self.socket.as_raw_fd(), buffer, MsgFlags::MSG_TRUNC) {
                // SO_RCVTIMEO calls are not restarted after a signal handler.
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("no dump datagram within {DUMP_TIMEOUT:?}"),
                    ));
                }
                result => return Ok(result?),
            }
        }
    }
}

/// A dump of `family`'s TCP sockets in [`DUMPED_STATES`], request `sequence`.
fn family_request(family: u8, sequence: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = sequence;
    let socket_id = if family == AF_INET6 { SocketId::new_v6() } else { SocketId::new_v4() };
    let request = SockDiagMessage::InetRequest(InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ExtensionFlags::empty(),
        states: StateFlags::from_bits_retain(DUMPED_STATES),
        socket_id,
    });
    let mut message = NetlinkMessage::new(header, request.into());
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    bytes
}

/// A dump of IPv4's and IPv6's TCP sockets in [`DUMPED_STATES`] in one walk,
/// request `sequence`: the older `struct inet_diag_req`, which the crate does
/// not lay out (it has only the newer one), so its 60 bytes are written here —
/// family (`AF_UNSPEC`, 0: both), source and destination prefix lengths and
/// extensions (0), the socket id (48 bytes; zero ports and addresses match
/// any socket), the states, and `dbs` (0).
fn both_families_request(sequence: u32) -> Vec<u8> {
    const BODY_BYTES: usize = 4 + 48 + 4 + 4;
    let mut header = NetlinkHeader::default();
    let header_bytes = header.buffer_len();
    header.length = u32::try_from(header_bytes + BODY_BYTES).unwrap_or(u32::MAX);
    header.message_type = TCPDIAG_GETSOCK;
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = sequence;
    let mut bytes = vec![0; header_bytes + BODY_BYTES];
    header.emit(&mut bytes[..header_bytes]);
    let states = header_bytes + 4 + 48;
    bytes[states..states + 4].copy_from_slice(&DUMPED_STATES.to_ne_bytes());
    bytes
}

/// An answer that does not decode.
fn invalid(why: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, why.into())
}

/// Counts the sockets of one datagram of a `SOCK_DIAG_BY_FAMILY` dump into
/// `states` (the state byte of each `inet_diag_msg`), skipping messages not of
/// request `sequence`. `Break` at `NLMSG_DONE`, the dump's end; an
/// `NLMSG_ERROR`, a `NLMSG_DONE` with an error, or a message that does not
/// decode is an error (what was counted before it is then no count: the caller
/// drops `states`).
pub fn count_sock_diag(
    mut datagram: &[u8],
    sequence: u32,
    states: &mut TcpStates,
) -> std::io::Result<ControlFlow<()>> {
    let decode = |err: netlink_packet_core::DecodeError| invalid(err.to_string());
    while !datagram.is_empty() {
        let message = NetlinkBuffer::new_checked(datagram).map_err(decode)?;
        let length = message.length() as usize;
        if message.sequence_number() == sequence {
            match message.message_type() {
                NLMSG_DONE => {
                    // Its payload is the dump's status, an errno when negative.
                    let code = DoneBuffer::new_checked(message.payload()).map_or(0, |done| done.code());
                    return match code {
                        0 => Ok(ControlFlow::Break(())),
                        code => Err(std::io::Error::from_raw_os_error(code.saturating_abs())),
                    };
                }
                NLMSG_ERROR => {
                    let error = ErrorBuffer::new_checked(message.payload()).map_err(decode)?;
                    return match error.code() {
                        // An acknowledgement, which a dump never asks for: its end all the same.
                        None => Ok(ControlFlow::Break(())),
                        Some(code) => Err(std::io::Error::from_raw_os_error(code.get().saturating_abs())),
                    };
                }
                // Each request's answers carry its type.
                SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
                    let socket = InetResponseHeader::parse(message.payload()).map_err(decode)?;
                    states.count(socket.state);
                }
                // NLMSG_NOOP and the like carry no socket.
                _ => {}
            }
        }
        let aligned = length.next_multiple_of(usize::from(NLMSG_ALIGNTO));
        datagram = datagram.get(aligned..).unwrap_or_default();
    }
    Ok(ControlFlow::Continue(()))
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
        let _alone = LOOPBACK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let mut sockets = SocketsCollector::new();
        let reading = sockets.read(Instant::now());
        assert_eq!(reading.unavailable, None);
        assert!(
            reading.tcp.is_some() && reading.udp.is_some() && reading.tcp_retransmits.is_some(),
            "{reading:?}"
        );
        assert!(Path::new("/proc/net/tcp").exists());
        assert!(
            matches!(&sockets.tables.tcp, TcpSource::SockDiag(diag, _) if diag.one_walk),
            "TCP states from netlink here, both families in one walk"
        );
    }

    #[test]
    fn one_walk_counts_what_a_dump_per_family_counts() {
        let _alone = LOOPBACK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut diag =
            SockDiag::new(SockDiag::open().expect("a NETLINK_SOCK_DIAG socket")).expect("its timeout");
        let own = open_own_sockets();
        let v6 = open_v6_pairs();
        std::thread::sleep(Duration::from_millis(50));
        let mut buffer = vec![0; DUMP_BUFFER_BYTES];
        let mut differences = Vec::new();
        // Other processes' sockets move between dumps: a few tries for a quiet moment.
        for _ in 0..5 {
            let mut both = TcpStates::default();
            diag.dump(Dump::BothFamilies, &mut buffer, &mut both).expect("the one-walk dump");
            let mut each = TcpStates::default();
            diag.dump(Dump::Family(AF_INET), &mut buffer, &mut each).expect("IPv4");
            diag.dump(Dump::Family(AF_INET6), &mut buffer, &mut each).expect("IPv6");
            if both == each {
                assert!(both.listen >= 2 && both.established >= 2 * PAIRS + v6.len() as u64, "{both:?}");
                assert!(both.time_wait >= CLOSED && both.close_wait >= HALF_CLOSED, "{both:?}");
                drop((own, v6));
                return;
            }
            differences.push(format!("one walk {both:?}, per family {each:?}"));
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the two requests disagree: {differences:#?}");
    }

    #[test]
    fn the_one_walk_request_is_the_older_layout_with_both_families() {
        let bytes = both_families_request(9);
        assert_eq!(bytes.len(), 16 + 60, "struct nlmsghdr, then struct inet_diag_req");
        let header = NetlinkBuffer::new_checked(&bytes[..]).expect("a header");
        assert_eq!(header.length() as usize, bytes.len());
        assert_eq!((header.message_type(), header.sequence_number()), (TCPDIAG_GETSOCK, 9));
        assert_eq!(header.flags(), NLM_F_REQUEST | NLM_F_DUMP);
        assert_eq!(bytes[16], 0, "AF_UNSPEC: both families");
        assert!(bytes[17..16 + 52].iter().all(|b| *b == 0), "no prefix, no extension, any socket id");
        assert_eq!(bytes[16 + 52..16 + 56], DUMPED_STATES.to_ne_bytes());
        assert_eq!(bytes[16 + 56..], [0; 4]);
        // Its answers are counted as the newer request's are.
        let mut states = TcpStates::default();
        let mut answer = emit(9, &[Message::Socket { family: AF_INET6, state: 10 }, Message::Done(0)]);
        answer[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
        assert_eq!(count_sock_diag(&answer, 9, &mut states).expect("decodes"), ControlFlow::Break(()));
        assert_eq!(states.listen, 1);
    }

    /// The tests that open loopback sockets and count them, one at a time: each
    /// would see the other's sockets come and go.
    static LOOPBACK: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Established pairs on `::1` (none where the machine has no IPv6), with
    /// their listener.
    const V6_PAIRS: usize = 2;

    fn open_v6_pairs() -> Vec<TcpStream> {
        let Ok(listener) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0))) else {
            eprintln!("no ::1 here: IPv6 pairs skipped");
            return Vec::new();
        };
        let to = listener.local_addr().expect("its address");
        let mut open = Vec::new();
        for _ in 0..V6_PAIRS {
            open.push(TcpStream::connect(to).expect("connects on ::1"));
            open.push(listener.accept().expect("accepts on ::1").0);
        }
        // The listener closes; its accepted sockets stay established.
        open
    }

    /// A client in `SYN_SENT`: its SYN is dropped by a listener whose accept
    /// queue (backlog 0) is already full.
    fn open_syn_sent() -> (socket2::Socket, TcpStream, socket2::Socket) {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).expect("binds");
        listener.listen(0).expect("listens");
        let to = listener.local_addr().expect("its address").as_socket().expect("an inet address");
        let queued = TcpStream::connect(to).expect("the first connection fills the queue");
        let client = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        client.set_nonblocking(true).expect("non-blocking");
        let _in_progress = client.connect(&to.into());
        (listener, queued, client)
    }

    /// The TCP states of one family, from netlink and from its text table.
    fn both_sources(diag: &mut SockDiag, family: u8) -> (TcpStates, TcpStates) {
        let mut buffer = vec![0; DUMP_BUFFER_BYTES];
        let mut from_netlink = TcpStates::default();
        diag.dump(Dump::Family(family), &mut buffer, &mut from_netlink).expect("a sock_diag dump");
        let table = if family == AF_INET6 { "/proc/net/tcp6" } else { "/proc/net/tcp" };
        let mut from_table = TcpStates::default();
        let file = File::open(table).expect("the text table");
        count_tcp_states(BufReader::new(file), &mut String::new(), &mut from_table).expect("reads");
        (from_netlink, from_table)
    }

    #[test]
    fn netlink_counts_equal_the_text_tables_family_by_family() {
        let _alone = LOOPBACK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = SockDiag::open().expect("a NETLINK_SOCK_DIAG socket (refused in this sandbox?)");
        let mut diag = SockDiag::new(open).expect("its timeout");
        let own = open_own_sockets();
        let v6 = open_v6_pairs();
        let syn_sent = open_syn_sent();
        // The last FINs cross loopback at once; give the states a moment.
        std::thread::sleep(Duration::from_millis(50));
        // Other processes open and close sockets between the two reads: a few
        // tries for a moment when nothing moved.
        let mut differences = Vec::new();
        for _ in 0..5 {
            let (v4_netlink, v4_table) = both_sources(&mut diag, AF_INET);
            let (v6_netlink, v6_table) = both_sources(&mut diag, AF_INET6);
            if v4_netlink == v4_table && v6_netlink == v6_table {
                eprintln!("IPv4 {v4_netlink:?}\nIPv6 {v6_netlink:?}");
                // Our own sockets are among them (the states are not all zero).
                assert!(v4_netlink.listen >= 2 && v4_netlink.established >= 2 * PAIRS, "{v4_netlink:?}");
                assert!(v4_netlink.close_wait >= HALF_CLOSED && v4_netlink.fin_wait2 >= HALF_CLOSED);
                assert!(v4_netlink.time_wait >= CLOSED, "TIME_WAIT sockets are in the dump");
                if !v6.is_empty() {
                    assert!(v6_netlink.established >= v6.len() as u64, "{v6_netlink:?}");
                }
                assert!(v4_netlink.syn_sent >= 1, "the client whose SYN was dropped");
                drop((own, v6, syn_sent));
                return;
            }
            differences.push(format!(
                "IPv4 netlink {v4_netlink:?} table {v4_table:?}; IPv6 netlink {v6_netlink:?} table {v6_table:?}"
            ));
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("netlink and the text tables disagree: {differences:#?}");
    }

    /// One netlink message of `sequence`: an `inet_diag_msg` of `family` in
    /// `state`, or a `NLMSG_DONE` or `NLMSG_ERROR` with `code`.
    enum Message {
        Socket { family: u8, state: u8 },
        Done(i32),
        Error(i32),
    }

    fn emit(sequence: u32, messages: &[Message]) -> Vec<u8> {
        use netlink_packet_core::{DoneMessage, ErrorMessage, NetlinkPayload};
        use netlink_packet_sock_diag::inet::InetResponse;
        let mut datagram = Vec::new();
        for message in messages {
            let payload = match *message {
                Message::Socket { family, state } => {
                    let socket_id = if family == AF_INET6 { SocketId::new_v6() } else { SocketId::new_v4() };
                    let header = InetResponseHeader {
                        family,
                        state,
                        timer: None,
                        socket_id,
                        recv_queue: 0,
                        send_queue: 0,
                        uid: 1000,
                        inode: 4242,
                    };
                    let response = InetResponse { header, nlas: Default::default() };
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(Box::new(response)))
                }
                Message::Done(code) => {
                    let mut done = DoneMessage::default();
                    done.code = code;
                    NetlinkPayload::Done(done)
                }
                Message::Error(code) => {
                    let mut error = ErrorMessage::default();
                    error.code = std::num::NonZeroI32::new(code);
                    NetlinkPayload::Error(error)
                }
            };
            let mut header = NetlinkHeader::default();
            header.sequence_number = sequence;
            header.flags = netlink_packet_core::NLM_F_MULTIPART;
            let mut message = NetlinkMessage::new(header, payload);
            message.finalize();
            let start = datagram.len();
            datagram.resize(start + message.buffer_len(), 0);
            message.serialize(&mut datagram[start..]);
        }
        datagram
    }

    #[test]
    fn a_dump_is_counted_by_the_state_byte_until_done() {
        let socket = |family, state| Message::Socket { family, state };
        let mut states = TcpStates::default();
        let part =
            emit(7, &[socket(AF_INET, 1), socket(AF_INET, 12), socket(AF_INET6, 10), socket(AF_INET6, 6)]);
        assert_eq!(count_sock_diag(&part, 7, &mut states).expect("decodes"), ControlFlow::Continue(()));
        let mut other = emit(6, &[socket(AF_INET, 1), Message::Done(0)]);
        other.extend(emit(7, &[socket(AF_INET, 8), socket(AF_INET, 99), Message::Done(0)]));
        other.extend(emit(7, &[socket(AF_INET, 1)]));
        assert_eq!(count_sock_diag(&other, 7, &mut states).expect("decodes"), ControlFlow::Break(()));
        assert_eq!(
            states,
            TcpStates {
                established: 1,
                syn_recv: 1,
                listen: 1,
                time_wait: 1,
                close_wait: 1,
                ..TcpStates::default()
            },
            "another request's answer skipped, nothing counted after NLMSG_DONE, an unknown state ignored"
        );
        assert_eq!(count_sock_diag(&[], 7, &mut states).expect("empty"), ControlFlow::Continue(()));
    }

    #[test]
    fn a_dump_that_fails_or_does_not_decode_is_an_error() {
        let mut states = TcpStates::default();
        let errno = |datagram: &[u8]| {
            count_sock_diag(datagram, 1, &mut TcpStates::default()).expect_err("an error").raw_os_error()
        };
        assert_eq!(errno(&emit(1, &[Message::Error(-(Errno::EINVAL as i32))])), Some(Errno::EINVAL as i32));
        assert_eq!(errno(&emit(1, &[Message::Done(-(Errno::EINTR as i32))])), Some(Errno::EINTR as i32));
        let acknowledged = emit(1, &[Message::Error(0)]);
        assert_eq!(count_sock_diag(&acknowledged, 1, &mut states).expect("an ack"), ControlFlow::Break(()));

        let whole = emit(1, &[Message::Socket { family: AF_INET, state: 1 }, Message::Done(0)]);
        for cut in [5, 40, whole.len() - 3] {
            let err = count_sock_diag(&whole[..cut], 1, &mut states).expect_err("cut short");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "cut at {cut}: {err}");
        }
        // A socket message too short for an inet_diag_msg.
        let mut short = emit(1, &[Message::Done(0)]);
        short[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        let err = count_sock_diag(&short, 1, &mut states).expect_err("too short");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    }

    #[test]
    fn the_text_tables_count_when_netlink_is_refused() {
        let _listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a listener");
        let mut refused = SocketsCollector::with_sock_diag(|| Err(Errno::EACCES));
        let reading = refused.read(Instant::now());
        assert!(matches!(refused.tables.tcp, TcpSource::Tables { .. }));
        assert!(reading.unavailable.is_none(), "{reading:?}");
        assert!(reading.tcp.is_some_and(|t| t.listen >= 1), "at least this test's listener: {reading:?}");

        // A socket that is no netlink socket: the request cannot be sent.
        let mut not_netlink = SocketsCollector::with_sock_diag(|| {
            UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map(OwnedFd::from).map_err(|_| Errno::EADDRNOTAVAIL)
        });
        assert!(not_netlink.read(Instant::now()).tcp.is_some());
        assert!(matches!(not_netlink.tables.tcp, TcpSource::Tables { .. }));
    }

    #[test]
    fn netlink_is_tried_again_a_while_after_a_refusal() {
        static REFUSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
        let mut sockets = SocketsCollector::with_sock_diag(|| {
            if REFUSE.load(std::sync::atomic::Ordering::SeqCst) {
                Err(Errno::EACCES)
            } else {
                SockDiag::open()
            }
        });
        let t0 = Instant::now();
        assert!(sockets.tables.read(t0).tcp.is_some(), "the text tables stand in");
        assert!(matches!(sockets.tables.tcp, TcpSource::Tables { retry: Some(_) }));
        REFUSE.store(false, std::sync::atomic::Ordering::SeqCst);
        sockets.tables.read(t0 + Duration::from_secs(5));
        assert!(matches!(sockets.tables.tcp, TcpSource::Tables { .. }), "not before its time");
        assert!(sockets.tables.read(t0 + NETLINK_RETRY_EVERY).tcp.is_some());
        assert!(matches!(sockets.tables.tcp, TcpSource::SockDiag(..)), "a new socket, and netlink again");
        let mut fake = SocketsCollector::with_root("/proc/net");
        fake.tables.read(t0 + NETLINK_RETRY_EVERY * 2);
        assert!(matches!(fake.tables.tcp, TcpSource::Tables { retry: None }), "a fake /proc/net never is");
    }

    #[test]
    fn a_kernel_that_never_answers_times_out_to_the_text_tables() {
        // Requests go to a UDP socket kept open and never read: no answer comes.
        static SILENT: std::sync::OnceLock<UdpSocket> = std::sync::OnceLock::new();
        let mut silent = SocketsCollector::with_sock_diag(|| {
            let sink = SILENT.get_or_init(|| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("a sink"));
            let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("a socket");
            socket.connect(sink.local_addr().expect("its address")).expect("connects");
            Ok(OwnedFd::from(socket))
        });
        let started = Instant::now();
        let reading = silent.read(started);
        let waited = started.elapsed();
        assert!(
            reading.tcp.is_some() && matches!(silent.tables.tcp, TcpSource::Tables { .. }),
            "{reading:?}"
        );
        assert!(waited >= DUMP_TIMEOUT && waited < DUMP_TIMEOUT * 3, "waited {waited:?}");
    }

    /// Not a check: the cost of each source on this machine, for the record
    /// (`cargo test -p server --lib sockets::tests::cost -- --ignored --nocapture`).
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost_of_the_text_tables_and_of_netlink() {
        fn median(mut read: impl FnMut()) -> Duration {
            let mut times: Vec<Duration> = (0..20)
                .map(|_| {
                    let start = Instant::now();
                    read();
                    start.elapsed()
                })
                .collect();
            times.sort();
            times[times.len() / 2]
        }
        let mut tables = SocketsCollector::with_root("/proc/net");
        let text = median(|| {
            std::hint::black_box(tables.tables.table_states());
        });
        let mut diag = SockDiag::new(SockDiag::open().expect("netlink")).expect("its timeout");
        let netlink = median(|| {
            std::hint::black_box(diag.count().expect("a dump"));
        });
        diag.one_walk = false;
        let per_family = median(|| {
            std::hint::black_box(diag.count().expect("a dump per family"));
        });
        let mut line = String::new();
        let udp = median(|| {
            for table in ["/proc/net/udp", "/proc/net/udp6"] {
                let file = File::open(table).expect("udp table");
                count_entries(BufReader::new(file), &mut line);
            }
        });
        eprintln!(
            "median of 20: tcp+tcp6 text {text:?}, sock_diag one walk {netlink:?}, a dump per family \
             {per_family:?}, udp+udp6 text {udp:?}"
        );
    }
}
