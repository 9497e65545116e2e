//! The one reader of `/proc/PID/stat` ([`parse_stat`]): used for the run's process
//! tree ([`super::proctree`]) and for PerfMon's own cost. One small file per
//! process, instead of the several sysinfo reads, keeps a tick cheap; the files a
//! tick reads every time are kept open ([`ProcFile`]).

use std::fs::File;
use std::path::{Path, PathBuf};

/// A /proc file kept open and read again from its start at each call: procfs
/// regenerates its text on every read, and skipping the path walk and the
/// open/close of each tick makes a tick at the 1 s cadence (when caches are cold)
/// about a third cheaper (BENCHMARKS.md). Each reading is one `pread` at offset 0
/// into a buffer the size of the last text: procfs fills a read as far as the
/// text goes, so a read that comes back short has it all (no seek, no second
/// read to find the end). Reopened if a read ever fails.
#[derive(Debug)]
pub struct ProcFile {
    /// Where it lives.
    path: PathBuf,
    /// The open file; `None` until opened, or after a failed read.
    file: Option<File>,
    /// The bytes read; grown when a text fills it, kept from read to read.
    bytes: Vec<u8>,
    /// The last text read when it was not UTF-8 (a process name can hold any
    /// bytes), with the invalid bytes replaced.
    lossy: String,
}

/// The first buffer of a file: most of the per-tick files fit.
const FIRST_READ_BYTES: usize = 2048;

impl ProcFile {
    /// A file to read at `path` (opened at the first read).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        ProcFile { path: path.into(), file: None, bytes: Vec::new(), lossy: String::new() }
    }

    /// The file's current text; `None` when it cannot be read (a process that
    /// exited, no /proc). Blocking.
    pub fn read(&mut self) -> Option<&str> {
        self.try_read().ok()
    }

    /// The file's current text, or why it cannot be read: callers that must tell
    /// a process that exited ([`gone`]) from a read the kernel refused (another
    /// user's `/proc/PID/io`: EACCES). Blocking.
    pub fn try_read(&mut self) -> std::io::Result<&str> {
        use std::os::unix::fs::FileExt;
        if self.file.is_none() {
            self.file = Some(File::open(&self.path)?);
        }
        let Some(file) = self.file.as_ref() else { unreachable!("opened just above") };
        if self.bytes.len() < FIRST_READ_BYTES {
            self.bytes.resize(FIRST_READ_BYTES, 0);
        }
        let mut filled = 0;
        loop {
            match file.read_at(&mut self.bytes[filled..], filled as u64) {
                Ok(n) => {
                    filled += n;
                    if n == 0 || filled < self.bytes.len() {
                        break;
                    }
                    // The text filled the buffer: there may be more of it.
                    let grown = self.bytes.len() * 2;
                    self.bytes.resize(grown, 0);
                }
                Err(err) => {
                    self.file = None;
                    return Err(err);
                }
            }
        }
        // The text as read, not copied: checking it is UTF-8 is a fraction of
        // what replacing invalid bytes costs. Process names may hold any bytes
        // (the figures around them are ASCII): such a text is copied, replaced.
        match std::str::from_utf8(&self.bytes[..filled]) {
            Ok(text) => Ok(text),
            Err(_) => {
                self.lossy = String::from_utf8_lossy(&self.bytes[..filled]).into_owned();
                Ok(&self.lossy)
            }
        }
    }
}

/// Each line of a `/proc` text that holds `sep`, as its name (the bytes before
/// the first `sep`) and the rest: a loop over the bytes, not `lines()` and
/// `split_once`, whose `char` searches cost about 900 instructions a line
/// (BENCHMARKS.md). Callers compare names as bytes and read only the values
/// they want.
pub fn named_lines(text: &str, sep: u8) -> impl Iterator<Item = (&[u8], &[u8])> {
    text.as_bytes().split(|&b| b == b'\n').filter_map(move |line| {
        let at = line.iter().position(|&b| b == sep)?;
        Some((&line[..at], &line[at + 1..]))
    })
}

