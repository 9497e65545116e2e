//! Agents' token usage, read from the transcripts the agents write themselves:
//! Claude Code's and OpenAI Codex CLI's. Only the usage counters, the model,
//! the ids that tell a repeated line from a new one and the timestamps are
//! parsed; prompts, code, tool output and file names never leave the line they
//! were read from.
//!
//! # Where the transcripts are ([`Roots`])
//! - Claude Code appends one JSON line per message to
//!   `<root>/<encoded project dir>/<session>.jsonl`, where a root is each
//!   directory of the comma-separated `CLAUDE_CONFIG_DIR` plus `/projects`,
//!   else `~/.config/claude/projects` (`$XDG_CONFIG_HOME/claude/projects`) and
//!   `~/.claude/projects`. The encoded dir is the working directory with every
//!   character but ASCII letters and digits replaced by `-`
//!   (`/home/me/my.app` → `-home-me-my-app`), as Claude Code names it.
//! - Codex writes `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<uuid>.jsonl`
//!   (`CODEX_HOME` defaults to `~/.codex`; old versions wrote them flat in
//!   `sessions/`), one `{"timestamp", "type", "payload"}` line per event.
//!
//! # Which transcripts belong to a run ([`find`])
//! 1. **Open files.** Every process of the run's tree (the root and its
//!    descendants, from `/proc/PID/task/*/children`) is asked for its open
//!    descriptors; a `.jsonl` under a root is the run's. Codex keeps its rollout
//!    open while it runs, so this finds it exactly, whatever its folder.
//! 2. **Project folder.** Claude Code opens its transcript, appends and closes
//!    it, so it is rarely caught open. Each working directory seen in the tree,
//!    encoded as Claude Code encodes it, names a folder under each Claude root;
//!    its transcripts modified since the run started are the run's. Two
//!    sessions running at once in the same folder cannot be told apart this
//!    way: both are counted. A session in any other folder never is.
//! 3. **Rollout working directory.** A Codex run can end between two polls,
//!    when nothing holds its rollout open any more: a rollout of the days since
//!    the run started, modified since then, whose first line (`session_meta`)
//!    names one of the tree's working directories as its `cwd` is the run's.
//!    Only that field of that line is read from rollouts of other folders.
//!
//! A file once attributed stays attributed for the run's life (Codex closes
//! its rollout when it exits, the run's report comes after). In every file only
//! lines stamped at or after the run's start count, so an older session resumed
//! into the run, or the earlier part of a folder's transcript, is not charged
//! to it. [`RunTranscripts::how`] says which of them found the files.
//!
//! # What is counted ([`Usage`])
//! - Claude Code: each assistant line carries its message's
//!   `message.usage{input_tokens, output_tokens, cache_creation_input_tokens,
//!   cache_read_input_tokens}`, which map one to one to [`Usage`]'s `input`,
//!   `output`, `cache_write` and `cache_read` (the four are disjoint). A
//!   message is written as several lines, one per content block, sharing
//!   `message.id` and `requestId`: the input and cache fields are the same on
//!   each, but a streamed message's `output_tokens` grows from line to line
//!   and only its last line has the final count (ccusage #901, #938: keeping
//!   the first line undercounts output two- to threefold). So a message is
//!   one turn, and its usage the largest each field reached over its lines:
//!   a later line adds what it has beyond what was counted (the latest 16
//!   messages are held for that; a message's lines are written together), and
//!   a line of an older message adds nothing (65,536 keys are remembered). A
//!   line without `requestId` (some versions and gateways write none) is
//!   keyed by `message.id` alone (ccusage #976); one without `message.id` is
//!   counted as it is.
//!   Synthetic messages (model `<synthetic>`: errors, interruptions) never
//!   reached a model and are not turns.
//! - Codex: `event_msg` lines whose payload is a `token_count` carry the
//!   session's cumulative `total_token_usage`; what each adds is its difference
//!   from the one before in the same file, so a repeated event adds nothing.
//!   The file's first event, and one whose total went down (a resumed session
//!   starting again from zero), add their own response (`last_token_usage`),
//!   not the total: a forked or resumed rollout starts from its parent's
//!   total with a last response of nothing, and the parent's tokens are the
//!   parent's (CodexBar #3524). A fork that replays the parent's events with
//!   fresh timestamps is still counted again (telling those events apart
//!   needs the parent's file). Codex's cached input is part of its input and its reasoning part
//!   of its output, so `input` = `input_tokens − cached_input_tokens`,
//!   `cache_read` = `cached_input_tokens`, `cache_write` = 0 (OpenAI does not
//!   charge cache writes) and `output` = `output_tokens`. Early versions wrote
//!   the response's own usage flat in the payload (the TUI summed them); those
//!   are added as they are.
//!
//! A turn is one model response that reported usage. The latest turn's context
//! ([`SessionUsage::last_context_tokens`]) is what the model read: Claude's
//! `input + cache_write + cache_read` of the main thread's latest turn (a
//! subagent's, `isSidechain`, reads its own context); Codex's
//! `last_token_usage.total_tokens` less its reasoning tokens, as Codex's own
//! status line counts the context window's use (earlier reasoning is not sent
//! again).
//!
//! # Cost
//! One thread ([`Transcripts`]) polls each run every [`worker::POLL_EVERY`]
//! (a run with no transcript a minute after it started: every 10 s). A poll
//! looks for new files (the run's tree in `/proc`, its open files, the agents'
//! folders), then `stat`s each attributed file, reading nothing when none grew;
//! a grown file is read from where the last read stopped, in 64 KiB chunks. Lines over
//! [`tail::MAX_LINE`] are skipped, never held.
//!
//! # Layout
//! - this file: the result types and [`Roots`].
//! - [`claude`], [`codex`]: one line of each agent's transcript, parsed.
//! - [`tail`]: a file read incrementally, truncation and replacement detected,
//!   and what its lines add up to per session.
//! - [`find`]: the files a run's process tree owns.
//! - [`worker`]: the thread, [`Transcripts`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

