//! Alerts as the page shows them: which events are new since the page
//! loaded (each one notified once), one entry per alert from the lists the
//! server answers, where an alert goes on a chart, and the words and times
//! that name it. The settings' durations in words too.

use std::collections::HashSet;

use shared::alerts::{AlertEvent, AlertState, Alerts, Severity};

use super::time::{Clock, epoch_millis, local_time};

/// What one notification is about: an alert's id and what it says now. A
/// firing and its resolution share the id, so each gets its own.
pub type Key = (i64, AlertState);

/// The key of `event`.
pub fn key(event: &AlertEvent) -> Key {
    (event.id, event.state)
}

/// The word for a state, as the server writes it (`firing`).
pub fn state_key(state: AlertState) -> &'static str {
    match state {
        AlertState::Firing => "firing",
        AlertState::Resolved => "resolved",
        AlertState::Event => "event",
    }
}

/// The tag of `event`'s browser notification, `perfmon-7-firing`: a repeat
/// of the same event replaces the one shown instead of stacking.
pub fn tag(event: &AlertEvent) -> String {
    format!("perfmon-{}-{}", event.id, state_key(event.state))
}

/// When the event happened, unix ms: a resolution when it resolved, anything
/// else when it fired.
pub fn happened_ms(event: &AlertEvent) -> Option<f64> {
    let at = match (event.state, &event.resolved_at) {
        (AlertState::Resolved, Some(resolved)) => resolved,
        _ => &event.fired_at,
    };
    epoch_millis(at.as_str())
}

/// The events a page has seen. The first answer is the baseline: what
/// happened before the page loaded is never notified, only what appears
/// after it.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every event seen, by key. It grows by one per event the page sees,
    /// and is never trimmed: an old event falling off the server's list and
    /// coming back (a shorter list, a restart) must not be notified again.
    keys: HashSet<Key>,
    /// Whether the baseline is taken.
    baselined: bool,
}

impl Seen {
    /// The events of `alerts` not seen before, oldest first, now seen; none
    /// from the first answer.
    pub fn fresh(&mut self, alerts: &Alerts) -> Vec<AlertEvent> {
        let mut fresh: Vec<AlertEvent> = Vec::new();
        for event in alerts.active.iter().chain(&alerts.recent) {
            if self.keys.insert(key(event)) && self.baselined {
                fresh.push(event.clone());
            }
        }
        self.baselined = true;
        fresh.sort_by(|a, b| {
            let at = |e: &AlertEvent| happened_ms(e).unwrap_or(f64::INFINITY);
            at(a).total_cmp(&at(b)).then(a.id.cmp(&b.id))
        });
        fresh
    }

    /// Whether the baseline is taken.
    pub fn baselined(&self) -> bool {
        self.baselined
    }
}

/// One entry per alert from `lists` (the active list and the recent one of
/// one or more answers), each in the furthest state any list has it in (a
/// resolution over its firing), oldest first.
pub fn merged(lists: &[&[AlertEvent]]) -> Vec<AlertEvent> {
    let mut out: Vec<AlertEvent> = Vec::new();
    for event in lists.iter().flat_map(|l| l.iter()) {
        match out.iter_mut().find(|e| e.id == event.id) {
            Some(known) if known.resolved_at.is_none() && event.resolved_at.is_some() => {
                *known = event.clone()
            }
            Some(_) => {}
            None => out.push(event.clone()),
        }
    }
    out.sort_by(|a, b| {
        let at = |e: &AlertEvent| epoch_millis(e.fired_at.as_str()).unwrap_or(f64::INFINITY);
        at(a).total_cmp(&at(b)).then(a.id.cmp(&b.id))
    });
    out
}

/// Where an alert goes on a chart over `[from, to]`, as fractions of the
/// plot's width.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// The alert's id.
    pub id: i64,
    /// Its colour.
    pub severity: Severity,
    /// The left edge of its span (0: the plot's left edge).
    pub start: f64,
    /// The right edge of its span; equal to `start` for a one-off event.
    pub end: f64,
    /// Whether its firing is within the window (a line is drawn there); an
    /// alert that fired before the window shows only its span.
    pub line: bool,
    /// `memory_low fired 14:02:11, resolved 14:05:00`.
    pub label: String,
}

