//! A transcript read as it grows ([`Tail`]), and what its lines add up to per
//! session ([`TranscriptFile`]).
//!
//! Agents only append, so each read starts where the last stopped; a `stat`
//! that shows the same file at the same length costs no read at all. A file
//! that got shorter (truncated) or is another file now (its device and inode
//! changed: replaced, rotated) is read again from its start and its share
//! recomputed from nothing, deduplication and cumulative totals included, so
//! nothing is counted twice. A truncation followed by growth past the old
//! length between two polls cannot be seen; agents do not rewrite their
//! transcripts that way.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Agent, SessionUsage, Usage, claude, codex, session_name};

/// The most read at once: memory stays bounded whatever the file's size.
pub const CHUNK: usize = 64 * 1024;

/// The longest line parsed; a longer one (a huge tool result) is skipped as it
/// streams past, never held, and counted as malformed.
pub const MAX_LINE: usize = 1024 * 1024;

/// A streamed message's lines are written within a second of each other, so a
/// window of the latest keys deduplicates as well as a set of all of them, in
/// bounded memory (about 2 MB per file at most).
const MAX_SEEN: usize = 1 << 16;

/// How many of the latest messages a later line may still add to: a message's
/// lines are written together, one per content block.
const MAX_GROWING: usize = 16;

/// What a [`Tail`] hands over.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The file is read again from its start: forget what it said.
    Restart,
    /// A complete line, without its newline.
    Line(&'a [u8]),
    /// A line over [`MAX_LINE`], skipped.
    TooLong,
}

/// One file, read incrementally.
#[derive(Debug)]
pub struct Tail {
    /// The file.
    path: PathBuf,
    /// Its device and inode when last read: another file at the same path
    /// is read from its start.
    identity: Option<(u64, u64)>,
    /// How far it has been read.
    offset: u64,
    /// The start of a line whose newline is not written yet.
    partial: Vec<u8>,
    /// Inside a line over [`MAX_LINE`]: drop bytes until its newline.
    skipping: bool,
    /// `read(2)` calls so far: what a poll that found no change must not add to.
    reads: u64,
}

impl Tail {
    /// A file not read yet.
    pub fn new(path: PathBuf) -> Tail {
        Tail { path, identity: None, offset: 0, partial: Vec::new(), skipping: false, reads: 0 }
    }

    /// The `read(2)` calls so far.
    #[allow(dead_code, reason = "how the tests and the bench prove an unchanged file costs no read")]
    pub fn reads(&self) -> u64 {
        self.reads
    }

    /// Hands `each` every line completed since the last call (after a
    /// [`Event::Restart`] where the file was truncated or replaced). A file
    /// that is gone keeps what it said. Blocking.
    pub fn poll(&mut self, each: &mut dyn FnMut(Event<'_>)) -> io::Result<()> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        // Not a regular file (a FIFO would block the thread on open): never read.
        if !meta.is_file() || self.identity == Some((meta.dev(), meta.ino())) && meta.len() == self.offset {
            return Ok(());
        }
        let mut file = File::open(&self.path)?;
        // The open file's own identity and length: the path may have been
        // replaced between the stat and the open.
        let meta = file.metadata()?;
        let identity = (meta.dev(), meta.ino());
        if self.identity.is_some_and(|known| known != identity) || meta.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
            self.skipping = false;
            each(Event::Restart);
        }
        self.identity = Some(identity);
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.reads += 1;
            if n == 0 {
                break;
            }
            self.offset += n as u64;
            self.split(&buf[..n], each);
        }
        if self.partial.capacity() > 2 * CHUNK && self.partial.len() <= CHUNK {
            self.partial.shrink_to(CHUNK);
        }
        Ok(())
    }

    /// Cuts `chunk` into lines, the first continuing the partial one.
    fn split(&mut self, chunk: &[u8], each: &mut dyn FnMut(Event<'_>)) {
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            let piece = &rest[..end];
            rest = &rest[end + 1..];
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                each(Event::Line(piece));
            } else if self.partial.len() + piece.len() > MAX_LINE {
                self.partial.clear();
                each(Event::TooLong);
            } else {
                self.partial.extend_from_slice(piece);
                each(Event::Line(&self.partial));
                self.partial.clear();
            }
        }
        if self.skipping {
            return;
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            self.partial.clear();
            self.skipping = true;
            each(Event::TooLong);
        } else {
            self.partial.extend_from_slice(rest);
        }
    }
}

