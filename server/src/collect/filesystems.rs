//! The space of each filesystem on a real block device, as `df` counts it:
//! the mount table (`/proc/self/mounts`) and one `statvfs` per filesystem, read
//! at most every [`FILESYSTEMS_EVERY`] (space changes slowly, and a tick stays
//! cheap); between reads the last reading is given again with its age.
//!
//! Which filesystems: those whose source is a device under `/dev/`, so pseudo
//! filesystems (proc, sysfs, tmpfs, overlay, cgroup) and network ones (whose
//! `statvfs` may hang on a lost server) are left out; loop, RAM and zram devices
//! too (a mounted image or snap is 100 % full by design, and its space is the
//! filesystem's holding the image). A device mounted again (a bind mount, a
//! btrfs subvolume) is listed once, at its first mount. Each is named by its
//! device (`vda1`, from `/dev/vda1`) and type; its mount point is given unless it
//! lies inside a home directory, where a path names a person.
//!
//! # Layout
//! - [`FilesystemsCollector`]: `new()` for this machine, `with_paths` over a fake
//!   mount table; [`FilesystemsCollector::read`] at every tick.
//! - [`real_filesystems`]: the pure choice of filesystems from a mount table.
//! - [`FilesystemsReading`]: the reading, and its `to_contract`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use shared::depth::disks::{Filesystem, Filesystems, MAX_FILESYSTEMS};

use super::cadence::{Kept, age_ms};
use crate::units::{gb, round1};

/// The shortest time between two reads of the mount table and the filesystems.
pub const FILESYSTEMS_EVERY: Duration = Duration::from_secs(5);

/// One filesystem's space, in bytes, exactly as read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FilesystemReading {
    /// Its device's name (`vda1`), without `/dev/`.
    pub device: String,
    /// Its type (`ext4`).
    pub fs_type: String,
    /// Where it is mounted; `None` inside a home directory.
    pub mount_point: Option<String>,
    /// Its size; `None` where `statvfs` failed.
    pub size_bytes: Option<u64>,
    /// Size minus free blocks (df's `Used`).
    pub used_bytes: Option<u64>,
    /// Free blocks an unprivileged user may fill (df's `Available`).
    pub free_bytes: Option<u64>,
}

impl FilesystemReading {
    /// `used / (used + free)`, 0–100, as df's `Use%` before its rounding up: the
    /// blocks reserved for root are neither.
    pub fn used_percent(&self) -> Option<f64> {
        let (used, free) = (self.used_bytes?, self.free_bytes?);
        let usable = used.checked_add(free).filter(|u| *u > 0)?;
        Some(used as f64 * 100.0 / usable as f64)
    }
}

/// The filesystems, exactly as read, with the reading's age.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FilesystemsReading {
    /// Why there are none, when the mount table cannot be read.
    pub unavailable: Option<String>,
    /// How long before this reading was handed out the filesystems were read,
    /// in ms; `None` when nothing was read.
    pub age_ms: Option<u64>,
    /// At most [`MAX_FILESYSTEMS`], in mount order.
    pub filesystems: Vec<FilesystemReading>,
}

impl FilesystemsReading {
    /// The payload's section: sizes in GB (GiB) and % with one decimal.
    pub fn to_contract(&self) -> Filesystems {
        Filesystems {
            available: self.unavailable.is_none(),
            reason: self.unavailable.clone(),
            age_ms: self.age_ms,
            filesystems: self
                .filesystems
                .iter()
                .map(|f| Filesystem {
                    device: f.device.clone(),
                    fs_type: f.fs_type.clone(),
                    mount_point: f.mount_point.clone(),
                    size_gb: f.size_bytes.map(gb),
                    used_gb: f.used_bytes.map(gb),
                    free_gb: f.free_bytes.map(gb),
                    used_percent: f.used_percent().map(round1),
                })
                .collect(),
        }
    }
}

/// A filesystem chosen from the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealFilesystem {
    /// Its device's name.
    pub device: String,
    /// Its type.
    pub fs_type: String,
    /// Where it is mounted, for `statvfs` (never sent).
    pub path: PathBuf,
    /// Where it is mounted, as sent: `None` inside a home directory.
    pub mount_point: Option<String>,
}