/// The value of the `name: value` line in a `/proc` text (`/proc/meminfo`,
/// `/proc/PID/status`, `/proc/PID/io`), trimmed; `None` when no line has that
/// name. One substring search, not a walk over the lines: `lines()` searches
/// by `char`, which for texts of short lines costs more than the kernel's
/// writing of the text (BENCHMARKS.md).
pub fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let at = from + text.get(from..)?.find(name)?;
        let rest = &text[at + name.len()..];
        // A name at the start of a line, not the end of a longer one
        // (`voluntary_ctxt_switches` in `nonvoluntary_ctxt_switches`).
        if (at == 0 || text.as_bytes()[at - 1] == b'\n')
            && let Some(value) = rest.strip_prefix(':')
        {
            return Some(value.split('\n').next().unwrap_or(value).trim());
        }
        // Past this match's first byte: `name` is ASCII, so that is a char boundary.
        from = at + 1;
    }
}

/// Whether a failed /proc read means the process (or thread) is no longer
/// there: its directory gone (ENOENT), or a file kept open on it after it was
/// reaped (ESRCH).
pub fn gone(err: &std::io::Error) -> bool {
    /// `ESRCH` on Linux.
    const NO_SUCH_PROCESS: i32 = 3;
    err.kind() == std::io::ErrorKind::NotFound || err.raw_os_error() == Some(NO_SUCH_PROCESS)
}

/// Linux reports process CPU time in clock ticks of 1/100 s (USER_HZ, fixed by
/// the kernel's ABI for /proc whatever the kernel's own tick rate).
pub const TICKS_PER_SECOND: f64 = 100.0;

/// One process as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Its pid.
    pub pid: u32,
    /// Its parent's pid (0 for none).
    pub parent: u32,
    /// User + system CPU time so far, in 1/100 s ticks.
    pub cpu_ticks: u64,
    /// User + system CPU time of the children it has waited for (and of theirs),
    /// in 1/100 s ticks: what the kernel hands a parent when it reaps a child
    /// (`cutime` + `cstime`), so time of processes already gone is not lost.
    pub reaped_ticks: u64,
    /// User-mode CPU time, its own and its reaped children's (`utime` +
    /// `cutime`), 1/100 s ticks.
    pub user_ticks: u64,
    /// Kernel-mode CPU time, its own and its reaped children's (`stime` +
    /// `cstime`), 1/100 s ticks.
    pub system_ticks: u64,
    /// Minor page faults, its own and its reaped children's (`minflt` +
    /// `cminflt`).
    pub minor_faults: u64,
    /// Major page faults, its own and its reaped children's (`majflt` +
    /// `cmajflt`).
    pub major_faults: u64,
    /// Resident pages.
    pub rss_pages: u64,
    /// Exited but not yet reaped: no longer running.
    pub zombie: bool,
    /// Stopped by a signal (`T`: SIGSTOP, or a terminal's SIGTSTP).
    pub stopped: bool,
    /// Its threads (each may have children of its own).
    pub threads: u32,
    /// When it started, in 1/100 s ticks after boot.
    pub start_ticks: u64,
}

/// Parses a `/proc/PID/stat` line. Fields are counted after the last `)`, because
/// the command name (field 2) may hold spaces and parentheses.
pub fn parse_stat(pid: u32, stat: &str) -> Option<ProcStat> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // From field 3 (state): ppid is field 4, minflt 10, cminflt 11, majflt 12,
    // cmajflt 13, utime 14, stime 15, cutime 16, cstime 17, threads 20,
    // starttime 22, rss 24.
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let (utime, stime, cutime, cstime) = (number(11)?, number(12)?, number(13)?, number(14)?);
    Some(ProcStat {
        pid,
        parent: u32::try_from(number(1)?).ok()?,
        cpu_ticks: utime.checked_add(stime)?,
        reaped_ticks: cutime.checked_add(cstime)?,
        user_ticks: utime.checked_add(cutime)?,
        system_ticks: stime.checked_add(cstime)?,
        minor_faults: number(7)?.checked_add(number(8)?)?,
        major_faults: number(9)?.checked_add(number(10)?)?,
        rss_pages: number(21)?,
        zombie: fields.first() == Some(&"Z"),
        stopped: fields.first() == Some(&"T"),
        threads: u32::try_from(number(17)?).ok()?,
        start_ticks: number(19)?,
    })
}

