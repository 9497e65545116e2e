//! Token usage read from the agents' own transcripts, as a run's record and
//! the stream carry it: what [`crate::collect::transcripts`] found for a run,
//! turned into the contract's [`TokenDetail`], and the hub's part in following
//! runs (start following at registration, stop at the end).
//!
//! How transcript counts and reported ones combine: a run whose transcripts
//! were found counts what they say (`source` names the agent), and tokens an
//! agent also reports through the API for that run are not added on top (they
//! would count the same calls twice). A run without transcripts counts what is
//! reported (`source: api`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use shared::{SessionTokens, TokenDetail, TokenSource};

use std::time::{Duration, Instant};

use super::project::ProjectName;
use super::record::RunSummary;
use super::{Hub, Inner};
use crate::collect::transcripts::{Agent, RunTranscripts, Transcripts, Usage};
use crate::prices::Prices;

/// The context window of the models whose transcripts do not say it (Claude
/// Code's): Anthropic's standard window for every Claude model. A model named
/// otherwise has no known window, and its `usage_percent` is `null`.
pub const CLAUDE_CONTEXT_WINDOW: u64 = 200_000;

/// How long after a run's end its transcripts are read the last time: past
/// the reader's next poll, so lines the agent wrote as it exited count.
const FINISH_AFTER: Duration = crate::collect::transcripts::POLL_EVERY.saturating_add(Duration::from_secs(1));

/// The transcripts worker, as the hub holds it, and the prices its tokens
/// are costed with.
pub struct Follower(Arc<Transcripts>, Prices);

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Follower")
    }
}

impl Hub {
    /// The same hub, reading each run's token usage from its agent's
    /// transcripts with `transcripts`, and costing it with `prices`.
    pub fn with_transcripts(mut self, transcripts: Transcripts, prices: Prices) -> Self {
        self.transcripts = Some(Follower(Arc::new(transcripts), prices));
        self
    }

    /// The prices tokens are costed with.
    pub(super) fn prices(&self) -> Option<&Prices> {
        self.transcripts.as_ref().map(|Follower(_, prices)| prices)
    }

    /// Starts following `run_id`'s transcripts, whose tree is `pid`'s.
    pub(super) fn follow_transcripts(&self, run_id: &str, pid: u32, started_at: DateTime<Utc>) {
        if let Some(Follower(transcripts, _)) = &self.transcripts {
            transcripts.follow(run_id, pid, started_at);
        }
    }

    /// What `run_id`'s transcripts said at the worker's latest poll.
    fn transcripts_of(&self, run_id: &str) -> Option<RunTranscripts> {
        self.transcripts.as_ref().and_then(|Follower(t, _)| t.latest(run_id))
    }

    /// The same with its version, when that is not `seen`.
    pub(super) fn transcripts_changed(&self, run_id: &str, seen: u64) -> Option<(u64, RunTranscripts)> {
        self.transcripts.as_ref().and_then(|Follower(t, _)| t.changed(run_id, seen))
    }

    /// Stops following `run_id`'s transcripts.
    fn forget_transcripts(&self, run_id: &str) {
        if let Some(Follower(transcripts, _)) = &self.transcripts {
            transcripts.forget(run_id);
        }
    }

    /// `run_id` of `project` ended: its transcripts are read once more after
    /// the reader's next poll ([`FINISH_AFTER`]), then forgotten.
    pub(super) fn read_transcripts_once_more(
        &self,
        inner: &mut Inner,
        project: ProjectName,
        run_id: String,
        now: Instant,
    ) {
        if let Some(Follower(transcripts, _)) = &self.transcripts {
            // A run that found no transcript is looked at only every 10 s: this
            // one is looked at now, before its last reading is taken.
            transcripts.poll_soon(&run_id);
            inner.finishing.push((project, run_id, now + FINISH_AFTER));
        }
    }