mod claude;
mod codex;
mod find;
pub(crate) mod tail;
mod worker;

pub use worker::{POLL_EVERY, Transcripts};

/// Which agent wrote a transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Agent {
    /// Anthropic's Claude Code.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
}

/// Tokens, split as the providers bill them (see the module docs for each
/// agent's fields).
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
pub struct Usage {
    /// Input tokens read neither from nor into a cache.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Input tokens written to the prompt cache (Claude only).
    pub cache_write: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
}

impl Usage {
    /// Every token, each counted once.
    pub fn tokens(&self) -> u64 {
        self.input
            .saturating_add(self.output)
            .saturating_add(self.cache_write)
            .saturating_add(self.cache_read)
    }

    /// Adds `other` to this (saturating: a corrupt line cannot wrap a total).
    pub fn add(&mut self, other: Usage) {
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cache_write = self.cache_write.saturating_add(other.cache_write);
        self.cache_read = self.cache_read.saturating_add(other.cache_read);
    }

    /// What `later` has beyond this, field by field (0 where it has no more).
    pub fn beyond(&self, later: Usage) -> Usage {
        Usage {
            input: later.input.saturating_sub(self.input),
            output: later.output.saturating_sub(self.output),
            cache_write: later.cache_write.saturating_sub(self.cache_write),
            cache_read: later.cache_read.saturating_sub(self.cache_read),
        }
    }
}

/// One agent session's usage within a run.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SessionUsage {
    /// Which agent.
    pub agent: Agent,
    /// An opaque short hash of the agent's session id: tells sessions apart
    /// without naming them.
    pub session: String,
    /// The tokens of its turns since the run started.
    pub usage: Usage,
    /// Every model its counted turns used, as written (unknown ones too).
    pub models: BTreeSet<String>,
    /// Its tokens by model (what a cost is computed from): turns that named
    /// no model, and those of models past [`MAX_MODELS`], are under `""`.
    pub by_model: BTreeMap<String, Usage>,
    /// Model responses that reported usage.
    pub turns: u64,
    /// Its first counted turn.
    pub first_at: Option<DateTime<Utc>>,
    /// Its latest counted turn.
    pub last_at: Option<DateTime<Utc>>,
    /// The tokens in the latest turn's context (see the module docs).
    pub last_context_tokens: Option<u64>,
    /// The model's context window, where the transcript says (Codex only).
    pub context_window: Option<u64>,
    /// The model of its latest turn (Codex: the latest `turn_context`'s).
    pub last_model: Option<String>,
}

impl SessionUsage {
    /// An empty session.
    fn new(agent: Agent, session: String) -> SessionUsage {
        SessionUsage {
            agent,
            session,
            usage: Usage::default(),
            models: BTreeSet::new(),
            by_model: BTreeMap::new(),
            turns: 0,
            first_at: None,
            last_at: None,
            last_context_tokens: None,
            context_window: None,
            last_model: None,
        }
    }