/// `/proc/{pid}/stat`, parsed; `None` if the process is gone (or there is no
/// /proc). Blocking.
pub fn read_stat(pid: u32) -> Option<ProcStat> {
    read_stat_at(&Path::new("/proc").join(pid.to_string()), pid)
}

fn read_stat_at(dir: &Path, pid: u32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(dir.join("stat")).ok()?;
    parse_stat(pid, &text)
}

/// Every process's stat: one small file per process. `None` where /proc is
/// missing (not Linux). Blocking.
pub fn scan() -> Option<Vec<ProcStat>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut out = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // A process may exit between listing and reading: skip it.
        if let Some(stat) = read_stat_at(&entry.path(), pid) {
            out.push(stat);
        }
    }
    Some(out)
}

/// When process `pid` started, to the second (its start after boot, and the
/// boot time `/proc/stat` gives); `None` if it is gone. A pid can be reused: a
/// process that started after a run did is not that run's. Blocking.
pub fn started_at(pid: u32) -> Option<chrono::DateTime<chrono::Utc>> {
    let stat = read_stat(pid)?;
    let boot: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let after_boot_ms = (stat.start_ticks as f64 / TICKS_PER_SECOND * 1000.0) as i64;
    chrono::DateTime::from_timestamp_millis(boot.checked_mul(1000)?.checked_add(after_boot_ms)?)
}

/// The inode of the kernel's initial PID namespace (`PROC_PID_INIT_INO`), fixed
/// by the kernel since Linux 3.8.
const INITIAL_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

/// Whether this process lives in a PID namespace below the machine's own (a
/// container): pids other tools report from the host (NVML's) are then not the
/// pids this process sees. Told by `/proc/self/ns/pid`, which names the namespace
/// whatever /proc the container mounted. Blocking.
pub fn in_nested_pid_namespace() -> bool {
    std::fs::read_link("/proc/self/ns/pid")
        .ok()
        .and_then(|link| namespace_inode(&link.to_string_lossy()))
        .is_some_and(|inode| inode != INITIAL_PID_NAMESPACE)
}

/// The inode of a namespace link's target, `pid:[4026531836]`.
fn namespace_inode(target: &str) -> Option<u64> {
    target.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// The pids in a `/proc/PID/task/TID/children` text: the thread's children.
pub fn parse_children(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.split_whitespace().filter_map(|pid| pid.parse().ok())
}

/// CPU use between two readings `seconds` apart, in % of one core.
pub fn cpu_percent(ticks_before: u64, ticks_after: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0)
        .then(|| ticks_after.saturating_sub(ticks_before) as f64 / TICKS_PER_SECOND / seconds * 100.0)
}

/// `AT_PAGESZ` in the auxiliary vector the kernel handed this process: the size
/// of a memory page, which /proc counts resident memory in.
const AT_PAGESZ: u64 = 6;

/// The size of a memory page, as the kernel told this process at start
/// (`/proc/self/auxv`); 4 KiB where that cannot be read. Blocking.
pub fn page_bytes() -> u64 {
    std::fs::read("/proc/self/auxv").ok().and_then(|auxv| auxv_value(&auxv, AT_PAGESZ)).unwrap_or(4096)
}

