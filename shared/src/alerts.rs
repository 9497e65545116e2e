//! Alerts: what the server's rules noticed (`GET /api/alerts`, and the body of
//! the generic webhook, `docs/alerts.md`), silences, and the server's effective
//! settings (`GET /api/settings`), shown read-only on the page.
//!
//! # Layout
//! - [`AlertEvent`]: one firing, resolution or one-off event, as stored, listed
//!   and delivered; [`AlertState`], [`Severity`].
//! - [`Alerts`]: the active ones, the recent ones, the silence and each
//!   destination's delivery ([`DestinationStatus`]).
//! - [`Silence`]: `POST /api/alerts/silence`.
//! - [`Settings`], [`RuleSetting`]: the effective configuration.

use serde::{Deserialize, Serialize};

/// The version of [`AlertEvent`]'s shape, sent in every webhook body as
/// `perfmon_alert`, so a receiver can tell a later shape from this one.
pub const ALERT_SCHEMA: u32 = 1;

/// How much an alert matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something to know (a run finished).
    #[default]
    Info,
    /// Something to look at (a run failed, a run stalled).
    Warning,
    /// Something to act on now (memory or disk about to run out, an OOM kill).
    Critical,
}

impl Severity {
    /// Every severity, least first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// The word used in texts, configuration and the store (`warning`).
    pub fn key(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// The severity [`Severity::key`] names.
    pub fn from_key(key: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// What an [`AlertEvent`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// A condition started to hold (it stays active until resolved).
    Firing,
    /// A firing condition stopped holding; carries the firing's `id`.
    Resolved,
    /// A one-off happening with nothing to resolve (a run finished or failed).
    Event,
}

impl AlertState {
    /// Every state.
    pub const ALL: [AlertState; 3] = [AlertState::Firing, AlertState::Resolved, AlertState::Event];

    /// The word sent and stored (`firing`).
    pub fn key(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
            AlertState::Event => "event",
        }
    }

    /// The state [`AlertState::key`] names.
    pub fn from_key(key: &str) -> Option<AlertState> {
        AlertState::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// One firing, resolution or one-off event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// Always [`ALERT_SCHEMA`].
    pub perfmon_alert: u32,
    /// The alert's id: a firing and its resolution share it.
    pub id: i64,
    /// What this event says.
    pub state: AlertState,
    /// The rule's name (`run_failed`, `memory_low`, or a configured rule's).
    pub rule: String,
    /// How much it matters.
    pub severity: Severity,
    /// One line for a notification's title ("Run “nightly” failed: exit 2").
    pub title: String,
    /// The details, one or two sentences; names processes by name only, never
    /// by command line.
    pub message: String,
    /// The project, for a project's rule or run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The run, for a run's alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The series a threshold rule watches (`memory.available_percent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// The value that fired or resolved it, in the series' unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// The threshold it crossed (for a resolution: the clear threshold).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// When the alert fired (or the event happened).
    pub fired_at: crate::Timestamp,
    /// When it resolved; `null` while active and for events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<crate::Timestamp>,
    /// Whether a silence held its delivery back (it is still kept and listed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub silenced: bool,
}

/// `GET /api/alerts`: what is active, what happened lately, and delivery.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Alerts {
    /// Alerts firing now, oldest first.
    pub active: Vec<AlertEvent>,
    /// Events newest first (firings, resolutions, one-offs), within the query.
    pub recent: Vec<AlertEvent>,
    /// Until when deliveries are silenced, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_until: Option<crate::Timestamp>,
    /// Each destination and how its deliveries went (URLs masked).
    #[serde(default)]
    pub destinations: Vec<DestinationStatus>,
    /// Whether the store keeps alerts (with `--no-store` only this server's
    /// recent ones are listed).
    #[serde(default)]
    pub stored: bool,
}

/// A destination and how its deliveries went.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DestinationStatus {
    /// Its name in the configuration (or `--notify` for a run's one-off).
    pub name: String,
    /// `webhook`, `ntfy`, `slack` or `discord`.
    pub kind: String,
    /// Its URL with everything secret masked: scheme and host only
    /// (`https://ntfy.sh/…`).
    pub target: String,
    /// Deliveries the receiver accepted.
    pub delivered: u64,
    /// Deliveries given up on (refused, or failed after every retry), or
    /// dropped because the queue was full.
    pub failed: u64,
    /// Deliveries waiting.
    pub queued: u64,
    /// The last failure, if any ("HTTP 500 after 5 attempts").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<crate::Timestamp>,
}

/// `POST /api/alerts/silence`: hold deliveries back for a span (alerts are
/// still kept and listed), or lift the silence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Silence {
    /// How long, seconds; `0` lifts a silence.
    pub seconds: u64,
}

/// `GET /api/settings`: what the server runs with, read-only.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// The configuration file read at start, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// How to change these settings.
    pub how_to_change: String,
    /// Time between samples while a run is live, ms.
    pub live_interval_ms: u64,
    /// Time between samples otherwise, ms.
    pub idle_interval_ms: u64,
    /// History a new client is sent, s.
    pub history_window_s: u64,
    /// Where runs and history are kept; `null` with `--no-store`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// How long each store tier is kept, by tier (`raw`, `1m`, `10m`, `1h`), s.
    #[serde(default)]
    pub retention_s: Vec<(String, u64)>,
    /// The alert rules in effect, defaults first.
    pub rules: Vec<RuleSetting>,
    /// Where alerts go (URLs masked).
    pub destinations: Vec<DestinationStatus>,
    /// Until when deliveries are silenced, if they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_until: Option<crate::Timestamp>,
}

/// One rule in effect.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RuleSetting {
    /// Its name.
    pub name: String,
    /// What it watches, in words ("memory available below 5 % for 1m").
    pub condition: String,
    /// How much it matters.
    pub severity: Severity,
    /// `default` or `config`.
    pub source: String,
    /// Whether it is on.
    pub enabled: bool,
    /// The project it watches; `null`: machine-wide or every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Seconds between repeats while it stays firing; `null`: never repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_s: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_leaves_out_what_it_does_not_have() {
        let event = AlertEvent {
            perfmon_alert: ALERT_SCHEMA,
            id: 7,
            state: AlertState::Event,
            rule: "run_finished".into(),
            severity: Severity::Info,
            title: "t".into(),
            message: "m".into(),
            project: None,
            run_id: None,
            series: None,
            value: None,
            threshold: None,
            fired_at: crate::Timestamp("2026-12-03T00:00:00.000Z".into()),
            resolved_at: None,
            silenced: false,
        };
        let text = serde_json::to_string(&event).expect("serialises");
        assert_eq!(
            text,
            r#"{"perfmon_alert":1,"id":7,"state":"event","rule":"run_finished","severity":"info","title":"t","message":"m","fired_at":"2026-12-03T00:00:00.000Z"}"#
        );
        assert_eq!(serde_json::from_str::<AlertEvent>(&text).expect("parses"), event);
    }

    #[test]
    fn keys_name_what_serde_writes() {
        for s in Severity::ALL {
            assert_eq!(serde_json::to_string(&s).expect("serialises"), format!("\"{}\"", s.key()));
            assert_eq!(Severity::from_key(s.key()), Some(s));
        }
        for s in AlertState::ALL {
            assert_eq!(serde_json::to_string(&s).expect("serialises"), format!("\"{}\"", s.key()));
            assert_eq!(AlertState::from_key(s.key()), Some(s));
        }
    }

    #[test]
    fn a_silence_refuses_unknown_fields() {
        assert!(serde_json::from_str::<Silence>(r#"{"seconds":60,"minutes":1}"#).is_err());
    }
}
