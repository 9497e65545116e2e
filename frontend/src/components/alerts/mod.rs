//! Alerts on the page: the dashboard's [`AlertsSection`] (what is firing now,
//! prominent in its severity's colour; what happened lately, compact; the
//! switch for browser notifications and what they showed), the compact
//! [`AlertList`] it shares with the run report, and the
//! [`NotificationControl`].

pub mod alert_list;
pub mod alerts_section;
pub mod notification_control;

pub use alert_list::AlertList;
pub use alerts_section::AlertsSection;
pub use notification_control::NotificationControl;

use shared::alerts::Severity;

use crate::stream::http::FetchError;

/// The badge variant of a severity (`styles.css`: `badge--critical`, …), so an
/// alert's colour is the one the panel's warnings already use.
pub fn badge_variant(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warn",
        Severity::Info => "idle",
    }
}

/// What to say, in place of alerts, to a server's answer that there are
/// none to list — an older server (no such endpoint), or one that evaluates
/// none — rather than an error.
pub fn unavailable(err: &FetchError) -> Option<&'static str> {
    match err.code()? {
        "not_found" => Some("This server has no alerts (it is older than this page)."),
        "alerts_off" => Some("This server evaluates no alerts."),
        _ => None,
    }
}