/// Reads the filesystems at most every [`FILESYSTEMS_EVERY`].
#[derive(Debug)]
pub struct FilesystemsCollector {
    /// The mount table (`/proc/self/mounts`).
    mounts: PathBuf,
    /// The server's home directory, whose mounts are not named.
    home: Option<PathBuf>,
    /// The last reading and when it was taken.
    last: Kept<FilesystemsReading>,
}

impl FilesystemsCollector {
    /// This machine's filesystems, with the server's `$HOME`. Reads nothing yet.
    pub fn new() -> Self {
        Self::with_paths("/proc/self/mounts", std::env::var_os("HOME").map(PathBuf::from))
    }

    /// Filesystems of another mount table (a fake one in tests), with `home` as
    /// the home directory besides `/home/…` and `/root`.
    pub fn with_paths(mounts: impl Into<PathBuf>, home: Option<PathBuf>) -> Self {
        FilesystemsCollector { mounts: mounts.into(), home, last: Kept::new(FILESYSTEMS_EVERY) }
    }

    /// The filesystems, read again when the last reading is
    /// [`FILESYSTEMS_EVERY`] old (or there is none), with their age at `now`.
    /// Blocking (a `statvfs` per filesystem when it reads).
    pub fn read(&mut self, now: Instant) -> FilesystemsReading {
        let (last, age) = self.last.read(now, || read_filesystems(&self.mounts, self.home.as_deref()));
        if last.unavailable.is_none() {
            last.age_ms = Some(age_ms(age));
        }
        last.clone()
    }
}

/// Reads the mount table `mounts` and measures each filesystem now, those
/// inside `home` unnamed. Blocking.
fn read_filesystems(mounts: &Path, home: Option<&Path>) -> FilesystemsReading {
    match std::fs::read_to_string(mounts) {
        Ok(text) => FilesystemsReading {
            unavailable: None,
            age_ms: Some(0),
            filesystems: real_filesystems(&text, home, &resolve_link).into_iter().map(measure).collect(),
        },
        Err(err) => FilesystemsReading {
            unavailable: Some(format!("{} cannot be read ({err})", mounts.display())),
            ..FilesystemsReading::default()
        },
    }
}

/// The device a `/dev/disk/by-…` link names (`/dev/sda1`), so a device mounted
/// by UUID and by name is one device, named as the kernel names it.
fn resolve_link(source: &str) -> Option<String> {
    std::fs::canonicalize(source).ok().map(|path| path.to_string_lossy().into_owned())
}

/// One filesystem's space from `statvfs`, as df counts it.
fn measure(fs: RealFilesystem) -> FilesystemReading {
    let space = nix::sys::statvfs::statvfs(&fs.path).ok().and_then(|s| {
        // Block counts are in fragments (`f_frsize`), the unit df multiplies by.
        // A `c_ulong`: the same as u64 here, 32 bits on other targets.
        #[allow(clippy::useless_conversion)]
        let unit = u64::from(s.fragment_size());
        if unit == 0 {
            return None;
        }
        let blocks = |count: u64| count.checked_mul(unit);
        let size = blocks(s.blocks())?;
        let free_all = blocks(s.blocks_free())?;
        Some((size, size.saturating_sub(free_all), blocks(s.blocks_available())?))
    });
    FilesystemReading {
        device: fs.device,
        fs_type: fs.fs_type,
        mount_point: fs.mount_point,
        size_bytes: space.map(|(size, _, _)| size),
        used_bytes: space.map(|(_, used, _)| used),
        free_bytes: space.map(|(_, _, free)| free),
    }
}

/// The filesystems on real block devices in a mount table's text
/// (`/proc/self/mounts`: source, mount point, type, options, …), in mount order,
/// each device once, at most [`MAX_FILESYSTEMS`]. `resolve` turns a
/// `/dev/disk/…` link into the device it names.
pub fn real_filesystems(
    text: &str,
    home: Option<&Path>,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Vec<RealFilesystem> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(source), Some(path), Some(fs_type)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        let source = unescape(source);
        let resolved = if source.starts_with("/dev/disk/") { resolve(&source) } else { None };
        let Some(device) = device_name(resolved.as_deref().unwrap_or(&source)) else { continue };
        if !seen.insert(device.to_owned()) {
            continue;
        }
        let path = PathBuf::from(unescape(path));
        let mount_point = (!in_home(&path, home)).then(|| path.to_string_lossy().into_owned());
        out.push(RealFilesystem { device: device.to_owned(), fs_type: unescape(fs_type), path, mount_point });
        if out.len() == MAX_FILESYSTEMS {
            break;
        }
    }
    out
}