    /// Takes in the last reading of the ended runs that are due, into their
    /// records (appended to `records`), and stops following them.
    pub(super) fn finish_transcripts(&self, inner: &mut Inner, now: Instant, records: &mut Vec<RunSummary>) {
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut inner.finishing).into_iter().partition(|f| f.2 <= now);
        inner.finishing = later;
        for (name, run_id, _) in due {
            let found = self.transcripts_of(&run_id);
            self.forget_transcripts(&run_id);
            let (Some(found), Some(prices), Some(project)) =
                (found, self.prices(), inner.projects.get_mut(&name))
            else {
                continue;
            };
            let Some(tracked) = project.find_mut(&run_id) else { continue };
            let added = tracked.take_transcripts(&found, prices);
            let summary = tracked.summary.clone();
            // The project's count is this run's while no other started.
            if project.live.is_empty() && project.ended.back().is_some_and(|t| t.summary.run_id == run_id) {
                project.tokens.current_run = summary.tokens;
                project.tokens.source = summary.token_source;
                project.tokens.run = summary.token_detail.as_deref().cloned();
            }
            project.add_session_tokens(added);
            records.push(summary);
        }
    }
}

/// The contract's source for an agent.
pub fn source(agent: Agent) -> TokenSource {
    match agent {
        Agent::ClaudeCode => TokenSource::ClaudeCode,
        Agent::Codex => TokenSource::Codex,
    }
}

/// A run's tokens by kind from what its transcripts say, costed with
/// `prices`; `None` before any turn was counted.
pub fn detail(found: &RunTranscripts, prices: &Prices) -> Option<TokenDetail> {
    let total = found.total();
    let turns: u64 = found.sessions.iter().map(|s| s.turns).fold(0, u64::saturating_add);
    if turns == 0 {
        return None;
    }
    let models: std::collections::BTreeSet<String> =
        found.sessions.iter().flat_map(|s| s.models.iter().cloned()).take(MAX_MODELS).collect();
    let first = found.sessions.iter().filter_map(|s| s.first_at).min();
    let latest = found.sessions.iter().filter(|s| s.last_at.is_some()).max_by_key(|s| s.last_at);
    let last = latest.and_then(|s| s.last_at);
    let burn_per_min = match (first, last) {
        (Some(first), Some(last)) if (last - first).num_milliseconds() >= 1000 => {
            Some(total.tokens() as f64 / ((last - first).num_milliseconds() as f64 / 60_000.0))
        }
        _ => None,
    };
    let context_tokens = latest.and_then(|s| s.last_context_tokens);
    let model = latest.and_then(|s| s.last_model.clone());
    let context_window = latest
        .and_then(|s| s.context_window)
        .or_else(|| model.as_deref().filter(|m| m.starts_with("claude")).map(|_| CLAUDE_CONTEXT_WINDOW));
    let (usage_percent, usage_reason) = match (context_tokens, context_window) {
        (Some(tokens), Some(window)) if window > 0 => {
            (Some((tokens as f64 * 1000.0 / window as f64).round() / 10.0), None)
        }
        (None, _) => (None, Some("the latest turn did not say its context".to_owned())),
        (Some(_), _) => (
            None,
            Some(match &model {
                Some(model) => format!("the context window of {model} is not known"),
                None => "the latest turn's model is not known".to_owned(),
            }),
        ),
    };
    let by_session = by_session(found, prices);
    let (cost_usd, cost_reason) = match prices.cost(&found.by_model()) {
        Ok(dollars) => (Some(micro_dollars(dollars)), None),
        Err(why) => (None, Some(why)),
    };
    Some(TokenDetail {
        input: total.input,
        output: total.output,
        cache_write: total.cache_write,
        cache_read: total.cache_read,
        models: models.into_iter().collect(),
        sessions: u32::try_from(found.sessions.len()).unwrap_or(u32::MAX),
        turns,
        burn_per_min: burn_per_min.map(|r| r.round()),
        context_tokens,
        context_window,
        usage_percent,
        usage_reason,
        cost_usd,
        cost_reason,
        by_session,
        malformed_lines: found.malformed_lines,
        found_by: found.how.to_owned(),
    })
}

