//! The alerts still waiting for a configured destination, kept on disk until
//! they are delivered or given up, so that a restart (an upgrade, a reboot)
//! while a receiver is down does not lose them: the next start queues them
//! again, in order, for the destination of the same name.
//!
//! A file per alert and destination in the data directory's `alerts-outbox/`,
//! written (whole, then renamed into place) before the alert is queued and
//! removed when its delivery ends. Files rather than the store's tables: a
//! queued alert is written before `send` returns, not at a writer's commit
//! later, and the delivery threads touch no database. Not synced: a crash of
//! PerfMon loses nothing written, a crash of the machine may lose the newest.
//! A run's end alerted just before such a crash may come twice: once from
//! here, and once as an end the store had not marked alerted. Only the destination's
//! name and the event are written, never its URL (a secret): a destination
//! renamed or removed from the configuration since is not guessed at; its
//! alerts are dropped with a warning. A file that cannot be read is renamed
//! `*.unreadable` and left for a person, never retried nor deleted.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use shared::alerts::AlertEvent;

/// The folder under the data directory.
pub const DIR: &str = "alerts-outbox";

/// What a kept file says.
#[derive(Debug, Serialize, Deserialize)]
struct Kept {
    /// The configured destination's name.
    destination: String,
    /// The alert, as it was to be sent.
    event: AlertEvent,
}

/// An alert read back at start.
#[derive(Debug)]
pub struct Pending {
    /// Its file, removed once it is delivered or given up.
    pub path: PathBuf,
    /// The destination's name.
    pub destination: String,
    /// The alert.
    pub event: AlertEvent,
}

/// The outbox folder.
#[derive(Debug)]
pub struct Outbox {
    /// The folder.
    dir: PathBuf,
    /// The next file's number: files sort in the order alerts were queued.
    next: AtomicU64,
}

impl Outbox {
    /// The outbox in `dir` (created, private to the user, where missing).
    /// Blocking.
    pub fn open(dir: &Path) -> std::io::Result<Outbox> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let mut last = None;
        for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
            let name = entry.file_name().to_string_lossy().into_owned();
            // A write a crash cut short: its alert was never queued.
            if name.ends_with(".partial") {
                let _ = std::fs::remove_file(entry.path());
            }
            // Set-aside files keep their numbers too: a new one never takes
            // the name of one left for a person.
            last = last.max(numbered(&name).map(|(n, _)| n));
        }
        Ok(Outbox { dir: dir.to_owned(), next: AtomicU64::new(last.map_or(1, |n| n + 1)) })
    }

    /// Writes `event` for `destination`; its file, or `None` (logged) when it
    /// could not be written: the alert is still sent, only not kept across a
    /// restart. Blocking.
    pub fn keep(&self, destination: &str, event: &AlertEvent) -> Option<PathBuf> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{n:012}.json"));
        let kept = Kept { destination: destination.to_owned(), event: event.clone() };
        let written = serde_json::to_vec(&kept).map_err(std::io::Error::other).and_then(|bytes| {
            let partial = path.with_extension("partial");
            std::fs::write(&partial, bytes)?;
            std::fs::rename(&partial, &path)
        });
        match written {
            Ok(()) => Some(path),
            Err(err) => {
                tracing::warn!(%destination, "cannot keep an alert in {}: {err}", self.dir.display());
                None
            }
        }
    }

    /// The alerts kept by an earlier start, oldest first. An unreadable file
    /// is set aside as `*.unreadable`, with a warning. Blocking.
    pub fn pending(&self) -> Vec<Pending> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        let mut files: Vec<(u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| match numbered(&entry.file_name().to_string_lossy()) {
                Some((n, "json")) => Some((n, entry.path())),
                _ => None,
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| {
                let read = std::fs::read(&path)
                    .map_err(|err| err.to_string())
                    .and_then(|bytes| serde_json::from_slice::<Kept>(&bytes).map_err(|err| err.to_string()));
                match read {
                    Ok(Kept { destination, event }) => Some(Pending { path, destination, event }),
                    Err(err) => {
                        let aside = path.with_extension("unreadable");
                        tracing::warn!(
                            "a kept alert could not be read ({err}); left as {} and not sent",
                            aside.display()
                        );
                        let _ = std::fs::rename(&path, &aside);
                        None
                    }
                }
            })
            .collect()
    }
}

/// Forgets a kept alert: delivered, or given up. Blocking.
pub fn done(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("cannot remove the kept alert {}: {err}", path.display());
    }
}

/// The number and extension of a file's name here (`000000000042.json`).
fn numbered(name: &str) -> Option<(u64, &str)> {
    let (stem, extension) = name.split_once('.')?;
    Some((stem.parse().ok()?, extension))
}