/// The device name of a mount's source (`/dev/nvme0n1p2` → `nvme0n1p2`,
/// `/dev/mapper/vg-root` → `vg-root`); `None` for a source that is no block
/// device (`proc`, `tmpfs`, `server:/export`) or one left out (loop, RAM, zram,
/// `/dev/fuse`).
fn device_name(source: &str) -> Option<&str> {
    let name = source.strip_prefix("/dev/")?.rsplit('/').next()?;
    let left_out = name.is_empty()
        || name == "fuse"
        || ["loop", "ram", "zram"].iter().any(|prefix| {
            name.strip_prefix(prefix).is_some_and(|n| n.chars().next().is_none_or(|c| c.is_ascii_digit()))
        });
    (!left_out).then_some(name)
}

/// Whether `path` lies inside a home directory: below `/home` or `/var/home`,
/// at or below `/root`, or at or below the server's `home` (unless that is `/`).
fn in_home(path: &Path, home: Option<&Path>) -> bool {
    let below = |dir: &str| path.starts_with(dir) && path != Path::new(dir);
    below("/home")
        || below("/var/home")
        || path.starts_with("/root")
        || home.is_some_and(|home| home != Path::new("/") && path.starts_with(home))
}

/// A mount table field with the kernel's octal escapes (`\040` for a space,
/// `\011` tab, `\012` newline, `\134` backslash) turned back into characters.
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    const MOUNTS: &str = r"proc /proc proc rw,relatime 0 0
sysfs /sys sysfs rw,relatime 0 0
tmpfs /tmp tmpfs rw 0 0
/dev/vda1 / ext4 rw,relatime 0 0
/dev/vda1 /srv/bound ext4 rw,relatime 0 0
/dev/vda15 /boot/efi vfat rw 0 0
/dev/mapper/vg-data /var/lib/data xfs rw 0 0
/dev/loop0 /snap/core/1 squashfs ro 0 0
/dev/zram0 /var/cache/z ext4 rw 0 0
/dev/fuse /run/fuse fuse rw 0 0
/dev/disk/by-uuid/1234-abcd /data ext4 rw 0 0
/dev/sdd1 /data/again ext4 rw 0 0
/dev/sdb1 /home/alice ext4 rw 0 0
/dev/sdc1 /home ext4 rw 0 0
/dev/sde1 /root/scratch ext4 rw 0 0
/dev/sdf1 /srv/perfmon/mnt ext4 rw 0 0
/dev/sdg1 /mnt/my\040disk ext4 rw 0 0
/dev/root /rootfs ext4 rw 0 0
server:/export /nfs nfs4 rw 0 0
short line
";

    fn names(list: &[RealFilesystem]) -> Vec<(&str, &str, Option<&str>)> {
        list.iter().map(|f| (f.device.as_str(), f.fs_type.as_str(), f.mount_point.as_deref())).collect()
    }

    #[test]
    fn real_devices_are_kept_once_each_named_by_device_and_homes_hidden() {
        let resolve =
            |source: &str| (source == "/dev/disk/by-uuid/1234-abcd").then(|| "/dev/sdd1".to_owned());
        let list = real_filesystems(MOUNTS, Some(Path::new("/srv/perfmon")), &resolve);
        assert_eq!(
            names(&list),
            [
                ("vda1", "ext4", Some("/")),
                ("vda15", "vfat", Some("/boot/efi")),
                ("vg-data", "xfs", Some("/var/lib/data")),
                ("sdd1", "ext4", Some("/data")),
                ("sdb1", "ext4", None),
                ("sdc1", "ext4", Some("/home")),
                ("sde1", "ext4", None),
                ("sdf1", "ext4", None),
                ("sdg1", "ext4", Some("/mnt/my disk")),
                ("root", "ext4", Some("/rootfs")),
            ],
            "no pseudo, network, loop, zram or fuse; the bind mount and the device mounted by UUID once"
        );
        assert_eq!(list[8].path, Path::new("/mnt/my disk"), "statvfs gets the real path");
        assert_eq!(list[4].path, Path::new("/home/alice"), "measured, only not named");
    }

    #[test]
    fn home_directories_are_told_by_path_components() {
        let home = Some(Path::new("/srv/perfmon"));
        for (path, hidden) in [
            ("/home/alice", true),
            ("/home", false),
            ("/homes", false),
            ("/root", true),
            ("/rootfs", false),
            ("/var/home/bob", true),
            ("/srv/perfmon", true),
            ("/srv/perfmonx", false),
            ("/", false),
        ] {
            assert_eq!(in_home(Path::new(path), home), hidden, "{path}");
        }
        assert!(!in_home(Path::new("/data"), Some(Path::new("/"))), "a home of / hides nothing");
    }

    #[test]
    fn escapes_and_odd_names_read_as_the_kernel_meant() {
        assert_eq!(unescape(r"/mnt/a\040b\011c\134d"), "/mnt/a b\tc\\d");
        assert_eq!(unescape(r"/mnt/trailing\04"), r"/mnt/trailing\04", "a short escape stays as it is");
        assert_eq!(device_name("/dev/ram0"), None);
        assert_eq!(device_name("/dev/loop12"), None);
        assert_eq!(device_name("/dev/loop"), None);
        assert_eq!(device_name("/dev/random-name"), Some("random-name"), "not a RAM disk");
        assert_eq!(device_name("/dev/"), None);
        assert_eq!(device_name("tmpfs"), None);
    }

    #[test]
    fn the_list_is_bounded() {
        let text: String =
            (0..MAX_FILESYSTEMS + 5).map(|i| format!("/dev/sd{i} /mnt/{i} ext4 rw 0 0\n")).collect();
        let list = real_filesystems(&text, None, &|_| None);
        assert_eq!(list.len(), MAX_FILESYSTEMS);
        assert_eq!(list.last().map(|f| f.device.as_str()), Some("sd31"), "the first in mount order");
    }

    fn fake_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-fs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn readings_come_every_five_seconds_and_say_their_age() {
        let dir = fake_dir("cadence");
        let mounts = dir.join("mounts");
        std::fs::write(
            &mounts,
            format!("/dev/sdx1 {} ext4 rw 0 0\n/dev/sdy1 /nonexistent ext4 rw 0 0\n", dir.display()),
        )
        .expect("mounts");
        let mut fs = FilesystemsCollector::with_paths(&mounts, None);
        let t0 = Instant::now();
        let first = fs.read(t0);
        assert_eq!((first.unavailable.as_deref(), first.age_ms), (None, Some(0)));
        let sdx = &first.filesystems[0];
        assert!(sdx.size_bytes.is_some_and(|s| s > 0), "{sdx:?}");
        assert!(sdx.used_percent().is_some_and(|p| (0.0..=100.0).contains(&p)));
        let sdy = &first.filesystems[1];
        assert_eq!(
            (sdy.size_bytes, sdy.used_bytes, sdy.free_bytes),
            (None, None, None),
            "statvfs failed: null"
        );
        assert_eq!(sdy.used_percent(), None);

        std::fs::write(&mounts, "/dev/sdz1 / ext4 rw 0 0\n").expect("mounts");
        let soon = fs.read(t0 + Duration::from_millis(4200));
        assert_eq!(soon.filesystems, first.filesystems, "not read again yet");
        assert_eq!(soon.age_ms, Some(4200));
        let later = fs.read(t0 + Duration::from_secs(5));
        assert_eq!((later.filesystems[0].device.as_str(), later.age_ms), ("sdz1", Some(0)));

        let contract = first.to_contract();
        assert!(contract.available);
        assert_eq!(contract.age_ms, Some(0));
        assert_eq!(contract.filesystems[1].size_gb, None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_mount_table_makes_the_section_unavailable_with_a_reason() {
        let mut fs = FilesystemsCollector::with_paths("/nonexistent/mounts", None);
        let reading = fs.read(Instant::now());
        assert!(
            reading.unavailable.as_deref().is_some_and(|r| r.contains("/nonexistent/mounts")),
            "{reading:?}"
        );
        assert_eq!(reading.age_ms, None);
        let contract = reading.to_contract();
        assert!(!contract.available && contract.filesystems.is_empty() && contract.age_ms.is_none());
    }

    #[test]
    fn percentages_are_dfs_before_its_rounding() {
        let fs = |used, free| FilesystemReading {
            used_bytes: Some(used),
            free_bytes: Some(free),
            ..Default::default()
        };
        assert_eq!(fs(46, 54).used_percent(), Some(46.0));
        assert_eq!(fs(0, 0).used_percent(), None, "nothing usable");
        assert_eq!(FilesystemReading::default().used_percent(), None);
    }

    /// `df -B1`'s size, used and available bytes by mount point.
    fn df() -> Vec<(String, [u64; 3])> {
        let out = Command::new("df")
            .args(["-B1", "--output=target,size,used,avail"])
            .env("LC_ALL", "C")
            .output()
            .expect("df (coreutils)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let numbers: Vec<u64> = fields.get(1..4)?.iter().filter_map(|f| f.parse().ok()).collect();
                Some((fields.first()?.to_string(), numbers.try_into().ok()?))
            })
            .collect()
    }

    #[test]
    fn this_machines_filesystems_agree_with_df() {
        let reading = FilesystemsCollector::new().read(Instant::now());
        let theirs = df();
        assert!(!reading.filesystems.is_empty(), "a machine has a filesystem on a disk: {reading:?}");
        let mut compared = 0;
        for ours in &reading.filesystems {
            let Some(mount) = &ours.mount_point else { continue };
            let Some((_, [size, used, avail])) = theirs.iter().find(|(target, _)| target == mount) else {
                continue;
            };
            eprintln!("{} on {mount}: ours {ours:?}, df {size} {used} {avail}", ours.device);
            // Others write while the two read: sizes exact, space within 1 % of the size.
            assert_eq!(ours.size_bytes, Some(*size));
            let slack = *size as f64 * 0.01;
            assert!((ours.used_bytes.expect("used") as f64 - *used as f64).abs() <= slack);
            assert!((ours.free_bytes.expect("free") as f64 - *avail as f64).abs() <= slack);
            compared += 1;
        }
        assert!(compared > 0, "no filesystem of ours is in df's list: {reading:?}");
    }

    /// Allocating a file's blocks (`posix_fallocate`, no data written) on a disk
    /// raises its filesystem's used space by that much.
    #[test]
    fn allocating_a_file_moves_its_filesystems_used_space() {
        use std::os::fd::AsFd;
        const BYTES: i64 = 512 << 20;
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(format!("perfmon-fs-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory under target/");
        let dir = std::fs::canonicalize(&dir).expect("canonical");
        let on = |reading: &FilesystemsReading| {
            reading
                .filesystems
                .iter()
                .filter(|f| f.mount_point.as_deref().is_some_and(|m| dir.starts_with(m)))
                .max_by_key(|f| f.mount_point.as_ref().map(String::len))
                .cloned()
                .unwrap_or_else(|| panic!("{} is on no listed filesystem: {reading:?}", dir.display()))
        };
        // Others write too: try a few times for a quiet moment.
        let mut moved = Vec::new();
        for _ in 0..3 {
            // A new collector reads at once.
            let before = on(&FilesystemsCollector::new().read(Instant::now()));
            let file = std::fs::File::create(dir.join("allocated")).expect("a file");
            nix::fcntl::posix_fallocate(file.as_fd(), 0, BYTES).expect("posix_fallocate");
            let after = on(&FilesystemsCollector::new().read(Instant::now()));
            drop(file);
            let _ = std::fs::remove_file(dir.join("allocated"));
            let delta = after.used_bytes.expect("used") as i64 - before.used_bytes.expect("used") as i64;
            moved.push(delta);
            // Within 16 MiB: the file's metadata, and what others wrote meanwhile.
            if (delta - BYTES).abs() <= 16 << 20 {
                break;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            moved.iter().any(|d| (d - BYTES).abs() <= 16 << 20),
            "used moved by {moved:?}, {BYTES} allocated"
        );
    }
}