/// The keys of the messages counted lately.
#[derive(Debug, Default)]
struct Seen {
    /// The keys, for lookup.
    set: HashSet<u64>,
    /// The same keys, oldest first, to forget the oldest beyond [`MAX_SEEN`].
    order: VecDeque<u64>,
    /// The latest messages' usage as counted so far (the largest each field
    /// reached over their lines), newest last, at most [`MAX_GROWING`].
    growing: VecDeque<(u64, Usage)>,
}

/// What a line of a message adds to the count.
#[derive(Debug, PartialEq, Eq)]
enum Added {
    /// Its message's first line: a turn, with its usage.
    Turn,
    /// A later line of one of the latest messages: what it has beyond what
    /// was counted of that message (nothing where it has no more).
    More(Usage),
    /// A line of a message counted long ago: nothing.
    Nothing,
}

impl Seen {
    /// What a line of message `key` with `usage` adds (and remembers it).
    fn add(&mut self, key: u64, usage: Usage) -> Added {
        if let Some((_, counted)) = self.growing.iter_mut().rev().find(|(k, _)| *k == key) {
            let more = counted.beyond(usage);
            counted.add(more);
            return Added::More(more);
        }
        if !self.set.insert(key) {
            return Added::Nothing;
        }
        self.order.push_back(key);
        if self.order.len() > MAX_SEEN
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.growing.push_back((key, usage));
        if self.growing.len() > MAX_GROWING {
            self.growing.pop_front();
        }
        Added::Turn
    }
}

/// The messages the files of one run have counted, each by the file that read
/// it first: Claude Code writes some messages to two files (a subagent's file
/// and its session's, a continued session's copy), and each counts once. A
/// window of the latest keys, as [`Seen`], for the same reason.
#[derive(Debug, Default)]
pub struct Claims {
    /// Each key's file.
    owner: HashMap<u64, u32>,
    /// The same keys, oldest first.
    order: VecDeque<u64>,
}

impl Claims {
    /// Whether file `file` counts message `key`: it is new, or `file`'s own.
    fn claim(&mut self, key: u64, file: u32) -> bool {
        if let Some(owner) = self.owner.get(&key) {
            return *owner == file;
        }
        self.owner.insert(key, file);
        self.order.push_back(key);
        if self.order.len() > MAX_SEEN
            && let Some(oldest) = self.order.pop_front()
        {
            self.owner.remove(&oldest);
        }
        true
    }

    /// Forgets what `file` claimed (it is read again from its start).
    fn release(&mut self, file: u32) {
        self.owner.retain(|_, owner| *owner != file);
        let owner = &self.owner;
        self.order.retain(|key| owner.contains_key(key));
    }
}

/// The claims of one run's files, shared by them on the reader's thread.
pub type SharedClaims = std::rc::Rc<std::cell::RefCell<Claims>>;

/// One transcript, followed: its [`Tail`] and what its lines added up to.
#[derive(Debug)]
pub struct TranscriptFile {
    /// The file as read so far.
    tail: Tail,
    /// What its lines added up to.
    tally: Tally,
}

/// What one file's lines added up to.
#[derive(Debug)]
struct Tally {
    /// Whose format the file is in.
    agent: Agent,
    /// Lines stamped earlier were not the run's.
    since: DateTime<Utc>,
    /// The session of lines that do not name theirs: from the file's name,
    /// which both agents derive from the session id.
    fallback: String,
    /// Each session's share in this file, by name.
    sessions: BTreeMap<String, SessionUsage>,
    /// Claude: the messages counted, so a streamed one counts once.
    seen: Seen,
    /// Claude: the run's claims, and this file's number among its files.
    claims: Option<(SharedClaims, u32)>,
    /// Codex: the totals and model so far.
    codex: codex::Session,
    /// Lines that were neither usage nor anything else the agent writes.
    malformed: u64,
}