/// The value of `key` in an auxiliary vector: native-endian (key, value) pairs of
/// machine words, ending with key 0.
fn auxv_value(auxv: &[u8], key: u64) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let word = |bytes: &[u8]| -> u64 {
        let mut buf = [0u8; WORD];
        buf.copy_from_slice(bytes);
        usize::from_ne_bytes(buf) as u64
    };
    auxv.chunks_exact(2 * WORD)
        .map(|pair| (word(&pair[..WORD]), word(&pair[WORD..])))
        .take_while(|(k, _)| *k != 0)
        .find_map(|(k, v)| (k == key).then_some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_file_reads_its_whole_text_each_time_however_it_changed() {
        let path = std::env::temp_dir().join(format!("perfmon-procfile-long-{}", std::process::id()));
        let long: String = (0..900).map(|i| format!("{i} ")).collect();
        std::fs::write(&path, &long).expect("write");
        let mut file = ProcFile::new(&path);
        assert_eq!(file.read(), Some(long.as_str()), "longer than the first buffer, read whole");
        std::fs::write(&path, "short").expect("rewrite");
        assert_eq!(file.read(), Some("short"), "no tail of the longer text");
        std::fs::remove_file(&path).expect("remove");
        assert_eq!(file.read(), Some("short"), "an open file outlives its name, as /proc's do not");
        let mut own = ProcFile::new("/proc/self/stat");
        let stat = parse_stat(std::process::id(), own.read().expect("our own stat")).expect("parses");
        assert!(stat.rss_pages > 0);
    }

    #[test]
    fn a_text_with_bytes_that_are_not_utf8_reads_with_them_replaced() {
        let path = std::env::temp_dir().join(format!("perfmon-procfile-bytes-{}", std::process::id()));
        std::fs::write(&path, b"1 (a\xffb) S 0\n").expect("write");
        let mut file = ProcFile::new(&path);
        assert_eq!(file.read(), Some("1 (a\u{fffd}b) S 0\n"));
        std::fs::write(&path, "1 (ab) S 0\n").expect("rewrite");
        assert_eq!(file.read(), Some("1 (ab) S 0\n"), "the next text, not the replaced one kept");
        std::fs::remove_file(&path).expect("remove");
    }

    #[test]
    fn a_field_is_the_value_of_the_line_with_that_name() {
        let status = "Name:\tsh\nvoluntary_ctxt_switches:\t7\nnonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(field(status, "nonvoluntary_ctxt_switches"), Some("3"));
        assert_eq!(
            field(status, "voluntary_ctxt_switches"),
            Some("7"),
            "the line's own, not the longer name's"
        );
        assert_eq!(field("a_b: 1\nb: 2", "b"), Some("2"), "a name inside another is not it");
        assert_eq!(field(status, "Name"), Some("sh"), "the first line");
        assert_eq!(field("MemTotal:  8 kB", "MemTotal"), Some("8 kB"), "the last line, without a newline");
        assert_eq!(field(status, "Threads"), None);
        assert_eq!(field("Threads 4\n", "Threads"), None, "no colon");
    }

    #[test]
    fn a_process_start_is_the_moment_it_began() {
        let before = chrono::Utc::now();
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let started = started_at(child.id()).expect("a live process has a start");
        let _ = child.kill();
        let _ = child.wait();
        // btime is to the second, and a process's start to the tick.
        let slack = chrono::Duration::milliseconds(1500);
        assert!(started >= before - slack && started <= chrono::Utc::now() + slack, "{started} vs {before}");
        assert_eq!(started_at(u32::MAX - 1), None);
    }

    #[test]
    fn stat_lines_parse_after_the_command_name() {
        let line = "4242 (my (odd) cmd) S 4200 4242 4200 0 -1 4194304 99 3 2 1 70 30 12 5 20 0 1 0 408805 2998272 372 18446744073709551615";
        assert_eq!(
            parse_stat(4242, line),
            Some(ProcStat {
                pid: 4242,
                parent: 4200,
                cpu_ticks: 100,
                reaped_ticks: 17,
                user_ticks: 70 + 12,
                system_ticks: 30 + 5,
                minor_faults: 99 + 3,
                major_faults: 2 + 1,
                rss_pages: 372,
                zombie: false,
                stopped: false,
                threads: 1,
                start_ticks: 408805,
            })
        );
        let zombie = "7 (gone) Z 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0 0 0";
        assert_eq!(parse_stat(7, zombie).map(|p| (p.zombie, p.stopped)), Some((true, false)));
        let stopped = "8 (paused) T 1 8 8 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 0 0 0";
        assert_eq!(parse_stat(8, stopped).map(|p| (p.zombie, p.stopped)), Some((false, true)));
        assert_eq!(parse_stat(1, "garbage"), None);
        assert_eq!(parse_stat(1, "1 (short) S 0 1"), None, "too few fields");
    }

    #[test]
    fn a_kept_file_reads_its_current_text_every_time() {
        let path = std::env::temp_dir().join(format!("perfmon-procfile-{}", std::process::id()));
        std::fs::write(&path, "first").expect("write");
        let mut file = ProcFile::new(&path);
        assert_eq!(file.read(), Some("first"));
        std::fs::write(&path, "second, longer").expect("rewrite in place");
        assert_eq!(file.read(), Some("second, longer"), "read again from the start");
        let _ = std::fs::remove_file(&path);
        assert!(ProcFile::new("/nonexistent/stat").read().is_none());
        // A real /proc file regenerates: this process's stat changes as it runs.
        let mut me = ProcFile::new("/proc/self/stat");
        let first = me.read().map(str::to_owned);
        assert!(first.as_deref().and_then(|s| parse_stat(std::process::id(), s)).is_some());
    }

    #[test]
    fn children_files_list_pids() {
        assert_eq!(parse_children("31778 31779 ").collect::<Vec<_>>(), [31778, 31779]);
        assert_eq!(parse_children("").count(), 0);
    }

    #[test]
    fn cpu_percent_is_ticks_over_wall_time() {
        assert_eq!(cpu_percent(100, 150, 1.0), Some(50.0));
        assert_eq!(cpu_percent(100, 350, 2.0), Some(125.0), "more than one core");
        assert_eq!(cpu_percent(150, 100, 1.0), Some(0.0), "a counter never runs backwards");
        assert_eq!(cpu_percent(100, 150, 0.0), None);
    }

    #[test]
    fn the_auxiliary_vector_is_read_pair_by_pair_until_its_end() {
        let words = |ws: &[usize]| ws.iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>();
        assert_eq!(auxv_value(&words(&[3, 64, 6, 16384, 0, 0]), AT_PAGESZ), Some(16384));
        assert_eq!(auxv_value(&words(&[3, 64, 0, 0, 6, 4096]), AT_PAGESZ), None, "nothing after the end");
        assert_eq!(auxv_value(&[], AT_PAGESZ), None);
    }

    #[test]
    fn the_page_size_is_what_getconf_says() {
        let Ok(out) = std::process::Command::new("getconf").arg("PAGESIZE").output() else {
            panic!("getconf is part of every Linux libc install");
        };
        let expected: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number");
        assert_eq!(page_bytes(), expected);
    }

    #[test]
    fn namespace_links_name_their_inode() {
        assert_eq!(namespace_inode("pid:[4026531836]"), Some(INITIAL_PID_NAMESPACE));
        assert_eq!(namespace_inode("pid:[4026532178]"), Some(4_026_532_178));
        assert_eq!(namespace_inode("net:[4026531836]"), None);
        assert_eq!(namespace_inode("garbage"), None);
    }

    #[test]
    fn this_process_reads_as_alive_with_memory() {
        let me = read_stat(std::process::id()).expect("/proc/self/stat");
        assert_eq!(me.pid, std::process::id());
        assert!(me.rss_pages > 0 && !me.zombie && me.parent > 0);
        assert!(scan().expect("/proc").iter().any(|p| p.pid == me.pid));
    }
}
