//! The kernel's announcements of devices that come, go or change (uevents),
//! heard without blocking: they tell a collector that keeps a list of devices
//! when to list them again, instead of listing `/sys` every few seconds.
//!
//! The kernel sends each device's `add`, `remove` and `change` to group 1 of
//! the `NETLINK_KOBJECT_UEVENT` socket family (what udev listens to; no
//! privilege is needed). A network namespace other than the first hears
//! nothing (a container's), and a full socket buffer drops datagrams, so
//! callers still list their devices again now and then.
//!
//! # Layout
//! - [`Uevents`]: the socket; [`Uevents::heard`] drains it.
//! - [`announces`]: whether a datagram is about a subsystem.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

/// The kernel's multicast group of uevents (udev's own is 2).
const KERNEL_GROUP: u32 = 1;

/// A uevent is at most a few KiB (the kernel's `UEVENT_BUFFER_SIZE` is 2 KiB
/// of variables after the header line).
const DATAGRAM_BYTES: usize = 8 * 1024;

/// A socket that hears the kernel's uevents.
#[derive(Debug)]
pub struct Uevents {
    /// Non-blocking, bound to the kernel's group.
    socket: OwnedFd,
    /// One datagram at a time.
    buffer: Vec<u8>,
}

impl Uevents {
    /// Starts listening. Blocking (two system calls).
    pub fn listen() -> nix::Result<Self> {
        let socket = socket::socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkKObjectUEvent,
        )?;
        socket::bind(socket.as_raw_fd(), &NetlinkAddr::new(0, KERNEL_GROUP))?;
        Ok(Uevents { socket, buffer: vec![0; DATAGRAM_BYTES] })
    }

    /// Whether a uevent of `subsystem` (`block`) arrived since the last call,
    /// or one may have been lost (the socket's buffer overflowed, or a datagram
    /// was cut short). Reads every datagram waiting; never waits for one. An
    /// error is the socket's failure: it will hear nothing more.
    pub fn heard(&mut self, subsystem: &str) -> std::io::Result<bool> {
        let mut heard = false;
        loop {
            match socket::recv(self.socket.as_raw_fd(), &mut self.buffer, MsgFlags::MSG_TRUNC) {
                Ok(length) if length > self.buffer.len() => heard = true,
                Ok(length) => heard |= announces(&self.buffer[..length], subsystem),
                Err(Errno::EAGAIN) => return Ok(heard),
                Err(Errno::EINTR) => continue,
                // Datagrams were dropped: any of them could have been one.
                Err(Errno::ENOBUFS) => heard = true,
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// Whether a uevent datagram (`ACTION@DEVPATH`, then `KEY=VALUE` fields, each
/// ended by a NUL) is about a device of `subsystem`.
pub fn announces(datagram: &[u8], subsystem: &str) -> bool {
    datagram
        .split(|byte| *byte == 0)
        .skip(1)
        .any(|field| field.strip_prefix(b"SUBSYSTEM=") == Some(subsystem.as_bytes()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_datagram_is_about_the_subsystem_its_field_names() {
        let loop_change = b"change@/devices/virtual/block/loop3\0ACTION=change\0DEVPATH=/devices/virtual/block/loop3\0SUBSYSTEM=block\0MAJOR=7\0MINOR=3\0DEVNAME=loop3\0DEVTYPE=disk\0SEQNUM=4242\0";
        assert!(announces(loop_change, "block"));
        assert!(!announces(loop_change, "net"));
        let battery = b"change@/devices/LNXSYSTM:00/PNP0C0A:00/power_supply/BAT0\0ACTION=change\0SUBSYSTEM=power_supply\0POWER_SUPPLY_NAME=BAT0\0";
        assert!(!announces(battery, "block"), "another subsystem");
        // The header line is a path, not a field, whatever it holds.
        assert!(!announces(b"add@SUBSYSTEM=block\0ACTION=add\0SUBSYSTEM=usb\0", "block"));
        assert!(!announces(b"add@/x\0SUBSYSTEM=blocks\0", "block"), "the whole value");
        assert!(!announces(b"", "block"));
    }

    /// Attaches a file to a free loop device (`losetup`, root), runs `between`
    /// and detaches it: the kernel announces a change of a block device.
    /// Where no loop device can be set up (not root, no loop driver), says so
    /// and gives `None`.
    pub(crate) fn with_a_loop_device<T>(between: impl FnOnce() -> T) -> Option<T> {
        use std::process::Command;
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // One at a time: each test that hears announcements hears the others'.
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let backing = std::env::temp_dir().join(format!(
            "perfmon-uevent-{}-{}",
            std::process::id(),
            FILES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&backing, vec![0u8; 1 << 20]).expect("a backing file");
        let attached = Command::new("losetup").args(["--find", "--show"]).arg(&backing).output();
        let device = match attached {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            other => {
                let _ = std::fs::remove_file(&backing);
                eprintln!("no loop device could be set up here ({other:?}): nothing announced to hear");
                return None;
            }
        };
        let result = between();
        let _ = Command::new("losetup").args(["--detach", &device]).status();
        let _ = std::fs::remove_file(&backing);
        Some(result)
    }

    #[test]
    fn a_loop_device_set_up_is_heard_as_a_block_device() {
        let mut uevents = Uevents::listen().expect("a uevent socket (any user may listen)");
        // Whatever was waiting is drained first.
        uevents.heard("block").expect("the socket works");
        // The kernel queues the uevent on every listening socket before
        // losetup's call returns: it is there to read.
        let heard = with_a_loop_device(|| uevents.heard("block").expect("the socket works"));
        assert_ne!(heard, Some(false), "no block uevent heard");
    }
}
