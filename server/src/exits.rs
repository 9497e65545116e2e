//! Exit reports `perfmon run` could not hand to a server — it was down, or
//! restarting, when the command ended — kept until the server on that port
//! starts again and records them, so a run is remembered as `exited 3` rather
//! than `interrupted`.
//!
//! They are kept in `exits-PORT/` beside the control secret the wrapper found
//! for that server (else in the first of the control directories): a directory
//! only the user can read. The wrapper and the restarted server may disagree
//! about `XDG_RUNTIME_DIR` (one of them started by cron or sudo, say), so a
//! server at start reads every candidate directory ([`search_dirs`]), not only
//! its own. A report holds a project, a run id, an exit code or signal and a
//! CPU time: nothing private.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shared::api::ExitReport;

/// One exit report waiting for its server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingExit {
    /// The run's project.
    pub project: String,
    /// The run.
    pub run_id: String,
    /// How its command ended.
    pub report: ExitReport,
}

/// Where the reports for the server on `port` wait, under the control directory.
pub fn dir(control_dir: &Path, port: u16) -> PathBuf {
    control_dir.join(format!("exits-{port}"))
}

/// Every directory exits for a server may wait in: its own control directory,
/// then each of `others` (the CLI gives [`crate::control::candidate_dirs`]),
/// each once.
pub fn search_dirs(control_dir: &Path, others: &[PathBuf]) -> Vec<PathBuf> {
    crate::control::distinct(std::iter::once(control_dir.to_owned()).chain(others.iter().cloned()))
}

/// Keeps `exit` for the server on `port`; the file it is in. Blocking.
pub fn save(control_dir: &Path, port: u16, exit: &PendingExit) -> std::io::Result<PathBuf> {
    let dir = dir(control_dir, port);
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
    // Run ids are `{pid}-{RFC 3339}`: only digits, letters, '-' and ':' (kept off
    // the file name).
    let name: String =
        exit.run_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let path = dir.join(format!("{name}.json"));
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    file.write_all(serde_json::to_string(exit).map_err(std::io::Error::other)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The reports waiting for the server on `port`, each with its file (remove it
/// once recorded). A file that does not read as a report is set aside
/// (`.unreadable`) and logged, not retried at every start. Blocking.
pub fn waiting(control_dir: &Path, port: u16) -> Vec<(PendingExit, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir(control_dir, port)) else { return Vec::new() };
    let mut found = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match std::fs::read_to_string(&path).ok().and_then(|text| serde_json::from_str(&text).ok()) {
            Some(exit) => found.push((exit, path)),
            None => {
                tracing::warn!("an exit report that does not read is set aside: {}", path.display());
                let _ = std::fs::rename(&path, path.with_extension("unreadable"));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_report_waits_for_its_port_only_and_a_bad_file_is_set_aside() {
        let control = std::env::temp_dir().join(format!("perfmon-exits-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&control);
        let exit = PendingExit {
            project: "demo".into(),
            run_id: "42-2026-12-01T10:00:00Z".into(),
            report: ExitReport::exited(3),
        };
        let path = save(&control, 8000, &exit).expect("saved");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("the file").permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the user can read it");
        assert!(waiting(&control, 9000).is_empty(), "another port's server does not take it");
        std::fs::write(dir(&control, 8000).join("junk.json"), "{").expect("a bad file");
        let found = waiting(&control, 8000);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, exit);
        assert!(dir(&control, 8000).join("junk.unreadable").exists(), "set aside, not deleted");
        assert!(waiting(&control, 8000).len() == 1, "still waiting until it is recorded");
        let _ = std::fs::remove_dir_all(&control);
    }
}