impl TranscriptFile {
    /// `path`, in `agent`'s format, counting lines stamped at or after `since`.
    pub fn new(path: PathBuf, agent: Agent, since: DateTime<Utc>) -> TranscriptFile {
        let fallback = session_name(&fallback_id(&path));
        let tally = Tally {
            agent,
            since,
            fallback,
            sessions: BTreeMap::new(),
            seen: Seen::default(),
            claims: None,
            codex: codex::Session::default(),
            malformed: 0,
        };
        TranscriptFile { tail: Tail::new(path), tally }
    }

    /// [`TranscriptFile::new`] for one of a run's files, numbered `file`: a
    /// message another of them counted first is not counted again.
    pub fn in_run(
        path: PathBuf,
        agent: Agent,
        since: DateTime<Utc>,
        claims: SharedClaims,
        file: u32,
    ) -> TranscriptFile {
        let mut this = TranscriptFile::new(path, agent, since);
        this.tally.claims = Some((claims, file));
        this
    }

    /// Reads what was appended since the last poll. Blocking.
    pub fn poll(&mut self) -> io::Result<()> {
        let tally = &mut self.tally;
        self.tail.poll(&mut |event| tally.on(event))
    }

    /// This file's share of each session.
    pub fn sessions(&self) -> impl Iterator<Item = &SessionUsage> {
        self.tally.sessions.values()
    }

    /// Its malformed lines.
    pub fn malformed(&self) -> u64 {
        self.tally.malformed
    }

    /// The `read(2)` calls made on it so far.
    #[allow(dead_code, reason = "how the tests and the bench prove an unchanged file costs no read")]
    pub fn reads(&self) -> u64 {
        self.tail.reads()
    }
}

/// The session id a file's name carries: Claude's `<session>.jsonl`, Codex's
/// `rollout-<time>-<uuid>.jsonl` (its last 36 characters).
fn fallback_id(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    match stem.strip_prefix("rollout-") {
        Some(rest) if rest.len() >= 36 && rest.is_char_boundary(rest.len() - 36) => {
            rest[rest.len() - 36..].to_owned()
        }
        _ => stem,
    }
}

impl Tally {
    /// Takes one event of the file's tail.
    fn on(&mut self, event: Event<'_>) {
        match event {
            Event::Restart => {
                self.sessions.clear();
                self.seen = Seen::default();
                if let Some((claims, file)) = &self.claims {
                    claims.borrow_mut().release(*file);
                }
                self.codex = codex::Session::default();
                self.malformed = 0;
            }
            Event::TooLong => self.malformed += 1,
            Event::Line(bytes) => self.line(bytes),
        }
    }