impl Mark {
    /// Its place as CSS: `left: 12.500%; width: 3.000%`.
    pub fn style(&self) -> String {
        format!("left: {:.3}%; width: {:.3}%", self.start * 100.0, (self.end - self.start) * 100.0)
    }
}

/// The marks of `alerts` on a chart over `[from, to]` (unix ms): a line where
/// each fired, a span to where it resolved (to the right edge while it is
/// firing), a line alone for a one-off event; what lies outside is left out.
/// Times are local (`offset_at`: minutes east of UTC at an instant), dated
/// when the window crosses a local midnight.
pub fn marks(alerts: &[AlertEvent], from: f64, to: f64, offset_at: impl Fn(f64) -> i64) -> Vec<Mark> {
    let span = to - from;
    if span.is_nan() || span <= 0.0 {
        return Vec::new();
    }
    let clock = Clock { seconds: true, ..Clock::for_span(from, to, &offset_at) };
    alerts
        .iter()
        .filter_map(|alert| {
            let fired = epoch_millis(alert.fired_at.as_str())?;
            let resolved = alert.resolved_at.as_ref().and_then(|t| epoch_millis(t.as_str()));
            let end = match alert.state {
                AlertState::Event => fired,
                _ => resolved.unwrap_or(to).max(fired),
            };
            if fired > to || end < from {
                return None;
            }
            let fraction = |t: f64| ((t - from) / span).clamp(0.0, 1.0);
            Some(Mark {
                id: alert.id,
                severity: alert.severity,
                start: fraction(fired),
                end: fraction(end),
                line: fired >= from,
                label: label(alert, clock, &offset_at),
            })
        })
        .collect()
}

/// What a mark and a list entry call an alert: `memory_low fired 14:02:11`,
/// `memory_low fired 14:02:11, resolved 14:05:00`, `run_finished at 14:02:11`.
pub fn label(alert: &AlertEvent, clock: Clock, offset_at: impl Fn(f64) -> i64) -> String {
    let at = |ts: &shared::Timestamp| {
        epoch_millis(ts.as_str())
            .map_or_else(|| ts.as_str().to_owned(), |ms| local_time(ms, offset_at(ms), clock))
    };
    let fired = at(&alert.fired_at);
    match (alert.state, &alert.resolved_at) {
        (AlertState::Event, _) => format!("{} at {fired}", alert.rule),
        (_, Some(resolved)) => format!("{} fired {fired}, resolved {}", alert.rule, at(resolved)),
        (_, None) => format!("{} fired {fired}", alert.rule),
    }
}

/// An instant in a list of alerts: `14:02:11` on the day it is now (local
/// time), `Dec 1 14:02:11` on another.
pub fn when(ms: f64, now: f64, offset_at: impl Fn(f64) -> i64) -> String {
    let day = |t: f64| ((t / 1000.0).floor() as i64 + offset_at(t) * 60).div_euclid(86_400);
    local_time(ms, offset_at(ms), Clock { date: day(ms) != day(now), seconds: true })
}

