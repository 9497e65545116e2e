//! Which transcripts belong to a run: those its process tree holds open, and
//! Claude Code's in the project folders of the tree's working directories (the
//! module docs of `transcripts` say why both). Everything here reads /proc and
//! directories: blocking.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Agent, Roots};

/// The most processes walked in one tree: a fork bomb under a run must not
/// make the worker walk forever.
const MAX_TREE: usize = 4096;

/// How deep below a project folder transcripts are looked for: Claude Code
/// writes a subagent's as `<session>/subagents/agent-<id>.jsonl`.
const MAX_DEPTH: usize = 2;

/// The roots, also as the kernel names them: `/proc/PID/fd` links are
/// resolved paths, so a root under a symlinked home must be compared resolved.
#[derive(Debug, Clone)]
pub(super) struct Known {
    /// Each Claude root, as given and resolved.
    claude: Vec<PathBuf>,
    /// Each Codex root, as given and resolved.
    codex: Vec<PathBuf>,
}

impl Known {
    /// `roots`, each also resolved where it exists now.
    pub fn new(roots: &Roots) -> Known {
        let both = |dirs: &[PathBuf]| {
            let mut all: Vec<PathBuf> = dirs.to_vec();
            all.extend(dirs.iter().filter_map(|d| d.canonicalize().ok()));
            all.sort();
            all.dedup();
            all
        };
        Known { claude: both(&roots.claude), codex: both(&roots.codex) }
    }

    /// Whose transcript `path` is, if it is one under a root.
    pub fn agent_of(&self, path: &Path) -> Option<Agent> {
        if path.extension().is_none_or(|ext| ext != "jsonl") {
            return None;
        }
        if self.codex.iter().any(|root| path.starts_with(root)) {
            Some(Agent::Codex)
        } else if self.claude.iter().any(|root| path.starts_with(root)) {
            Some(Agent::ClaudeCode)
        } else {
            None
        }
    }
}