    /// Adds `usage` to `model`'s share (to `""` for none, or past
    /// [`MAX_MODELS`]).
    pub(crate) fn add_model_usage(&mut self, model: Option<&str>, usage: Usage) {
        let key = match model {
            Some(model) if self.by_model.contains_key(model) || self.by_model.len() < MAX_MODELS => model,
            _ => "",
        };
        self.by_model.entry(key.to_owned()).or_default().add(usage);
    }

    /// Folds another file's share of the same session into this one: sums,
    /// and the latest turn's figures from whichever turn is latest.
    fn merge(&mut self, other: &SessionUsage) {
        self.usage.add(other.usage);
        self.turns = self.turns.saturating_add(other.turns);
        for model in &other.models {
            if self.models.len() < MAX_MODELS {
                self.models.insert(model.clone());
            }
        }
        for (model, usage) in &other.by_model {
            self.add_model_usage(Some(model.as_str()).filter(|m| !m.is_empty()), *usage);
        }
        self.first_at = match (self.first_at, other.first_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if other.last_at > self.last_at || self.last_at.is_none() {
            self.last_at = other.last_at.or(self.last_at);
            self.last_context_tokens = other.last_context_tokens.or(self.last_context_tokens);
            self.context_window = other.context_window.or(self.context_window);
            self.last_model = other.last_model.clone().or(self.last_model.take());
        }
    }
}

/// At most this many distinct models kept per session: a transcript is input
/// from outside, and a model name is the one string kept from it.
pub(crate) const MAX_MODELS: usize = 16;

/// At most this many characters of a model's name are kept.
pub(crate) const MAX_MODEL_CHARS: usize = 100;

/// What a run's agents used, as read so far.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RunTranscripts {
    /// Each session, Claude Code's first, then by hash.
    pub sessions: Vec<SessionUsage>,
    /// Lines of the attributed files that were neither usage nor anything else
    /// the agent writes (not JSON, a usage line without its fields, a line
    /// over [`tail::MAX_LINE`]).
    pub malformed_lines: u64,
    /// Which attributions found the files: "open files", "project folder",
    /// "rollout working directory", or two or three of them joined.
    pub how: &'static str,
}

impl RunTranscripts {
    /// Every session's usage by model, summed (`""`: turns naming none).
    pub fn by_model(&self) -> BTreeMap<String, Usage> {
        let mut all: BTreeMap<String, Usage> = BTreeMap::new();
        for session in &self.sessions {
            for (model, usage) in &session.by_model {
                all.entry(model.clone()).or_default().add(*usage);
            }
        }
        all
    }

    /// Every session's usage, summed.
    pub fn total(&self) -> Usage {
        let mut total = Usage::default();
        for session in &self.sessions {
            total.add(session.usage);
        }
        total
    }

    /// The agent of most turns; `None` without a turn.
    pub fn source(&self) -> Option<Agent> {
        let turns = |agent| {
            self.sessions.iter().filter(|s| s.agent == agent).map(|s| s.turns).fold(0u64, u64::saturating_add)
        };
        let (claude, codex) = (turns(Agent::ClaudeCode), turns(Agent::Codex));
        match (claude, codex) {
            (0, 0) => None,
            (claude, codex) if codex > claude => Some(Agent::Codex),
            _ => Some(Agent::ClaudeCode),
        }
    }
}

/// The directories transcripts are looked for under.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roots {
    /// Claude Code's `projects/` directories.
    pub claude: Vec<PathBuf>,
    /// Codex's `sessions/` directories.
    pub codex: Vec<PathBuf>,
}

impl Roots {
    /// Where the agents write by default, and where their environment
    /// variables move them to (see the module docs). Reads the environment.
    pub fn from_env() -> Roots {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = var("HOME");
        let claude = match std::env::var("CLAUDE_CONFIG_DIR") {
            Ok(dirs) if !dirs.trim().is_empty() => dirs
                .split(',')
                .map(str::trim)
                .filter(|dir| !dir.is_empty())
                .map(|dir| PathBuf::from(dir).join("projects"))
                .collect(),
            _ => {
                let config = var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
                let mut dirs: Vec<PathBuf> =
                    config.map(|c| c.join("claude").join("projects")).into_iter().collect();
                dirs.extend(home.as_ref().map(|h| h.join(".claude").join("projects")));
                dirs
            }
        };
        let codex_home = var("CODEX_HOME").or_else(|| home.as_ref().map(|h| h.join(".codex")));
        Roots { claude, codex: codex_home.map(|c| c.join("sessions")).into_iter().collect() }
    }
}

