//! The control secret: without a configured token, every write (registering,
//! ending or signalling a run, reporting tokens) needs this per-server secret,
//! which only the user who started PerfMon can read.
//!
//! It is made at start from the OS's random source and kept in a file of mode
//! 0600 in a directory of mode 0700 — the first of [`candidate_dirs`]:
//! `$XDG_RUNTIME_DIR/perfmon` (a per-user tmpfs), else the standard
//! `/run/user/UID/perfmon`, else PerfMon's state directory — named by the port,
//! where the `perfmon` CLI finds it, looking in every candidate. Another local
//! account can reach the loopback port, but not the file: it cannot act through
//! PerfMon with the user's rights.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Bytes of randomness in a secret (hex-encoded, twice as many characters).
const SECRET_BYTES: usize = 32;

/// Why the secret could not be made, stored or read.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The OS gave no randomness.
    #[error("no randomness from the OS: {0}")]
    Random(String),
    /// The file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Someone else can read the file or its directory.
    #[error("{0} is readable by other users; PerfMon only trusts a secret only you can read")]
    Exposed(PathBuf),
}

/// A fresh secret: 32 random bytes as hex.
pub fn generate() -> Result<String, ControlError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|err| ControlError::Random(err.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Where the secret of the server on `port` lives for this user: the first of
/// [`candidate_paths`].
pub fn default_path(port: u16) -> Option<PathBuf> {
    candidate_paths(port).into_iter().next()
}

/// Every place the secret of the server on `port` may be, most likely first:
/// `control-PORT` in each of [`candidate_dirs`].
pub fn candidate_paths(port: u16) -> Vec<PathBuf> {
    let name = format!("control-{port}");
    candidate_dirs().into_iter().map(|dir| dir.join(&name)).collect()
}

/// Where logind makes each user's runtime directory (`/run/user/UID`).
const USER_RUNTIME_ROOT: &str = "/run/user";

/// Names another [`USER_RUNTIME_ROOT`]: for systems that keep runtime
/// directories elsewhere, and for tests, which must not touch the real one.
pub const USER_RUNTIME_ROOT_ENV: &str = "PERFMON_USER_RUNTIME_ROOT";

/// Every directory PerfMon may keep its control secrets (and `perfmon run` its
/// exit reports) in, most likely first: `$XDG_RUNTIME_DIR/perfmon`, the
/// standard `/run/user/UID/perfmon` when that runtime directory exists, and the
/// state directory. A server and a command can disagree about
/// `XDG_RUNTIME_DIR` (a service against a shell under sudo or cron, one of them
/// without it), so a command looks in each, and so does a server for exits kept
/// for it; the standard directory is where a service's runtime directory is,
/// when the command has none set.
pub fn candidate_dirs() -> Vec<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()).map(PathBuf::from);
    let root = std::env::var_os(USER_RUNTIME_ROOT_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(USER_RUNTIME_ROOT), PathBuf::from);
    unique_dirs(runtime, user_runtime_dir(&root), state_dir())
}

/// `perfmon` in the runtime directory, then in the standard one, then the state
/// directory, each once (`XDG_RUNTIME_DIR` usually is the standard directory).
fn unique_dirs(runtime: Option<PathBuf>, standard: Option<PathBuf>, state: Option<PathBuf>) -> Vec<PathBuf> {
    distinct(
        [runtime.map(|r| r.join("perfmon")), standard.map(|s| s.join("perfmon")), state]
            .into_iter()
            .flatten(),
    )
}

/// `dirs` in order, each once.
pub fn distinct(dirs: impl IntoIterator<Item = PathBuf>) -> Vec<PathBuf> {
    let mut unique: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        if !unique.contains(&dir) {
            unique.push(dir);
        }
    }
    unique
}

/// This user's runtime directory under `root` (`/run/user/UID`), when it exists
/// and is this user's: one made by someone else is no place for a secret.
fn user_runtime_dir(root: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    // The owner of /proc/self is this process's real user id (std has no getuid).
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = root.join(uid.to_string());
    let meta = std::fs::metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid).then_some(dir)
}

/// PerfMon's state directory: `$XDG_STATE_HOME/perfmon`, or
/// `~/.local/state/perfmon`.
pub fn state_dir() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_STATE_HOME").filter(|d| !d.is_empty()) {
        Some(state) => PathBuf::from(state),
        None => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".local/state"),
    };
    Some(base.join("perfmon"))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ControlError + '_ {
    move |source| ControlError::Io { path: path.to_owned(), source }
}

