//! The thread that follows runs' transcripts: [`Transcripts`]. Reading
//! transcripts and /proc blocks, so it never runs on an async worker; callers
//! only send commands and read the latest results.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use super::find::{self, Known};
use super::tail::{SharedClaims, TranscriptFile};
use super::{Agent, Roots, RunTranscripts, SessionUsage};

/// How often every followed run's transcripts are looked at.
pub const POLL_EVERY: Duration = Duration::from_secs(2);

/// A run with no transcript found this long after it was first followed is
/// looked at every [`QUIET_POLL_EVERY`] instead: most runs are not agents
/// (builds, training jobs), and looking means a scan of `/proc`, each of the
/// tree's open files and the agents' folders. An agent started later in such a
/// run is found that much later; its lines since the run's start still count.
const QUIET_AFTER: Duration = Duration::from_secs(60);

/// How often a run without a transcript is looked at after [`QUIET_AFTER`].
const QUIET_POLL_EVERY: Duration = Duration::from_secs(10);

/// The longest [`Transcripts::poll_now`] waits for the thread.
const POLL_NOW_WAIT: Duration = Duration::from_secs(1);

/// File times are coarse and the agents' clocks are the machine's: a
/// transcript last written this long before the run started is still looked
/// at (its lines before the start do not count anyway).
const MTIME_SLACK: Duration = Duration::from_secs(2);

/// What the callers ask of the thread.
enum Command {
    /// Begin following a run.
    Follow { run: String, root: u32, started_at: DateTime<Utc> },
    /// Stop following a run and drop its results.
    Forget(String),
    /// Read a run's transcripts now and answer with the result.
    PollNow(String, mpsc::SyncSender<Option<RunTranscripts>>),
    /// Read a run's transcripts at once and publish the result (its end).
    PollSoon(String),
    /// End the thread.
    Stop,
}

/// Each run's latest result, with its version.
type Latest = HashMap<String, (u64, RunTranscripts)>;

/// The transcripts worker: one thread, polling every [`POLL_EVERY`]; costs no
/// read when no transcript grew.
pub struct Transcripts {
    /// To the thread.
    commands: mpsc::Sender<Command>,
    /// Each run's latest result and its version (bumped only when the result
    /// changes), written by the thread, read by callers.
    latest: Arc<Mutex<Latest>>,
    /// Joined on drop, so no read outlives the owner.
    thread: Option<JoinHandle<()>>,
}

impl Transcripts {
    /// Starts the thread, with the agents' default directories ([`Roots::from_env`]).
    pub fn start() -> std::io::Result<Transcripts> {
        Transcripts::start_with(Roots::from_env())
    }

    /// Starts the thread, looking for transcripts under `roots`.
    pub fn start_with(roots: Roots) -> std::io::Result<Transcripts> {
        let (commands, received) = mpsc::channel();
        let latest = Arc::new(Mutex::new(HashMap::new()));
        let published = Arc::clone(&latest);
        let thread = std::thread::Builder::new()
            .name("transcripts".into())
            .spawn(move || work(&received, &published, &roots))?;
        Ok(Transcripts { commands, latest, thread: Some(thread) })
    }

    /// Begins following `run`, whose process tree is `root_pid`'s, from
    /// `started_at` on.
    pub fn follow(&self, run: &str, root_pid: u32, started_at: DateTime<Utc>) {
        // The thread only ends when this is dropped: a send cannot fail before.
        let _ = self.commands.send(Command::Follow { run: run.to_owned(), root: root_pid, started_at });
    }

    /// Stops following `run` and forgets what it found.
    pub fn forget(&self, run: &str) {
        self.lock().remove(run);
        let _ = self.commands.send(Command::Forget(run.to_owned()));
    }

    /// What `run`'s transcripts said at the latest poll; `None` until one is
    /// found.
    pub fn latest(&self, run: &str) -> Option<RunTranscripts> {
        self.lock().get(run).map(|(_, result)| result.clone())
    }

    /// `run`'s latest result and its version, when that is not `seen` (a
    /// caller asking every second copies nothing while nothing changed).
    pub fn changed(&self, run: &str, seen: u64) -> Option<(u64, RunTranscripts)> {
        self.lock().get(run).filter(|(version, _)| *version != seen).map(|(v, r)| (*v, r.clone()))
    }