/// `root` and its descendants now, from each thread's children list; empty
/// when `root` is gone.
pub(super) fn tree(root: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        if found.len() >= MAX_TREE || !seen.insert(pid) {
            continue;
        }
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { continue };
        found.push(pid);
        for task in tasks.filter_map(Result::ok) {
            if let Ok(children) = std::fs::read_to_string(task.path().join("children")) {
                stack.extend(children.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    found
}

/// The transcripts `pids` hold open, with their agent.
pub(super) fn open_files(pids: &[u32], known: &Known) -> Vec<(PathBuf, Agent)> {
    let mut files = Vec::new();
    for pid in pids {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { continue };
        for fd in fds.filter_map(Result::ok) {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            if let Some(agent) = known.agent_of(&target) {
                files.push((target, agent));
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The working directories of `pids`.
pub(super) fn cwds(pids: &[u32]) -> Vec<PathBuf> {
    pids.iter().filter_map(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).ok()).collect()
}

/// The folder names Claude Code may have given `cwd`'s transcripts: every
/// character but an ASCII letter or digit becomes `-` (one per UTF-16 unit, as
/// its JavaScript replace does), and, in case a version replaced only `/` and
/// `.`, that form too.
pub(super) fn project_folders(cwd: &Path) -> Vec<String> {
    let text = cwd.to_string_lossy();
    let every: String = text
        .chars()
        .flat_map(|c| {
            let keep = c.is_ascii_alphanumeric();
            std::iter::repeat_n(if keep { c } else { '-' }, if keep { 1 } else { c.len_utf16() })
        })
        .collect();
    let slashes_and_dots: String = text.chars().map(|c| if c == '/' || c == '.' { '-' } else { c }).collect();
    let mut names = vec![every];
    if slashes_and_dots != names[0] {
        names.push(slashes_and_dots);
    }
    names
}

/// Claude Code's transcripts for the working directories `cwds`, modified at
/// or after `since`.
pub(super) fn project_files(
    claude_roots: &[PathBuf],
    cwds: &BTreeSet<PathBuf>,
    since: SystemTime,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for root in claude_roots {
        for cwd in cwds {
            for name in project_folders(cwd) {
                // A name is one path component: never let it climb out of the root.
                if name.is_empty() || name.contains('/') {
                    continue;
                }
                jsonl_files(&root.join(name), since, MAX_DEPTH, &mut files);
            }
        }
    }
    files.sort();
    files.dedup();
    files
}

/// The most of a rollout's first line read for its working directory: the
/// `session_meta` line carries the session's instructions before it.
const MAX_META_BYTES: u64 = 256 * 1024;

/// Codex's rollouts modified at or after `since` whose session ran in one of
/// `cwds` (its `session_meta` line's `cwd`): a Codex run can end between two
/// polls, when nothing holds its rollout open any more. Looked for in the
/// roots' `YYYY/MM/DD` folders of the days from `since` to now (local time, as
/// Codex names them) and flat in the roots (older versions). `checked` keeps
/// each file's answer, so a first line is read once.
pub(super) fn codex_files(
    codex_roots: &[PathBuf],
    cwds: &BTreeSet<PathBuf>,
    since: SystemTime,
    checked: &mut std::collections::BTreeMap<PathBuf, bool>,
) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    let first_day = chrono::DateTime::<chrono::Local>::from(since).date_naive();
    let today = chrono::Local::now().date_naive();
    for root in codex_roots {
        jsonl_files(root, since, 0, &mut candidates);
        // A run longer than a few days still looks at its first and last days.
        for day in first_day.iter_days().take_while(|d| *d <= today).take(7).chain([today]) {
            let dir = root.join(day.format("%Y/%m/%d").to_string());
            jsonl_files(&dir, since, 0, &mut candidates);
        }
    }
    candidates.sort();
    candidates.dedup();
    let mut found = Vec::new();
    for path in candidates {
        let ours = match checked.get(&path) {
            Some(ours) => *ours,
            // Only a definite answer is kept: a first line not written whole
            // yet is looked at again at the next poll.
            None => match meta_cwd(&path) {
                Some(cwd) => {
                    let ours = cwd.is_some_and(|c| cwds.contains(&c));
                    checked.insert(path.clone(), ours);
                    ours
                }
                None => false,
            },
        };
        if ours {
            found.push(path);
        }
    }
    found
}

/// The working directory a rollout's `session_meta` line names (`Some(None)`:
/// it names none, or the line is not one); `None` while its first line is not
/// whole yet or cannot be read. Blocking.
fn meta_cwd(path: &Path) -> Option<Option<PathBuf>> {
    use std::io::{BufRead, Read};
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "type")]
        kind: String,
        payload: Payload,
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        cwd: Option<PathBuf>,
    }
    let file = std::fs::File::open(path).ok()?;
    let mut first = Vec::new();
    std::io::BufReader::new(file.take(MAX_META_BYTES)).read_until(b'\n', &mut first).ok()?;
    if first.last() != Some(&b'\n') {
        // Not whole yet, or longer than is read: a definite no only past the bound.
        return (first.len() as u64 >= MAX_META_BYTES).then_some(None);
    }
    let Ok(meta) = serde_json::from_slice::<Meta>(&first) else { return Some(None) };
    Some(if meta.kind == "session_meta" { meta.payload.cwd } else { None })
}

/// The `.jsonl` files in `dir` and `depth` levels below modified at or after
/// `since`.
fn jsonl_files(dir: &Path, since: SystemTime, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else { continue };
        let path = entry.path();
        if kind.is_dir() && depth > 0 {
            jsonl_files(&path, since, depth - 1, out);
        } else if kind.is_file()
            && path.extension().is_some_and(|ext| ext == "jsonl")
            && entry.metadata().and_then(|m| m.modified()).is_ok_and(|modified| modified >= since)
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use super::super::tail::tests::scratch;
    use super::*;

    #[test]
    fn a_codex_rollout_is_the_runs_when_its_session_ran_in_the_runs_folder() {
        let dir = scratch("rollout-cwd");
        let root = dir.join("sessions");
        let today = root.join(chrono::Local::now().format("%Y/%m/%d").to_string());
        std::fs::create_dir_all(&today).expect("mkdir");
        let meta = |cwd: &str| {
            format!(
                "{{\"timestamp\":\"2026-12-03T05:00:00Z\",\"type\":\"session_meta\",\"payload\":{{\"id\":\"a\",\"cwd\":\"{cwd}\",\"instructions\":\"secret\"}}}}\n"
            )
        };
        std::fs::write(today.join("rollout-a.jsonl"), meta("/work/my.app")).expect("write");
        std::fs::write(today.join("rollout-b.jsonl"), meta("/work/other")).expect("write");
        std::fs::write(today.join("rollout-c.jsonl"), "not json\n").expect("write");
        let cwds: BTreeSet<PathBuf> = [PathBuf::from("/work/my.app")].into();
        let since = SystemTime::now() - Duration::from_secs(60);
        let mut checked = std::collections::BTreeMap::new();
        let found = codex_files(std::slice::from_ref(&root), &cwds, since, &mut checked);
        assert_eq!(found, [today.join("rollout-a.jsonl")]);
        assert_eq!(checked.values().filter(|v| **v).count(), 1);
        assert_eq!(checked.len(), 3, "each looked at once, its answer kept");
        // Modified before the run started: not looked at.
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(codex_files(std::slice::from_ref(&root), &cwds, later, &mut checked).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_working_directory_is_named_as_claude_code_names_its_folder() {
        assert_eq!(project_folders(Path::new("/home/me/my.app")), ["-home-me-my-app"]);
        assert_eq!(project_folders(Path::new("/srv/a_b")), ["-srv-a-b", "-srv-a_b"]);
        assert_eq!(project_folders(Path::new("/x/é")), ["-x--", "-x-é"]);
    }

    /// A shell under which `script` runs, killed with its children on drop.
    pub(crate) struct Shell(std::process::Child);

    impl Shell {
        /// `script` run by `sh` in `cwd`.
        pub(crate) fn start(script: &str, cwd: &Path) -> Shell {
            let child = std::process::Command::new("sh")
                .args(["-c", script])
                .current_dir(cwd)
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("sh starts");
            Shell(child)
        }

        /// The shell's pid.
        pub(crate) fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Shell {
        fn drop(&mut self) {
            for pid in tree(self.0.id()).into_iter().rev() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Waits up to 5 s for `found` to hold.
    fn eventually(mut found: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if found() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn a_rollout_a_child_holds_open_is_found_and_others_are_not() {
        let dir = scratch("open-files");
        let sessions = dir.join("codex/sessions/2025/10/01");
        std::fs::create_dir_all(&sessions).expect("mkdir");
        let rollout = sessions.join("rollout-x.jsonl");
        let elsewhere = dir.join("other.jsonl");
        let roots =
            Roots { claude: vec![dir.join("claude/projects")], codex: vec![dir.join("codex/sessions")] };
        let known = Known::new(&roots);
        // The root shell's child holds the rollout open; the other file is
        // open too, but under no root.
        let script = format!(
            "sh -c 'exec 3>>\"{}\" 4>>\"{}\"; sleep 30' & wait",
            rollout.display(),
            elsewhere.display()
        );
        let shell = Shell::start(&script, &dir);
        let root = shell.pid();
        let mut files = Vec::new();
        assert!(
            eventually(|| {
                files = open_files(&tree(root), &known);
                !files.is_empty()
            }),
            "the child's open rollout is found"
        );
        let resolved = rollout.canonicalize().expect("exists");
        assert_eq!(files, [(resolved, Agent::Codex)]);
        assert!(tree(root).len() >= 2, "the root and its child");
        drop(shell);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn claude_transcripts_are_found_by_the_trees_working_directory_only() {
        let dir = scratch("project-folder");
        let work = dir.join("my.app");
        std::fs::create_dir_all(&work).expect("mkdir");
        let work = work.canonicalize().expect("resolves");
        let projects = dir.join("projects");
        let mine = projects.join(&project_folders(&work)[0]);
        let theirs = projects.join(&project_folders(&dir.join("other"))[0]);
        for folder in [&mine, &theirs] {
            std::fs::create_dir_all(folder.join("s1/subagents")).expect("mkdir");
        }
        let since = SystemTime::now() - Duration::from_secs(1);
        std::fs::write(mine.join("s1.jsonl"), "{}\n").expect("writes");
        std::fs::write(mine.join("s1/subagents/agent-1.jsonl"), "{}\n").expect("writes");
        std::fs::write(mine.join("notes.txt"), "").expect("writes");
        std::fs::write(theirs.join("s2.jsonl"), "{}\n").expect("writes");

        let shell = Shell::start("sleep 30", &work);
        let mut cwd_seen = BTreeSet::new();
        assert!(eventually(|| {
            cwd_seen = cwds(&tree(shell.pid())).into_iter().collect();
            cwd_seen.contains(&work)
        }));
        let files = project_files(std::slice::from_ref(&projects), &cwd_seen, since);
        assert_eq!(files, [mine.join("s1/subagents/agent-1.jsonl"), mine.join("s1.jsonl")]);
        let later = SystemTime::now() + Duration::from_secs(60);
        assert!(project_files(&[projects], &cwd_seen, later).is_empty(), "none modified since");
        drop(shell);
        let _ = std::fs::remove_dir_all(dir);
    }
}