/// Stores `secret` at `path` (mode 0600, its directory 0700), replacing any
/// earlier one. Blocking.
pub fn write(path: &Path, secret: &str) -> Result<(), ControlError> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io(dir))?;
        let mode = std::fs::metadata(dir).map_err(io(dir))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(ControlError::Exposed(dir.to_owned()));
        }
    }
    // Written under a temporary name, then renamed: a reader never sees half a secret.
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
    file.write_all(secret.as_bytes()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// The secret stored at `path`, refusing one that other users could read. Blocking.
pub fn read(path: &Path) -> Result<String, ControlError> {
    let mode = std::fs::metadata(path).map_err(io(path))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(ControlError::Exposed(path.to_owned()));
    }
    Ok(std::fs::read_to_string(path).map_err(io(path))?.trim().to_owned())
}

/// Removes the secret at `path` if it is still `secret` (a newer server on the
/// same port may have replaced it). Blocking.
pub fn remove(path: &Path, secret: &str) {
    if read(path).is_ok_and(|stored| stored == secret) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testkit::Scratch;

    #[test]
    fn secrets_are_long_random_and_different() {
        let (a, b) = (generate().expect("random"), generate().expect("random"));
        assert_eq!(a.len(), 2 * SECRET_BYTES);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn only_the_owner_can_read_the_stored_secret() {
        let scratch = Scratch::new("control-own");
        let path = scratch.join("perfmon").join("control-8000");
        write(&path, "s3cret").expect("written");
        assert_eq!(std::fs::metadata(&path).expect("file").permissions().mode() & 0o777, 0o600);
        let dir = path.parent().expect("dir");
        assert_eq!(std::fs::metadata(dir).expect("dir").permissions().mode() & 0o777, 0o700);
        assert_eq!(read(&path).expect("read back"), "s3cret");
        // A secret others could read is not trusted.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(read(&path), Err(ControlError::Exposed(_))));
        // Replaced whole by the next server on the port.
        write(&path, "newer").expect("replaced");
        assert_eq!(read(&path).expect("read"), "newer");
        remove(&path, "s3cret");
        assert!(path.exists(), "only the server that wrote it removes it");
        remove(&path, "newer");
        assert!(!path.exists());
    }

    #[test]
    fn the_runtime_the_standard_and_the_state_directories_are_each_a_candidate_once() {
        let p = |s: &str| Some(PathBuf::from(s));
        let state = p("/home/u/.local/state/perfmon");
        assert_eq!(
            unique_dirs(p("/tmp/rt"), p("/run/user/7"), state.clone()),
            [
                PathBuf::from("/tmp/rt/perfmon"),
                "/run/user/7/perfmon".into(),
                "/home/u/.local/state/perfmon".into()
            ]
        );
        // The usual case: XDG_RUNTIME_DIR is the standard directory (a trailing
        // slash does not make it another).
        assert_eq!(
            unique_dirs(p("/run/user/7/"), p("/run/user/7"), state.clone()),
            [PathBuf::from("/run/user/7/perfmon"), "/home/u/.local/state/perfmon".into()]
        );
        // A command without XDG_RUNTIME_DIR (cron, sudo) still finds a service's.
        assert_eq!(
            unique_dirs(None, p("/run/user/7"), state.clone()),
            [PathBuf::from("/run/user/7/perfmon"), "/home/u/.local/state/perfmon".into()]
        );
        assert_eq!(unique_dirs(None, None, None), Vec::<PathBuf>::new());
    }

    #[test]
    fn the_standard_runtime_directory_counts_only_when_it_exists_and_is_ours() {
        use std::os::unix::fs::MetadataExt;
        let scratch = Scratch::new("control-user-root");
        let root = scratch.join("run-user");
        let uid = std::fs::metadata("/proc/self").expect("/proc/self").uid();
        assert_eq!(user_runtime_dir(&root), None, "absent");
        let dir = root.join(uid.to_string());
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(user_runtime_dir(&root), Some(dir));
    }

    #[test]
    fn a_shared_directory_is_refused() {
        let scratch = Scratch::new("control-shared");
        let dir = scratch.join("shared");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(matches!(write(&dir.join("control-1"), "x"), Err(ControlError::Exposed(_))));
    }
}
