//! `use_alerts`: the alerts a query names (a project's, a run's), asked for
//! at once and every five seconds: a small answer, and what a page that is
//! left open is for.

use std::time::Duration;

use shared::alerts::Alerts;
use yew::prelude::*;

use super::{Load, use_poll};
use crate::stream::http::{self, AlertQuery};

/// How often the alerts are asked for again.
pub const REFRESH: Duration = Duration::from_secs(5);

/// The alerts `query` names, kept current.
#[hook]
pub fn use_alerts(query: AlertQuery) -> Load<Alerts> {
    use_poll(query, REFRESH, |query| async move { http::alerts(&query).await })
}