    /// Takes one complete line.
    fn line(&mut self, bytes: &[u8]) {
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            self.malformed += 1;
            return;
        };
        match self.agent {
            Agent::ClaudeCode => self.claude(text),
            Agent::Codex => self.codex(text),
        }
    }

    fn claude(&mut self, text: &str) {
        match claude::parse(text) {
            claude::Line::Turn(turn) => {
                if turn.at < self.since {
                    return;
                }
                if let (Some(key), Some((claims, file))) = (turn.dedup, &self.claims)
                    && !claims.borrow_mut().claim(key, *file)
                {
                    return;
                }
                let added = match turn.dedup {
                    Some(key) => self.seen.add(key, turn.usage),
                    None => Added::Turn,
                };
                let session = turn.session_id.as_deref().map(session_name);
                let u = turn.usage;
                // A subagent's turn reads the subagent's context, not the
                // session's: the session's context stays its main thread's.
                let context = (!turn.sidechain)
                    .then(|| u.input.saturating_add(u.cache_write).saturating_add(u.cache_read));
                match added {
                    Added::Turn => self.record(session, turn.at, u, turn.model, context, None),
                    Added::More(more) if more != Usage::default() => {
                        self.record_more(session, more, turn.model.as_deref());
                    }
                    Added::More(_) | Added::Nothing => {}
                }
            }
            claude::Line::Other => {}
            claude::Line::Malformed => self.malformed += 1,
        }
    }

    fn codex(&mut self, text: &str) {
        match codex::parse(text) {
            codex::Line::Model(model) => self.codex.model = Some(model),
            codex::Line::Tokens(at, counts) => {
                // Every event moves the totals on, counted or not.
                let added = self.codex.add(&counts);
                if let Some(added) = added.filter(|_| at >= self.since) {
                    let model = self.codex.model.clone();
                    self.record(None, at, added.usage, model, added.context_tokens, added.window);
                }
            }
            codex::Line::Other => {}
            codex::Line::Malformed => self.malformed += 1,
        }
    }

    /// Adds what a later line of a counted message has beyond it to its
    /// session's share: tokens, not a turn.
    fn record_more(&mut self, session: Option<String>, more: Usage, model: Option<&str>) {
        let name = session.unwrap_or_else(|| self.fallback.clone());
        let agent = self.agent;
        let s = self.sessions.entry(name).or_insert_with_key(|name| SessionUsage::new(agent, name.clone()));
        s.usage.add(more);
        s.add_model_usage(model, more);
    }

    /// Adds one turn to its session's share.
    fn record(
        &mut self,
        session: Option<String>,
        at: DateTime<Utc>,
        usage: Usage,
        model: Option<String>,
        context: Option<u64>,
        window: Option<u64>,
    ) {
        let name = session.unwrap_or_else(|| self.fallback.clone());
        let agent = self.agent;
        let s = self.sessions.entry(name).or_insert_with_key(|name| SessionUsage::new(agent, name.clone()));
        s.usage.add(usage);
        s.add_model_usage(model.as_deref(), usage);
        s.turns = s.turns.saturating_add(1);
        if let Some(model) = &model
            && s.models.len() < super::MAX_MODELS
        {
            s.models.insert(model.clone());
        }
        s.first_at = Some(s.first_at.map_or(at, |first| first.min(at)));
        if s.last_at.is_none_or(|last| at >= last) {
            s.last_at = Some(at);
            s.last_context_tokens = context.or(s.last_context_tokens);
            s.context_window = window.or(s.context_window);
            s.last_model = model.or(s.last_model.take());
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write;

    use super::*;

    /// A scratch dir for a test's files.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("perfmon-transcripts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    /// Appends `text` to `path`, as an agent does.
    pub(crate) fn append(path: &Path, text: &str) {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("opens");
        file.write_all(text.as_bytes()).expect("writes");
    }

    fn lines(tail: &mut Tail) -> Vec<String> {
        let mut out = Vec::new();
        tail.poll(&mut |event| match event {
            Event::Line(line) => out.push(String::from_utf8_lossy(line).into_owned()),
            Event::Restart => out.push("<restart>".into()),
            Event::TooLong => out.push("<too long>".into()),
        })
        .expect("polls");
        out
    }

    #[test]
    fn lines_come_once_complete_and_an_unchanged_file_is_not_read() {
        let dir = scratch("tail");
        let path = dir.join("a.jsonl");
        let mut tail = Tail::new(path.clone());
        assert!(lines(&mut tail).is_empty(), "a missing file is nothing yet");
        append(&path, "one\ntw");
        assert_eq!(lines(&mut tail), ["one"]);
        let reads = tail.reads();
        assert!(lines(&mut tail).is_empty());
        assert_eq!(tail.reads(), reads, "no change, no read");
        append(&path, "o\r\nthree\n");
        assert_eq!(lines(&mut tail), ["two\r", "three"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_fifo_is_never_opened() {
        let dir = scratch("fifo");
        let path = dir.join("a.jsonl");
        let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
        assert!(made.success());
        let mut tail = Tail::new(path);
        assert!(lines(&mut tail).is_empty(), "returns at once, reads nothing");
        assert_eq!(tail.reads(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_across_chunks() {
        let dir = scratch("long");
        let path = dir.join("a.jsonl");
        let long = "x".repeat(MAX_LINE + 3 * CHUNK);
        append(&path, &format!("before\n{long}\nafter\n"));
        let mut tail = Tail::new(path);
        assert_eq!(lines(&mut tail), ["before", "<too long>", "after"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_truncated_or_replaced_file_is_read_again_from_its_start() {
        let dir = scratch("restart");
        let path = dir.join("a.jsonl");
        append(&path, "one\ntwo\n");
        let mut tail = Tail::new(path.clone());
        assert_eq!(lines(&mut tail), ["one", "two"]);
        std::fs::write(&path, "1\n").expect("truncates");
        assert_eq!(lines(&mut tail), ["<restart>", "1"]);
        let other = dir.join("b.jsonl");
        std::fs::write(&other, "x\n").expect("writes");
        std::fs::rename(&other, &path).expect("replaces");
        assert_eq!(lines(&mut tail), ["<restart>", "x"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fixture copied into a scratch dir (as `name`), so a test may append.
    pub(crate) fn fixture(fixture: &str, dir: &Path, name: &str) -> PathBuf {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts").join(fixture);
        let to = dir.join(name);
        std::fs::copy(&from, &to).expect("copies the fixture");
        to
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a timestamp")
    }

    fn only(file: &TranscriptFile) -> &SessionUsage {
        let sessions: Vec<_> = file.sessions().collect();
        assert_eq!(sessions.len(), 1, "{sessions:?}");
        sessions[0]
    }

    const CLAUDE_SESSION: &str = "sess-claude-0001";
    const CODEX_ROLLOUT: &str = "rollout-2025-10-01T12-00-00-0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b.jsonl";

    /// The Claude fixture: a line from before the run, a streamed message
    /// written twice, a garbage line, an assistant line without usage, an
    /// unknown model, and a last line cut in half.
    #[test]
    fn claude_usage_counts_each_message_once_and_a_partial_line_once_complete() {
        let dir = scratch("claude-fixture");
        let path = fixture("claude.jsonl", &dir, "8d1c.jsonl");
        let mut file = TranscriptFile::new(path.clone(), Agent::ClaudeCode, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.agent, Agent::ClaudeCode);
        assert_eq!(s.session, session_name(CLAUDE_SESSION));
        assert_eq!(s.usage, Usage { input: 20, output: 64, cache_write: 120, cache_read: 2200 });
        assert_eq!(s.turns, 3);
        assert_eq!(file.malformed(), 2, "the garbage line and the assistant line without usage");
        let models: Vec<_> = s.models.iter().map(String::as_str).collect();
        assert_eq!(
            models,
            ["claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929", "claude-unknown-model-x"]
        );
        assert_eq!(s.last_model.as_deref(), Some("claude-unknown-model-x"));
        assert_eq!(s.last_context_tokens, Some(27));
        assert_eq!(s.context_window, None);
        assert_eq!(s.first_at, Some(at("2025-10-01T12:00:02Z")));
        assert_eq!(s.last_at, Some(at("2025-10-01T12:00:09Z")));

        let rest = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/transcripts/claude-rest.txt"),
        )
        .expect("the rest of the last line");
        append(&path, &rest);
        file.poll().expect("reads");
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.usage, Usage { input: 21, output: 66, cache_write: 120, cache_read: 2200 });
        assert_eq!(s.turns, 4);
        assert_eq!(s.last_model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert_eq!(s.last_context_tokens, Some(1));
        assert_eq!(file.malformed(), 2);

        let shown = format!("{:?}", file.sessions().collect::<Vec<_>>());
        for private in ["SECRET-7f3a9c", CLAUDE_SESSION, "my.app", "my-app", "8d1c", "perfmon-transcripts"] {
            assert!(!shown.contains(private), "{private} in {shown}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// One assistant line of message `id` (request `request`, if any) with
    /// this usage.
    fn claude_line(id: &str, request: Option<&str>, input: u64, output: u64, cache_read: u64) -> String {
        let request = request.map(|r| format!(r#""requestId":"{r}","#)).unwrap_or_default();
        format!(
            r#"{{"type":"assistant","sessionId":"s","timestamp":"2025-10-01T12:00:01Z",{request}"message":{{"id":"{id}","model":"claude-sonnet-4-5-20250929","usage":{{"input_tokens":{input},"output_tokens":{output},"cache_read_input_tokens":{cache_read}}}}}}}"#
        ) + "\n"
    }

    /// Claude Code writes a streamed message as several lines whose output
    /// grows (1, 1, 427) and whose input and cache fields repeat: one turn,
    /// its final output once. A message without `requestId` is told by its id.
    #[test]
    fn a_streamed_messages_final_output_counts_once_whatever_line_holds_it() {
        let dir = scratch("claude-growing");
        let path = dir.join("growing.jsonl");
        let lines = [
            claude_line("msg_A", Some("req_A"), 10, 1, 5000),
            claude_line("msg_A", Some("req_A"), 10, 1, 5000),
            claude_line("msg_A", Some("req_A"), 10, 427, 5000),
            // No requestId (some versions and gateways): the id alone.
            claude_line("msg_B", None, 3, 20, 100),
            claude_line("msg_B", None, 3, 20, 100),
        ];
        std::fs::write(&path, lines.concat()).expect("transcript");
        let mut file = TranscriptFile::new(path.clone(), Agent::ClaudeCode, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.usage, Usage { input: 13, output: 447, cache_write: 0, cache_read: 5100 });
        assert_eq!(s.turns, 2);
        let by_model: u64 = s.by_model.values().map(Usage::tokens).sum();
        assert_eq!(by_model, s.usage.tokens(), "the model's share grows with it");

        // A later line that is lower (an earlier snapshot written late) takes
        // nothing back; one of a message long since counted adds nothing.
        append(&path, &claude_line("msg_A", Some("req_A"), 10, 400, 5000));
        for i in 0..MAX_GROWING {
            append(&path, &claude_line(&format!("msg_{i}"), Some("r"), 1, 1, 0));
        }
        append(&path, &claude_line("msg_A", Some("req_A"), 10, 900, 5000));
        file.poll().expect("reads");
        let s = only(&file);
        let n = MAX_GROWING as u64;
        assert_eq!(s.usage, Usage { input: 13 + n, output: 447 + n, cache_write: 0, cache_read: 5100 });
        assert_eq!(s.turns, 2 + n);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A subagent's turns (`isSidechain`) count their tokens in the session,
    /// but the session's context stays its main thread's latest.
    #[test]
    fn a_subagents_turn_does_not_set_the_sessions_context() {
        let dir = scratch("claude-sidechain");
        let path = dir.join("side.jsonl");
        let main = claude_line("msg_M", Some("r1"), 10, 5, 90_000);
        let side = claude_line("msg_S", Some("r2"), 2, 3, 4000)
            .replace(r#""type":"assistant","#, r#""type":"assistant","isSidechain":true,"#)
            .replace("12:00:01Z", "12:00:09Z");
        assert!(side.contains("isSidechain"));
        std::fs::write(&path, main + &side).expect("transcript");
        let mut file = TranscriptFile::new(path, Agent::ClaudeCode, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.turns, 2);
        assert_eq!(s.usage.tokens(), 10 + 5 + 90_000 + 2 + 3 + 4000);
        assert_eq!(s.last_context_tokens, Some(90_010), "the main thread's, not the subagent's 4,002");
        assert_eq!(s.last_at, Some(at("2025-10-01T12:00:09Z")));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The Codex fixture: session metadata, two models, `info: null`, a
    /// repeated event, a broken line, cumulative totals.
    #[test]
    fn codex_totals_become_their_exact_sum_with_the_model_of_the_latest_turn_context() {
        let dir = scratch("codex-fixture");
        let path = fixture(CODEX_ROLLOUT, &dir, CODEX_ROLLOUT);
        let mut file = TranscriptFile::new(path, Agent::Codex, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.agent, Agent::Codex);
        assert_eq!(s.session, session_name("0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
        // The last totals: 4000 input of which 2000 cached, 100 output.
        assert_eq!(s.usage, Usage { input: 2000, output: 100, cache_write: 0, cache_read: 2000 });
        assert_eq!(s.turns, 3, "the repeated event is not a turn");
        let models: Vec<_> = s.models.iter().map(String::as_str).collect();
        assert_eq!(models, ["gpt-5", "gpt-5-codex"]);
        assert_eq!(s.last_model.as_deref(), Some("gpt-5"));
        assert_eq!(s.last_context_tokens, Some(1515));
        assert_eq!(s.context_window, Some(272_000));
        assert_eq!(file.malformed(), 1);
        assert!(!format!("{s:?}").contains("SECRET-7f3a9c"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn codex_events_before_the_run_set_the_baseline_and_are_not_counted() {
        let dir = scratch("codex-since");
        let path = fixture(CODEX_ROLLOUT, &dir, CODEX_ROLLOUT);
        let mut file = TranscriptFile::new(path, Agent::Codex, at("2025-10-01T12:00:06Z"));
        file.poll().expect("reads");
        let s = only(&file);
        // The last totals less the first event's (1000 input, 200 cached, 50 output).
        assert_eq!(s.usage, Usage { input: 1200, output: 50, cache_write: 0, cache_read: 1800 });
        assert_eq!(s.turns, 2);
        assert_eq!(s.first_at, Some(at("2025-10-01T12:00:09Z")));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn codex_flat_early_events_are_each_one_response() {
        let dir = scratch("codex-flat");
        let name = "rollout-2025-08-01T09-00-00-5973b6c0-94b8-487b-a530-2aeb6098ae0e.jsonl";
        let path = fixture(name, &dir, name);
        let mut file = TranscriptFile::new(path, Agent::Codex, at("2025-08-01T00:00:00Z"));
        file.poll().expect("reads");
        let s = only(&file);
        assert_eq!(s.usage, Usage { input: 300, output: 100, cache_write: 0, cache_read: 500 });
        assert_eq!(s.turns, 2);
        assert!(s.models.is_empty() && s.last_model.is_none());
        assert_eq!(file.malformed(), 0);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_truncated_or_replaced_transcript_is_recounted_not_added_again() {
        let dir = scratch("recount");
        let claude = fixture("claude.jsonl", &dir, "c.jsonl");
        let mut file = TranscriptFile::new(claude.clone(), Agent::ClaudeCode, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let whole = only(&file).clone();
        // Truncated to its first three lines: the line before the run, the
        // user's, the first of the streamed message's two.
        let text = std::fs::read_to_string(&claude).expect("reads");
        let head: String = text.split_inclusive('\n').take(3).collect();
        std::fs::write(&claude, &head).expect("truncates");
        file.poll().expect("reads");
        assert_eq!(only(&file).usage, Usage { input: 10, output: 5, cache_write: 100, cache_read: 1000 });
        assert_eq!(file.malformed(), 0);
        // Replaced by the whole again (a new inode): the same as the first read.
        let copy = fixture("claude.jsonl", &dir, "copy.jsonl");
        std::fs::rename(&copy, &claude).expect("replaces");
        file.poll().expect("reads");
        assert_eq!(only(&file), &whole);
        assert_eq!(file.malformed(), 2);

        let codex = fixture(CODEX_ROLLOUT, &dir, CODEX_ROLLOUT);
        let mut file = TranscriptFile::new(codex.clone(), Agent::Codex, at("2025-10-01T00:00:00Z"));
        file.poll().expect("reads");
        let whole = only(&file).clone();
        let copy = fixture(CODEX_ROLLOUT, &dir, "copy.jsonl");
        std::fs::rename(&copy, &codex).expect("replaces");
        file.poll().expect("reads");
        assert_eq!(only(&file), &whole, "the totals start again with the file");
        let _ = std::fs::remove_dir_all(dir);
    }
}