    /// Has `run`'s transcripts read at once, without waiting: for a run's end,
    /// whose [`latest`](Self::latest) is read a moment later (a quiet run
    /// would otherwise wait out [`QUIET_POLL_EVERY`]).
    pub fn poll_soon(&self, run: &str) {
        let _ = self.commands.send(Command::PollSoon(run.to_owned()));
    }

    /// Reads `run`'s transcripts now and waits for the result (at most a
    /// second, then the latest): for a run's end. Blocking.
    pub fn poll_now(&self, run: &str) -> Option<RunTranscripts> {
        let (reply, answer) = mpsc::sync_channel(1);
        if self.commands.send(Command::PollNow(run.to_owned(), reply)).is_ok()
            && let Ok(result) = answer.recv_timeout(POLL_NOW_WAIT)
        {
            return result;
        }
        self.latest(run)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Latest> {
        // A panic elsewhere while holding it left whole results: still good.
        self.latest.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Transcripts {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread's loop: commands as they come, each run when its poll is due.
fn work(commands: &mpsc::Receiver<Command>, latest: &Mutex<Latest>, roots: &Roots) {
    let mut runs: HashMap<String, RunState> = HashMap::new();
    let mut version = 0u64;
    let mut publish = |run: &str, result: Option<RunTranscripts>| {
        let Some(result) = result else { return };
        let mut latest = latest.lock().unwrap_or_else(PoisonError::into_inner);
        if latest.get(run).is_none_or(|(_, had)| *had != result) {
            version += 1;
            latest.insert(run.to_owned(), (version, result));
        }
    };
    loop {
        // Asleep until the first run is due; with none, until a command.
        let command = match runs.values().map(|state| state.next_poll).min() {
            Some(next) => commands.recv_timeout(next.saturating_duration_since(Instant::now())),
            None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match command {
            Ok(Command::Follow { run, root, started_at }) => {
                // Roots that did not exist at start may exist now.
                runs.insert(run, RunState::new(root, started_at, Known::new(roots)));
            }
            Ok(Command::Forget(run)) => {
                runs.remove(&run);
                latest.lock().unwrap_or_else(PoisonError::into_inner).remove(&run);
            }
            Ok(Command::PollNow(run, reply)) => {
                // (The poll sets the next: not read again below if it was due.)
                let result = runs.get_mut(&run).and_then(|state| {
                    state.poll(roots);
                    state.result()
                });
                publish(&run, result.clone());
                let _ = reply.send(result);
            }
            Ok(Command::PollSoon(run)) => {
                if let Some(state) = runs.get_mut(&run) {
                    state.next_poll = Instant::now();
                }
            }
            Ok(Command::Stop) | Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        for (run, state) in runs.iter_mut().filter(|(_, state)| state.next_poll <= now) {
            state.poll(roots);
            publish(run, state.result());
        }
    }
}

/// One followed run.
pub(super) struct RunState {
    /// The root of its process tree.
    root: u32,
    /// Lines stamped earlier are not the run's.
    started_at: DateTime<Utc>,
    /// Transcripts last modified earlier are not looked at.
    modified_since: SystemTime,
    /// The roots, resolved when the run was first followed.
    known: Known,
    /// Every working directory seen in the tree: the project folders.
    cwds: BTreeSet<PathBuf>,
    /// The transcripts attributed to it, by resolved path (a file found both
    /// ways, or through a symlinked root, is one file).
    files: BTreeMap<PathBuf, TranscriptFile>,
    /// Whether a file was found open.
    by_open_file: bool,
    /// The messages its files counted, so one written to two counts once.
    claims: SharedClaims,
    /// Whether a Codex rollout was found by the working directory it names.
    by_rollout_cwd: bool,
    /// Each Codex rollout looked at: whether its session ran in the tree's
    /// working directories.
    rollouts_checked: BTreeMap<PathBuf, bool>,
    /// Whether a file was found in a project folder.
    by_folder: bool,
    /// When it was first followed.
    followed_at: Instant,
    /// When it is next looked at.
    next_poll: Instant,
}

impl RunState {
    pub(super) fn new(root: u32, started_at: DateTime<Utc>, known: Known) -> RunState {
        let start = SystemTime::from(started_at);
        RunState {
            root,
            started_at,
            modified_since: start.checked_sub(MTIME_SLACK).unwrap_or(start),
            known,
            cwds: BTreeSet::new(),
            files: BTreeMap::new(),
            by_open_file: false,
            claims: SharedClaims::default(),
            by_folder: false,
            by_rollout_cwd: false,
            rollouts_checked: BTreeMap::new(),
            followed_at: Instant::now(),
            next_poll: Instant::now() + POLL_EVERY,
        }
    }

    /// How long after a poll at `now` the next one is: [`POLL_EVERY`], or
    /// [`QUIET_POLL_EVERY`] once [`QUIET_AFTER`] passed with no file found.
    fn poll_every(&self, now: Instant) -> Duration {
        let quiet = self.files.is_empty() && now.saturating_duration_since(self.followed_at) >= QUIET_AFTER;
        if quiet { QUIET_POLL_EVERY } else { POLL_EVERY }
    }

    /// Attributes new files, then reads what every file gained, and sets
    /// when the next poll is due. Blocking.
    pub(super) fn poll(&mut self, roots: &Roots) {
        let pids = find::tree(self.root);
        for (path, agent) in find::open_files(&pids, &self.known) {
            if !self.files.contains_key(&path) {
                self.by_open_file = true;
                let file = self.file(path.clone(), agent);
                self.files.insert(path, file);
            }
        }
        let known_cwds = self.cwds.len();
        self.cwds.extend(find::cwds(&pids));
        if self.cwds.len() > known_cwds {
            // A rollout ruled out for the folders known then may be in a new one.
            self.rollouts_checked.retain(|_, ours| *ours);
        }
        for path in find::project_files(&roots.claude, &self.cwds, self.modified_since) {
            let Ok(path) = path.canonicalize() else { continue };
            if !self.files.contains_key(&path) {
                self.by_folder = true;
                let file = self.file(path.clone(), Agent::ClaudeCode);
                self.files.insert(path, file);
            }
        }
        let rollouts =
            find::codex_files(&roots.codex, &self.cwds, self.modified_since, &mut self.rollouts_checked);
        for path in rollouts {
            let Ok(path) = path.canonicalize() else { continue };
            if !self.files.contains_key(&path) {
                self.by_rollout_cwd = true;
                let file = self.file(path.clone(), Agent::Codex);
                self.files.insert(path, file);
            }
        }
        for file in self.files.values_mut() {
            // A file that cannot be read now keeps what it said; the next
            // poll tries again.
            let _ = file.poll();
        }
        let now = Instant::now();
        self.next_poll = now + self.poll_every(now);
    }

    /// A new file of the run's, sharing its claims.
    fn file(&self, path: PathBuf, agent: Agent) -> TranscriptFile {
        let number = u32::try_from(self.files.len()).unwrap_or(u32::MAX);
        TranscriptFile::in_run(path, agent, self.started_at, self.claims.clone(), number)
    }

    /// What the files say, each session's shares merged; `None` without a file.
    pub(super) fn result(&self) -> Option<RunTranscripts> {
        if self.files.is_empty() {
            return None;
        }
        let mut sessions: BTreeMap<(Agent, &str), SessionUsage> = BTreeMap::new();
        for share in self.files.values().flat_map(TranscriptFile::sessions) {
            match sessions.get_mut(&(share.agent, share.session.as_str())) {
                Some(session) => session.merge(share),
                None => {
                    sessions.insert((share.agent, share.session.as_str()), share.clone());
                }
            }
        }
        let how = match (self.by_open_file, self.by_folder, self.by_rollout_cwd) {
            (true, true, true) => "open files, project folder and rollout working directory",
            (true, true, false) => "open files and project folder",
            (true, false, true) => "open files and rollout working directory",
            (true, false, false) => "open files",
            (false, true, true) => "project folder and rollout working directory",
            (false, false, true) => "rollout working directory",
            (false, _, false) => "project folder",
        };
        Some(RunTranscripts {
            sessions: sessions.into_values().collect(),
            malformed_lines: self.files.values().map(TranscriptFile::malformed).sum(),
            how,
        })
    }

    /// The `read(2)` calls made on its transcripts so far.
    #[allow(dead_code, reason = "how the tests and the bench prove an unchanged file costs no read")]
    pub(super) fn reads(&self) -> u64 {
        self.files.values().map(TranscriptFile::reads).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::find::tests::Shell;
    use super::super::tail::tests::{append, fixture, scratch};
    use super::super::{Usage, find::project_folders};
    use super::*;

    const ROLLOUT: &str = "rollout-2025-10-01T12-00-00-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl";

    /// Scratch roots: a Claude `projects/` with a folder for `work`, which a
    /// session wrote the Claude fixture in, a folder for another directory
    /// with the same fixture, and a Codex `sessions/` with the rollout fixture.
    struct Setup {
        dir: PathBuf,
        work: PathBuf,
        roots: Roots,
        claude: PathBuf,
        rollout: PathBuf,
    }

    impl Setup {
        fn new(name: &str) -> Setup {
            let dir = scratch(name);
            let work = dir.join("my.app");
            std::fs::create_dir_all(&work).expect("mkdir");
            let work = work.canonicalize().expect("resolves");
            let roots =
                Roots { claude: vec![dir.join("claude/projects")], codex: vec![dir.join("codex/sessions")] };
            let folder = roots.claude[0].join(&project_folders(&work)[0]);
            let elsewhere = roots.claude[0].join(&project_folders(&dir.join("other"))[0]);
            let day = roots.codex[0].join("2025/10/01");
            for d in [&folder, &elsewhere, &day] {
                std::fs::create_dir_all(d).expect("mkdir");
            }
            let claude = fixture("claude.jsonl", &folder, "8d1c.jsonl");
            fixture("claude.jsonl", &elsewhere, "9e2d.jsonl");
            let rollout = fixture(ROLLOUT, &day, ROLLOUT);
            Setup { dir, work, roots, claude, rollout }
        }
    }

    impl Drop for Setup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn started() -> DateTime<Utc> {
        "2025-10-01T00:00:00Z".parse().expect("a timestamp")
    }

    const CLAUDE_TOTAL: Usage = Usage { input: 20, output: 64, cache_write: 120, cache_read: 2200 };

    #[test]
    fn a_run_counts_its_project_folder_only_and_an_unchanged_poll_reads_nothing() {
        let setup = Setup::new("worker-folder");
        let shell = Shell::start("sleep 30", &setup.work);
        let mut run = RunState::new(shell.pid(), started(), Known::new(&setup.roots));
        assert_eq!(run.result(), None, "nothing found yet");
        run.poll(&setup.roots);
        let result = run.result().expect("the folder's transcript");
        assert_eq!(result.how, "project folder");
        assert_eq!(result.total(), CLAUDE_TOTAL, "the other folder's transcript is not counted");
        assert_eq!(result.malformed_lines, 2);
        assert_eq!(result.source(), Some(Agent::ClaudeCode));
        let reads = run.reads();
        assert!(reads > 0);
        run.poll(&setup.roots);
        run.poll(&setup.roots);
        assert_eq!(run.reads(), reads, "no transcript grew: no read");
        assert_eq!(run.result(), Some(result));

        // Claude Code writes a subagent's messages to its own file too: the
        // copies count once.
        let subagents = setup.claude.with_extension("").join("subagents");
        std::fs::create_dir_all(&subagents).expect("mkdir");
        fixture("claude.jsonl", &subagents, "agent-1.jsonl");
        run.poll(&setup.roots);
        assert_eq!(run.result().expect("both files").total(), CLAUDE_TOTAL, "each message once");
    }

    #[test]
    fn a_run_with_no_transcript_after_a_minute_is_looked_at_every_ten_seconds() {
        let setup = Setup::new("worker-quiet");
        let plain = setup.dir.join("plain");
        std::fs::create_dir_all(&plain).expect("mkdir");
        let quiet = Shell::start("sleep 30", &plain);
        let mut run = RunState::new(quiet.pid(), started(), Known::new(&setup.roots));
        run.poll(&setup.roots);
        assert_eq!(run.result(), None, "no transcript in that folder");
        let at = |secs| run.followed_at + Duration::from_secs(secs);
        assert_eq!(run.poll_every(at(0)), POLL_EVERY);
        assert_eq!(run.poll_every(at(59)), POLL_EVERY, "a minute to find one at full cadence");
        assert_eq!(run.poll_every(at(60)), QUIET_POLL_EVERY);

        // A run that found its transcript keeps the full cadence.
        let agent = Shell::start("sleep 30", &setup.work);
        let mut run = RunState::new(agent.pid(), started(), Known::new(&setup.roots));
        run.poll(&setup.roots);
        assert!(run.result().is_some(), "the project folder's transcript");
        assert_eq!(run.poll_every(run.followed_at + Duration::from_secs(600)), POLL_EVERY);
    }

    #[test]
    fn poll_soon_has_a_run_read_before_its_regular_poll() {
        let setup = Setup::new("worker-soon");
        let shell = Shell::start("sleep 30", &setup.work);
        let transcripts = Transcripts::start_with(setup.roots.clone()).expect("the thread starts");
        let followed = Instant::now();
        transcripts.follow("r1", shell.pid(), started());
        transcripts.poll_soon("r1");
        // The regular first poll is POLL_EVERY (2 s) after following; asked
        // soon, the result is there well before.
        while transcripts.latest("r1").is_none() && followed.elapsed() < POLL_EVERY {
            std::thread::sleep(Duration::from_millis(10));
        }
        let found = followed.elapsed();
        assert!(transcripts.latest("r1").is_some(), "read at once");
        assert!(found < POLL_EVERY / 2, "read {found:?} after following");
    }

    #[test]
    fn the_worker_follows_a_run_and_poll_now_has_what_was_just_appended() {
        let setup = Setup::new("worker-thread");
        // A child of the run holds the rollout open, as Codex does; the root
        // works in the project folder, as Claude Code does.
        let script = format!("sh -c 'exec 3>>\"{}\"; sleep 30' & wait", setup.rollout.display());
        let shell = Shell::start(&script, &setup.work);
        let transcripts = Transcripts::start_with(setup.roots.clone()).expect("the thread starts");
        transcripts.follow("r1", shell.pid(), started());
        assert_eq!(transcripts.latest("r1"), None);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut result = None;
        while Instant::now() < deadline {
            result = transcripts.poll_now("r1").filter(|r| r.sessions.len() == 2);
            if result.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let result = result.expect("both transcripts found");
        assert_eq!(result.how, "open files and project folder");
        let codex = Usage { input: 2000, output: 100, cache_write: 0, cache_read: 2000 };
        let mut total = CLAUDE_TOTAL;
        total.add(codex);
        assert_eq!(result.total(), total);
        assert_eq!(result.sessions[0].agent, Agent::ClaudeCode, "Claude Code's sessions first");
        assert_eq!(result.sessions[1].usage, codex);
        assert_eq!(result.source(), Some(Agent::ClaudeCode), "3 turns each: the tie goes to Claude Code");

        // The end of the cut line, and a Codex turn.
        let rest = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts/claude-rest.txt"),
        )
        .expect("reads");
        append(&setup.claude, &rest);
        append(
            &setup.rollout,
            r#"{"timestamp":"2025-10-01T12:01:00Z","type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":5000,"cached_input_tokens":2500,"output_tokens":110,"reasoning_output_tokens":30,"total_tokens":5110},"last_token_usage":{"input_tokens":1000,"cached_input_tokens":500,"output_tokens":10,"reasoning_output_tokens":0,"total_tokens":1010},"model_context_window":272000}}}"#,
        );
        append(&setup.rollout, "\n");
        let result = transcripts.poll_now("r1").expect("a result");
        assert_eq!(
            result.sessions[0].usage,
            Usage { input: 21, output: 66, cache_write: 120, cache_read: 2200 }
        );
        assert_eq!(
            result.sessions[1].usage,
            Usage { input: 2500, output: 110, cache_write: 0, cache_read: 2500 }
        );
        assert_eq!((result.sessions[0].turns, result.sessions[1].turns), (4, 4));
        assert_eq!(transcripts.latest("r1"), Some(result.clone()));
        assert!(!format!("{:?}", transcripts.latest("r1")).contains("SECRET-7f3a9c"));
        // A caller that took this version is handed nothing until it changes.
        let (version, changed) = transcripts.changed("r1", 0).expect("a version");
        assert_eq!(changed, result);
        transcripts.poll_now("r1");
        assert_eq!(transcripts.changed("r1", version), None, "nothing new: no copy");

        transcripts.forget("r1");
        assert_eq!(transcripts.latest("r1"), None);
        assert_eq!(transcripts.poll_now("r1"), None, "a forgotten run has nothing");
        drop(shell);
    }
}
