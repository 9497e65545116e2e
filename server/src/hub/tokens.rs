//! Token usage reported by a project's agent: per run and per session.

use shared::Tokens;

use super::project::ProjectName;
use super::{Hub, RunError};

/// The most tokens one report may add: far above any real model call, low enough
/// that a typo or an overflow attempt is refused instead of poisoning the totals.
pub const MAX_TOKEN_DELTA: u64 = 100_000_000;

impl Hub {
    /// Adds `tokens` to the project's current run and session totals.
    pub fn add_tokens(&self, project: &ProjectName, tokens: u64) -> Result<Tokens, RunError> {
        if tokens > MAX_TOKEN_DELTA {
            return Err(RunError::TooManyTokens(MAX_TOKEN_DELTA));
        }
        let mut inner = self.lock();
        let entry = inner.entry(project)?;
        // A run whose transcripts are read counts what they say: a report
        // for it would count the same calls twice, and is not added.
        if entry.live.first().is_some_and(|run| run.counts_transcripts()) {
            return Ok(entry.tokens());
        }
        // Reported tokens belong to the shown run, or to the project while no
        // run is live; never to another live run.
        let live_summary = entry.live.first_mut().map(|run| {
            run.summary.tokens = run.summary.tokens.saturating_add(tokens);
            run.summary.token_source = Some(shared::TokenSource::Api);
            run.summary.clone()
        });
        if live_summary.is_none() {
            entry.tokens.source = Some(shared::TokenSource::Api);
        }
        if live_summary.is_none() {
            entry.tokens.current_run = entry.tokens.current_run.saturating_add(tokens);
        }
        entry.tokens.total_session = entry.tokens.total_session.saturating_add(tokens);
        entry.tokens.available = true;
        // Token counts outlive the watchers' absence for as long as history does.
        entry.touch();
        let tokens = entry.tokens();
        drop(inner);
        if let Some(summary) = live_summary {
            self.remember(|| super::record::Record::Run(summary));
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{hub, name};
    use super::*;
    use shared::RunStatus;

    #[test]
    fn tokens_add_to_run_and_session_and_a_new_run_resets_only_the_run() {
        let hub = hub();
        let project = name("tokens");
        assert!(!hub.latest(&project).map(|m| m.tokens.available).unwrap_or(false));
        hub.start_run(&project, std::process::id(), None).expect("start");
        hub.add_tokens(&project, 100).expect("add");
        let t = hub.add_tokens(&project, 50).expect("add");
        assert_eq!((t.current_run, t.total_session, t.available), (150, 150, true));
        hub.set_status(&project, RunStatus::Stopped).expect("stop");
        hub.start_run(&project, std::process::id(), None).expect("start again");
        let t = hub.add_tokens(&project, 10).expect("add");
        assert_eq!((t.current_run, t.total_session), (10, 160));
    }

    #[test]
    fn a_run_shown_after_another_counts_only_its_own_tokens() {
        let hub = hub();
        let project = name("two-runs");
        let first = hub.start_run(&project, 1, None).expect("first").run_id.expect("id");
        hub.add_tokens(&project, 100).expect("add");
        hub.start_run(&project, 2, None).expect("second beside it");
        hub.report_exit(&project, &first, &shared::api::ExitReport::exited(0)).expect("first ends");
        let t = hub.add_tokens(&project, 7).expect("add");
        assert_eq!((t.current_run, t.total_session), (7, 107), "the second run's own count");
    }

    #[test]
    fn an_absurd_report_is_refused_and_changes_nothing() {
        let hub = hub();
        let project = name("absurd");
        hub.add_tokens(&project, 5).expect("add");
        assert_eq!(
            hub.add_tokens(&project, MAX_TOKEN_DELTA + 1),
            Err(RunError::TooManyTokens(MAX_TOKEN_DELTA))
        );
        assert_eq!(hub.add_tokens(&project, 0).map(|t| t.total_session), Ok(5));
    }
}
