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

use super::Hub;
use crate::collect::transcripts::{Agent, RunTranscripts, Transcripts};
use crate::prices::Prices;

/// The context window of the models whose transcripts do not say it (Claude
/// Code's): Anthropic's standard window for every Claude model. A model named
/// otherwise has no known window, and its `usage_percent` is `null`.
pub const CLAUDE_CONTEXT_WINDOW: u64 = 200_000;

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
    pub(super) fn transcripts_of(&self, run_id: &str) -> Option<RunTranscripts> {
        self.transcripts.as_ref().and_then(|Follower(t, _)| t.latest(run_id))
    }

    /// Stops following `run_id`'s transcripts.
    pub(super) fn forget_transcripts(&self, run_id: &str) {
        if let Some(Follower(transcripts, _)) = &self.transcripts {
            transcripts.forget(run_id);
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
        found.sessions.iter().flat_map(|s| s.models.iter().cloned()).collect();
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
    let by_session = found
        .sessions
        .iter()
        .map(|s| SessionTokens {
            session: s.session.clone(),
            agent: Some(source(s.agent)),
            input: s.usage.input,
            output: s.usage.output,
            cache_write: s.usage.cache_write,
            cache_read: s.usage.cache_read,
            models: s.models.iter().cloned().collect(),
            turns: s.turns,
            cost_usd: prices.cost(&s.by_model).ok().map(micro_dollars),
        })
        .collect();
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
