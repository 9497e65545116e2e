//! Each network interface's traffic, errors and drops (`/proc/net/dev`), and the
//! machine's sockets: TCP connections by state, UDP sockets, TCP retransmits
//! (`/proc/net/tcp`, `tcp6`, `udp`, `udp6`, `snmp`).
//!
//! # Layout
//! - [`Interfaces`]: every interface but loopback, each an [`Interface`]; read
//!   every tick.
//! - [`Sockets`]: socket counts, read at most every 5 s (the tables grow with the
//!   connections: large on a busy server), with the reading's age.

use serde::{Deserialize, Serialize};

/// The most interfaces an [`Interfaces`] section lists: the busiest since they
/// came up (bytes received and sent), listed by name. The machine's totals
/// count every interface.
pub const MAX_INTERFACES: usize = 32;

/// Every network interface but loopback (the machine talking to itself,
/// PerfMon's own sockets included), up or down.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Interfaces {
    /// Whether `/proc/net/dev` could be read.
    pub available: bool,
    /// Why not, in plain words, when `available` is false.
    pub reason: Option<String>,
    /// At most [`MAX_INTERFACES`] interfaces, by name.
    pub interfaces: Vec<Interface>,
}

/// One interface over the interval since the previous sample. Every rate is
/// `null` on the interface's first sample (nothing to compare with yet).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Interface {
    /// The kernel's name for it (`eth0`, `enp3s0`, `wlan0`, `docker0`).
    pub name: String,
    /// Bytes received per second.
    pub rx_bytes_per_s: Option<f64>,
    /// Bytes sent per second.
    pub tx_bytes_per_s: Option<f64>,
    /// Packets received per second.
    pub rx_packets_per_s: Option<f64>,
    /// Packets sent per second.
    pub tx_packets_per_s: Option<f64>,
    /// Receive errors per second (bad frames, CRC, overruns: `/proc/net/dev`'s
    /// `errs`).
    pub rx_errors_per_s: Option<f64>,
    /// Send errors per second.
    pub tx_errors_per_s: Option<f64>,
    /// Received packets dropped per second (no buffer, unknown protocol, missed
    /// by the NIC: `/proc/net/dev`'s `drop`).
    pub rx_drops_per_s: Option<f64>,
    /// Packets to send dropped per second.
    pub tx_drops_per_s: Option<f64>,
}

/// The sockets of the machine's network namespace (the server's own, which in a
/// container is the container's), read at most every 5 s. TCP counts are over
/// IPv4 and IPv6 together, as `ss -tan` lists them; each is `null` when the TCP
/// tables cannot be read.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Sockets {
    /// Whether any of the socket tables could be read.
    pub available: bool,
    /// Why not, in plain words, when `available` is false.
    pub reason: Option<String>,
    /// How old the figures are at this sample, in ms (they are read at most
    /// every 5 s); `null` when nothing was read.
    pub age_ms: Option<u64>,
    /// Connections open both ways (`ESTAB`).
    pub tcp_established: Option<u64>,
    /// Connections this machine is opening, waiting for the peer's answer
    /// (`SYN-SENT`).
    pub tcp_syn_sent: Option<u64>,
    /// Connections a peer is opening, answered and waiting for its ack
    /// (`SYN-RECV`).
    pub tcp_syn_recv: Option<u64>,
    /// Connections this side closed, waiting for the peer to ack
    /// (`FIN-WAIT-1`).
    pub tcp_fin_wait1: Option<u64>,
    /// Connections this side closed, waiting for the peer to close
    /// (`FIN-WAIT-2`).
    pub tcp_fin_wait2: Option<u64>,
    /// Connections closed by this side first, kept for late packets
    /// (`TIME-WAIT`, about a minute each).
    pub tcp_time_wait: Option<u64>,
    /// Sockets closed and not yet freed (`CLOSE`).
    pub tcp_close: Option<u64>,
    /// Connections the peer closed and this machine's program has not
    /// (`CLOSE-WAIT`: many of them usually mean a program leaks sockets).
    pub tcp_close_wait: Option<u64>,
    /// Connections closed by the peer, then here, waiting for the last ack
    /// (`LAST-ACK`).
    pub tcp_last_ack: Option<u64>,
    /// Sockets waiting for connections (`LISTEN`).
    pub tcp_listen: Option<u64>,
    /// Connections both sides closed at once (`CLOSING`).
    pub tcp_closing: Option<u64>,
    /// UDP sockets, IPv4 and IPv6 (`ss -uan` lists them).
    pub udp: Option<u64>,
    /// TCP segments sent again per second (`RetransSegs` of `/proc/net/snmp`)
    /// over the 5 s between readings; `null` on the first reading.
    pub tcp_retransmits_per_s: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_round_trip_with_their_field_names() {
        let interfaces = Interfaces {
            available: true,
            reason: None,
            interfaces: vec![Interface {
                name: "eth0".into(),
                rx_bytes_per_s: Some(1500.0),
                tx_bytes_per_s: Some(300.0),
                rx_packets_per_s: Some(2.5),
                tx_packets_per_s: Some(1.0),
                rx_errors_per_s: Some(0.0),
                tx_errors_per_s: Some(0.0),
                rx_drops_per_s: Some(0.2),
                tx_drops_per_s: None,
            }],
        };
        let json = serde_json::to_value(&interfaces).expect("serialises");
        assert_eq!(json["interfaces"][0]["name"], "eth0");
        assert_eq!(json["interfaces"][0]["rx_packets_per_s"], 2.5);
        assert_eq!(json["interfaces"][0]["rx_drops_per_s"], 0.2);
        assert_eq!(json["interfaces"][0]["tx_drops_per_s"], serde_json::Value::Null);
        let back: Interfaces = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, interfaces);
    }

    #[test]
    fn sockets_round_trip_with_their_field_names() {
        let sockets = Sockets {
            available: true,
            age_ms: Some(4000),
            tcp_established: Some(12),
            tcp_time_wait: Some(3),
            tcp_close_wait: Some(0),
            tcp_listen: Some(5),
            udp: Some(2),
            tcp_retransmits_per_s: Some(0.4),
            ..Sockets::default()
        };
        let json = serde_json::to_value(&sockets).expect("serialises");
        for (field, value) in [("tcp_established", 12), ("tcp_time_wait", 3), ("tcp_listen", 5), ("udp", 2)] {
            assert_eq!(json[field], value, "{field}");
        }
        assert_eq!(json["tcp_retransmits_per_s"], 0.4);
        assert_eq!(json["tcp_syn_sent"], serde_json::Value::Null);
        let back: Sockets = serde_json::from_value(json).expect("deserialises");
        assert_eq!(back, sockets);
    }

    #[test]
    fn older_and_partial_payloads_decode() {
        let i: Interfaces = serde_json::from_str(r#"{"interfaces":[{"name":"eth0"}]}"#).expect("partial");
        assert_eq!(i.interfaces[0].rx_bytes_per_s, None);
        let s: Sockets = serde_json::from_str("{}").expect("empty");
        assert_eq!(s, Sockets::default());
    }
}