/// An opaque, stable short name for an agent's session id: 12 hex digits of
/// its FNV-1a hash (stable across PerfMon's versions, unlike std's hasher).
pub(crate) fn session_name(id: &str) -> String {
    format!("{:012x}", fnv1a(&[id.as_bytes()]) >> 16)
}

/// 64-bit FNV-1a over `parts`, each followed by a separator byte so that
/// ("ab", "c") and ("a", "bc") differ.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &byte in part.iter().chain(std::iter::once(&0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A model's name as kept: at most [`MAX_MODEL_CHARS`] characters.
pub(crate) fn model_name(model: &str) -> String {
    model.chars().take(MAX_MODEL_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(agent: Agent, turns: u64, input: u64) -> SessionUsage {
        let mut s = SessionUsage::new(agent, session_name(&format!("{agent:?}{turns}")));
        s.turns = turns;
        s.usage.input = input;
        s
    }

    #[test]
    fn the_source_is_the_agent_of_most_turns_and_the_total_sums_every_session() {
        let run = RunTranscripts {
            sessions: vec![
                session(Agent::ClaudeCode, 2, 10),
                session(Agent::Codex, 3, 5),
                session(Agent::ClaudeCode, 0, 1),
            ],
            malformed_lines: 0,
            how: "open files",
        };
        assert_eq!(run.source(), Some(Agent::Codex));
        assert_eq!(run.total(), Usage { input: 16, ..Usage::default() });
        let none = RunTranscripts { sessions: vec![], malformed_lines: 0, how: "open files" };
        assert_eq!(none.source(), None);
    }

    #[test]
    fn a_session_name_is_short_stable_and_opaque() {
        let name = session_name("0fd6a5d1-c1e4-494f-82d6-9391ccc1797d");
        assert_eq!(name.len(), 12);
        assert_eq!(name, session_name("0fd6a5d1-c1e4-494f-82d6-9391ccc1797d"));
        assert_ne!(name, session_name("0fd6a5d1-c1e4-494f-82d6-9391ccc1797e"));
        assert!(!name.contains("0fd6a5d1"));
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
    }

    #[test]
    fn agents_serialise_in_kebab_case() {
        let json = serde_json::to_string(&[Agent::ClaudeCode, Agent::Codex]).expect("serialises");
        assert_eq!(json, r#"["claude-code","codex"]"#);
    }

    /// `Roots::from_env` as a child test process sees it with `vars` set (and
    /// the other agent variables unset): the 2024 edition makes changing this
    /// process's environment unsafe, and other tests run beside it.
    fn roots_with(vars: &[(&str, &str)]) -> String {
        let mut command = std::process::Command::new(std::env::current_exe().expect("the test binary"));
        command.args([
            "--exact",
            "collect::transcripts::tests::print_roots",
            "--nocapture",
            "--include-ignored",
        ]);
        for name in ["HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "XDG_CONFIG_HOME"] {
            command.env_remove(name);
        }
        command.envs(vars.iter().copied());
        let out = command.output().expect("the test binary runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn the_roots_follow_the_agents_environment_variables() {
        let text = roots_with(&[("HOME", "/h"), ("CLAUDE_CONFIG_DIR", "/a, /b ,")]);
        assert!(
            text.contains(r#"ROOTS claude=["/a/projects", "/b/projects"] codex=["/h/.codex/sessions"]"#),
            "{text}"
        );
        let text = roots_with(&[("HOME", "/h"), ("CODEX_HOME", "/c")]);
        let want =
            r#"ROOTS claude=["/h/.config/claude/projects", "/h/.claude/projects"] codex=["/c/sessions"]"#;
        assert!(text.contains(want), "{text}");
        let text = roots_with(&[("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert!(text.contains(r#"claude=["/x/claude/projects", "/h/.claude/projects"]"#), "{text}");
    }

    /// Run by the test above in a child process with a chosen environment.
    #[test]
    #[ignore = "run by the_roots_follow_the_agents_environment_variables"]
    fn print_roots() {
        let roots = Roots::from_env();
        println!("ROOTS claude={:?} codex={:?}", roots.claude, roots.codex);
    }
}