/// Dollars to the micro-dollar: a short run costs fractions of a cent.
fn micro_dollars(dollars: f64) -> f64 {
    (dollars * 1e6).round() / 1e6
}

/// The most sessions a run's payload lists one by one; the rest are summed
/// into one entry named `others` (a harness that starts hundreds of sessions
/// must not make every sample tens of KB).
pub const MAX_SESSIONS: usize = 16;

/// The most model names a run's payload lists.
const MAX_MODELS: usize = 16;

/// Each session's share: the [`MAX_SESSIONS`] − 1 with the most tokens, and
/// the rest summed, when there are more.
fn by_session(found: &RunTranscripts, prices: &Prices) -> Vec<SessionTokens> {
    let entry = |name: String, agent, usage: Usage, models: Vec<String>, turns, by_model| SessionTokens {
        session: name,
        agent,
        input: usage.input,
        output: usage.output,
        cache_write: usage.cache_write,
        cache_read: usage.cache_read,
        models,
        turns,
        cost_usd: prices.cost(by_model).ok().map(micro_dollars),
    };
    let mut sessions: Vec<_> = found.sessions.iter().collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s.usage.tokens()));
    let keep = if sessions.len() > MAX_SESSIONS { MAX_SESSIONS - 1 } else { sessions.len() };
    let mut out: Vec<SessionTokens> = sessions[..keep]
        .iter()
        .map(|s| {
            let models = s.models.iter().take(MAX_MODELS).cloned().collect();
            entry(s.session.clone(), Some(source(s.agent)), s.usage, models, s.turns, &s.by_model)
        })
        .collect();
    if let Some(rest) = sessions.get(keep..).filter(|rest| !rest.is_empty()) {
        let (mut usage, mut turns) = (Usage::default(), 0u64);
        let mut models = std::collections::BTreeSet::new();
        let mut by_model: std::collections::BTreeMap<String, Usage> = std::collections::BTreeMap::new();
        for s in rest {
            usage.add(s.usage);
            turns = turns.saturating_add(s.turns);
            models.extend(s.models.iter().cloned());
            for (model, u) in &s.by_model {
                by_model.entry(model.clone()).or_default().add(*u);
            }
        }
        let models = models.into_iter().take(MAX_MODELS).collect();
        out.push(entry(format!("others ({})", rest.len()), None, usage, models, turns, &by_model));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::transcripts::SessionUsage;

    fn session(n: u64) -> SessionUsage {
        let usage = Usage { input: n, output: n, cache_write: 0, cache_read: 0 };
        SessionUsage {
            agent: Agent::ClaudeCode,
            session: format!("s{n:02}"),
            usage,
            models: ["claude-sonnet-4-5".to_owned()].into(),
            by_model: [("claude-sonnet-4-5".to_owned(), usage)].into(),
            turns: 1,
            first_at: None,
            last_at: None,
            last_context_tokens: None,
            context_window: None,
            last_model: None,
        }
    }

    #[test]
    fn many_sessions_are_listed_up_to_a_bound_and_the_rest_summed() {
        let found = RunTranscripts {
            sessions: (1..=20).map(session).collect(),
            malformed_lines: 0,
            how: "project folder",
        };
        let detail = detail(&found, &Prices::builtin()).expect("turns");
        assert_eq!(detail.by_session.len(), MAX_SESSIONS);
        assert_eq!(detail.by_session[0].session, "s20", "the largest first");
        let others = detail.by_session.last().expect("others");
        assert_eq!(
            (others.session.as_str(), others.turns, others.input),
            ("others (5)", 5, 1 + 2 + 3 + 4 + 5)
        );
        let listed: u64 = detail.by_session.iter().map(|s| s.input).sum();
        assert_eq!(listed, detail.input, "nothing lost");
        assert!(others.cost_usd.is_some());
    }
}