/// A span of seconds as a setting reads best: `45 s`, `10 min`, `48 h`, `30 d`
/// (days only from three on: two days of raw samples read as `48 h`, as the
/// flag is written).
pub fn seconds_words(seconds: u64) -> String {
    match seconds {
        0 => "0 s".to_owned(),
        s if s % 86_400 == 0 && s >= 3 * 86_400 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// An interval of milliseconds: `250 ms`, `1 s`, `1.5 s`.
pub fn millis_words(ms: u64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms % 1000 == 0 => seconds_words(ms / 1000),
        ms => format!("{} s", ms as f64 / 1000.0),
    }
}

/// How often a rule repeats while it stays firing: `every 30 min`, `never`.
pub fn repeat_words(repeat_s: Option<u64>) -> String {
    match repeat_s {
        Some(s) if s > 0 => format!("every {}", seconds_words(s)),
        _ => "never".to_owned(),
    }
}

/// A store tier as the settings name it: `raw` is every sample, `1m` a
/// minute's min/mean/max, and so on.
pub fn tier_words(tier: &str) -> String {
    match tier {
        "raw" => "Every sample".to_owned(),
        "1m" => "Per minute".to_owned(),
        "10m" => "Per 10 minutes".to_owned(),
        "1h" => "Per hour".to_owned(),
        other => format!("Tier {other}"),
    }
}

#[cfg(test)]
mod tests {
    use shared::Timestamp;
    use shared::alerts::ALERT_SCHEMA;

    use super::*;

    /// 2026-12-01T12:15:20Z, unix ms.
    const NOON: f64 = 1_796_127_320_000.0;

    fn at(ms: f64) -> Timestamp {
        Timestamp(js_free_iso(ms))
    }

    /// `ms` as the server writes it (UTC, milliseconds), without a browser.
    fn js_free_iso(ms: f64) -> String {
        let secs = (ms / 1000.0).floor() as i64;
        let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // NOON's day is 2026-12-01; the tests stay within a few days of it.
        let day = days - (NOON / 1000.0 / 86_400.0).floor() as i64 + 1;
        format!(
            "2026-12-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rest / 3600,
            rest % 3600 / 60,
            rest % 60,
            (ms % 1000.0) as i64
        )
    }

    fn event(id: i64, state: AlertState, fired: f64, resolved: Option<f64>) -> AlertEvent {
        AlertEvent {
            perfmon_alert: ALERT_SCHEMA,
            id,
            state,
            rule: if state == AlertState::Event { "run_finished".into() } else { "memory_low".into() },
            severity: Severity::Warning,
            title: format!("alert {id}"),
            message: "m".into(),
            project: None,
            run_id: None,
            series: None,
            value: None,
            threshold: None,
            fired_at: at(fired),
            resolved_at: resolved.map(at),
            silenced: false,
        }
    }

    #[test]
    fn the_test_clock_writes_what_the_server_writes() {
        assert_eq!(js_free_iso(NOON), "2026-12-01T12:15:20.000Z");
        assert_eq!(epoch_millis(&js_free_iso(NOON + 86_400_123.0)), Some(NOON + 86_400_123.0));
    }

    #[test]
    fn the_first_answer_is_the_baseline_and_later_events_are_new_once() {
        let mut seen = Seen::default();
        let old = event(1, AlertState::Event, NOON, None);
        let firing = event(2, AlertState::Firing, NOON + 1000.0, None);
        let first = Alerts {
            active: vec![firing.clone()],
            recent: vec![firing.clone(), old.clone()],
            ..Alerts::default()
        };
        assert!(seen.fresh(&first).is_empty(), "what happened before the page loaded is not notified");
        assert!(seen.baselined());
        assert!(seen.fresh(&first).is_empty(), "the same answer again: nothing new");

        // Alert 2 resolves; a run finishes; both new, oldest first.
        let resolved = event(2, AlertState::Resolved, NOON + 1000.0, Some(NOON + 9000.0));
        let finished = event(3, AlertState::Event, NOON + 5000.0, None);
        let second = Alerts {
            active: vec![],
            recent: vec![resolved.clone(), finished.clone(), old],
            ..Alerts::default()
        };
        let fresh: Vec<Key> = seen.fresh(&second).iter().map(key).collect();
        assert_eq!(fresh, [(3, AlertState::Event), (2, AlertState::Resolved)], "by when each happened");
        assert!(seen.fresh(&second).is_empty());

        // An event that fell off the list and comes back is not new.
        let third = Alerts { recent: vec![finished], ..Alerts::default() };
        assert!(seen.fresh(&third).is_empty());
        assert!(seen.fresh(&second).is_empty());
    }

    #[test]
    fn an_empty_first_answer_is_a_baseline_too() {
        let mut seen = Seen::default();
        assert!(seen.fresh(&Alerts::default()).is_empty());
        let firing = event(4, AlertState::Firing, NOON, None);
        let next = Alerts { active: vec![firing.clone()], recent: vec![firing], ..Alerts::default() };
        assert_eq!(seen.fresh(&next).len(), 1, "listed twice, notified once");
    }

    #[test]
    fn tags_name_the_alert_and_its_state() {
        assert_eq!(tag(&event(7, AlertState::Firing, NOON, None)), "perfmon-7-firing");
        assert_eq!(tag(&event(7, AlertState::Resolved, NOON, Some(NOON))), "perfmon-7-resolved");
        assert_eq!(tag(&event(8, AlertState::Event, NOON, None)), "perfmon-8-event");
    }

    #[test]
    fn merged_lists_keep_one_entry_per_alert_in_its_furthest_state() {
        let firing = event(2, AlertState::Firing, NOON + 1000.0, None);
        let resolved = event(2, AlertState::Resolved, NOON + 1000.0, Some(NOON + 9000.0));
        let older = event(1, AlertState::Event, NOON, None);
        let all = merged(&[std::slice::from_ref(&firing), &[older.clone(), resolved.clone()]]);
        assert_eq!(all, [older, resolved.clone()], "oldest first, the resolution over the firing");
        assert_eq!(merged(&[std::slice::from_ref(&resolved), &[firing]]), [resolved]);
        assert!(merged(&[]).is_empty());
    }

    #[test]
    fn marks_are_placed_and_clipped_to_the_window() {
        let (from, to) = (NOON, NOON + 100_000.0);
        let alerts = [
            // Fired at 10 %, resolved at 30 %.
            event(1, AlertState::Resolved, from + 10_000.0, Some(from + 30_000.0)),
            // Still firing since 80 %: to the right edge.
            event(2, AlertState::Firing, from + 80_000.0, None),
            // A run finished at 50 %: a line alone.
            event(3, AlertState::Event, from + 50_000.0, None),
            // Fired before the window, resolved at 20 %: its span alone.
            event(4, AlertState::Resolved, from - 50_000.0, Some(from + 20_000.0)),
            // Wholly before and after the window.
            event(5, AlertState::Resolved, from - 50_000.0, Some(from - 10_000.0)),
            event(6, AlertState::Event, to + 1.0, None),
        ];
        let placed: Vec<(i64, f64, f64, bool)> =
            marks(&alerts, from, to, |_| 0).iter().map(|m| (m.id, m.start, m.end, m.line)).collect();
        assert_eq!(
            placed,
            [(1, 0.1, 0.3, true), (2, 0.8, 1.0, true), (3, 0.5, 0.5, true), (4, 0.0, 0.2, false)]
        );
        let first = &marks(&alerts, from, to, |_| 60)[0];
        assert_eq!(first.style(), "left: 10.000%; width: 20.000%");
        assert_eq!(first.label, "memory_low fired 13:15:30, resolved 13:15:50", "local times, to the second");
        assert!(marks(&alerts, to, from, |_| 0).is_empty(), "no window, no marks");
    }

    #[test]
    fn labels_say_what_happened_and_when() {
        let clock = Clock { date: false, seconds: true };
        assert_eq!(
            label(&event(1, AlertState::Firing, NOON, None), clock, |_| 0),
            "memory_low fired 12:15:20"
        );
        assert_eq!(
            label(&event(1, AlertState::Event, NOON, None), clock, |_| 60),
            "run_finished at 13:15:20"
        );
        // Over a window that crosses midnight, dated.
        let marks = marks(&[event(1, AlertState::Firing, NOON, None)], NOON - 86_400_000.0, NOON, |_| 0);
        assert_eq!(marks[0].label, "memory_low fired Dec 1 12:15:20");
    }

    #[test]
    fn list_times_are_dated_only_on_another_day() {
        assert_eq!(when(NOON, NOON + 60_000.0, |_| 0), "12:15:20");
        assert_eq!(when(NOON, NOON + 86_400_000.0, |_| 0), "Dec 1 12:15:20");
        // 23:30 local the evening before, in UTC+12: 11:30Z the same UTC day.
        assert_eq!(when(NOON - 45.0 * 60_000.0 - 20_000.0, NOON, |_| 720), "Dec 1 23:30:00");
    }

    #[test]
    fn settings_durations_read_as_they_are_written() {
        assert_eq!(seconds_words(172_800), "48 h");
        assert_eq!(seconds_words(30 * 86_400), "30 d");
        assert_eq!(seconds_words(365 * 86_400), "365 d");
        assert_eq!(seconds_words(600), "10 min");
        assert_eq!(seconds_words(45), "45 s");
        assert_eq!(seconds_words(0), "0 s");
        assert_eq!(millis_words(250), "250 ms");
        assert_eq!(millis_words(1000), "1 s");
        assert_eq!(millis_words(1500), "1.5 s");
        assert_eq!(repeat_words(Some(1800)), "every 30 min");
        assert_eq!(repeat_words(None), "never");
        assert_eq!(repeat_words(Some(0)), "never");
        assert_eq!(tier_words("1m"), "Per minute");
        assert_eq!(tier_words("1d"), "Tier 1d");
    }
}
