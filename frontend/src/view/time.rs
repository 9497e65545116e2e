//! Time as the panel shows it: the server's RFC 3339 instants, local times and
//! spans written so that their ends can be told apart, and durations.

/// Seconds since the Unix epoch of a UTC RFC 3339 time as the server writes it
/// (`2026-02-08T20:15:30.123Z`); `None` for anything else.
pub fn epoch_seconds(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, mo, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.split('.').next()?;
    let mut t = time.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

/// Milliseconds since the Unix epoch of a UTC RFC 3339 time as the server writes
/// it, fractions of a second included; `None` for anything else.
pub fn epoch_millis(text: &str) -> Option<f64> {
    let seconds = epoch_seconds(text)?;
    let fraction = text.strip_suffix('Z')?.split_once('.').map_or("", |(_, f)| f);
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let millis: f64 = format!("0.{fraction}").parse::<f64>().ok().map_or(0.0, |f| (f * 1000.0).round());
    Some(seconds as f64 * 1000.0 + millis)
}

/// `ms` (unix ms) as local wall-clock time `offset_minutes` east of UTC:
/// `14:05:09`, or `Dec 1 14:05` when `with_date`.
pub fn local_clock(ms: f64, offset_minutes: i64, with_date: bool) -> String {
    local_time(ms, offset_minutes, Clock { date: with_date, seconds: !with_date })
}

/// What a local time is written with: its date, its seconds, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// `Dec 1` before the time.
    pub date: bool,
    /// `:09` after the minutes.
    pub seconds: bool,
}

impl Clock {
    /// How the times within `[from_ms, to_ms]` are written so that any two can
    /// be told apart: with the date when the span is a day or more or crosses a
    /// local midnight (each end read with its own offset, from `offset_at`),
    /// with seconds unless it spans days (a 15-minute span needs them; on a
    /// week they are noise).
    pub fn for_span(from_ms: f64, to_ms: f64, offset_at: impl Fn(f64) -> i64) -> Clock {
        let span = to_ms - from_ms;
        let local_day = |ms: f64| ((ms / 1000.0).floor() as i64 + offset_at(ms) * 60).div_euclid(86_400);
        Clock { date: span >= DAY_MS || local_day(from_ms) != local_day(to_ms), seconds: span < 2.0 * DAY_MS }
    }
}

const DAY_MS: f64 = 86_400_000.0;

/// `ms` (unix ms) as local wall-clock time `offset_minutes` east of UTC,
/// written as `clock` says: `14:05:09`, `14:05`, `Dec 1 14:05:09`, `Dec 1 14:05`.
pub fn local_time(ms: f64, offset_minutes: i64, clock: Clock) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let local = (ms / 1000.0).floor() as i64 + offset_minutes * 60;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let time = if clock.seconds { format!("{h:02}:{m:02}:{s:02}") } else { format!("{h:02}:{m:02}") };
    if !clock.date {
        return time;
    }
    // The civil date of a day count (Howard Hinnant's algorithm, inverted).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{} {day} {time}", MONTHS[(month - 1) as usize])
}

/// A span in local time, both ends written as [`Clock::for_span`] says, each
/// with its own offset from `offset_at` (minutes east of UTC at an instant),
/// and the offsets named: `13:00:00 – 13:15:00 local time (UTC+01:00)`, or
/// across a change of daylight saving time
/// `Oct 20 13:00 – Oct 27 13:00 local time (UTC+02:00 → UTC+01:00)`.
pub fn span_text(from_ms: f64, to_ms: f64, offset_at: impl Fn(f64) -> i64) -> String {
    let (start, end) = (offset_at(from_ms), offset_at(to_ms));
    let clock = Clock::for_span(from_ms, to_ms, &offset_at);
    let zone =
        if start == end { utc_offset(end) } else { format!("{} → {}", utc_offset(start), utc_offset(end)) };
    format!("{} – {} local time ({zone})", local_time(from_ms, start, clock), local_time(to_ms, end, clock))
}

/// `UTC+01:00`, `UTC−05:30`, `UTC` for an offset in minutes east of UTC.
pub fn utc_offset(offset_minutes: i64) -> String {
    if offset_minutes == 0 {
        return "UTC".to_owned();
    }
    let sign = if offset_minutes > 0 { '+' } else { '−' };
    let m = offset_minutes.abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// One instant as a record shows it: local, to the second, with its date and
/// its offset named: `Dec 1 13:15:20 (UTC+01:00)`.
pub fn local_instant(ms: f64, offset_minutes: i64) -> String {
    let clock = Clock { date: true, seconds: true };
    format!("{} ({})", local_time(ms, offset_minutes, clock), utc_offset(offset_minutes))
}

/// This browser's offset from UTC at `ms`, minutes east (JS counts west).
pub fn browser_offset(ms: f64) -> i64 {
    -(js_sys::Date::new(&ms.into()).get_timezone_offset() as i64)
}

/// A duration as `45s`, `12m 03s` or `3h 07m`.
pub fn elapsed(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m {sec:02}s"),
        (h, min, _) => format!("{h}h {min:02}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_match_known_instants() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-02-08T20:15:30.123Z"), Some(1_770_581_730));
        assert_eq!(epoch_seconds("2000-03-01T00:00:00Z"), Some(951_868_800));
        assert_eq!(epoch_seconds("2026-02-08 20:15:30"), None);
        assert_eq!(epoch_seconds("2026-13-08T20:15:30Z"), None);
    }

    #[test]
    fn local_clocks_shift_by_the_offset_and_may_carry_the_date() {
        let t = 1_770_581_730_123.0; // 2026-02-08T20:15:30.123Z
        assert_eq!(local_clock(t, 0, false), "20:15:30");
        assert_eq!(local_clock(t, 60, false), "21:15:30");
        assert_eq!(local_clock(t, 240, true), "Feb 9 00:15", "past midnight in UTC+4");
        assert_eq!(local_clock(t, -330, true), "Feb 8 14:45");
        assert_eq!(utc_offset(60), "UTC+01:00");
        assert_eq!(utc_offset(-330), "UTC−05:30");
        assert_eq!(utc_offset(0), "UTC");
    }

    /// 2026-12-01T12:15:20Z, unix ms.
    const NOON: f64 = 1_796_127_320_000.0;
    const MINUTE: f64 = 60_000.0;

    #[test]
    fn a_day_long_span_names_both_dates_to_the_second() {
        let text = span_text(NOON, NOON + 1440.0 * MINUTE, |_| 60);
        assert_eq!(text, "Dec 1 13:15:20 – Dec 2 13:15:20 local time (UTC+01:00)");
    }

    #[test]
    fn a_short_span_has_dates_only_when_it_crosses_a_local_midnight() {
        // 23:50 – 00:05 in UTC+01:00.
        let late = NOON + (10.0 * 60.0 + 35.0) * MINUTE - 20_000.0;
        assert_eq!(
            span_text(late, late + 15.0 * MINUTE, |_| 60),
            "Dec 1 23:50:00 – Dec 2 00:05:00 local time (UTC+01:00)"
        );
        assert_eq!(
            span_text(NOON, NOON + 15.0 * MINUTE, |_| 60),
            "13:15:20 – 13:30:20 local time (UTC+01:00)",
            "within one day: no date, but seconds"
        );
        // The same instants in UTC do not cross midnight there.
        assert_eq!(Clock::for_span(late, late + 15.0 * MINUTE, |_| 0), Clock { date: false, seconds: true });
    }

    #[test]
    fn a_week_across_a_change_of_daylight_saving_reads_each_end_with_its_own_offset() {
        // Central European time: summer time ends 2026-10-25T01:00:00Z.
        let change = 1_792_890_000_000.0;
        let cet = |ms: f64| if ms < change { 120 } else { 60 };
        let to = change + 2.0 * 86_400_000.0; // Oct 27 01:00Z = 02:00 CET
        let text = span_text(to - 7.0 * 86_400_000.0, to, cet);
        // Oct 20 01:00Z is 03:00 CEST: each end its own wall-clock time.
        assert_eq!(text, "Oct 20 03:00 – Oct 27 02:00 local time (UTC+02:00 → UTC+01:00)");
    }

    #[test]
    fn a_records_instant_has_its_date_seconds_and_offset() {
        assert_eq!(local_instant(NOON, 60), "Dec 1 13:15:20 (UTC+01:00)");
        assert_eq!(local_instant(NOON + 1000.0, 0), "Dec 1 12:15:21 (UTC)");
        assert_eq!(local_time(NOON, -300, Clock { date: true, seconds: false }), "Dec 1 07:15");
    }

    #[test]
    fn epoch_millis_keep_the_fraction() {
        assert_eq!(epoch_millis("2026-02-08T20:15:30.123Z"), Some(1_770_581_730_123.0));
        assert_eq!(epoch_millis("2026-02-08T20:15:30Z"), Some(1_770_581_730_000.0));
        assert_eq!(epoch_millis("2026-02-08T20:15:30.5Z"), Some(1_770_581_730_500.0));
        assert_eq!(epoch_millis("2026-02-08T20:15:30.x1Z"), None);
        assert_eq!(epoch_millis(""), None);
    }

    #[test]
    fn elapsed_times_read_like_a_stopwatch() {
        assert_eq!(elapsed(0), "0s");
        assert_eq!(elapsed(45), "45s");
        assert_eq!(elapsed(723), "12m 03s");
        assert_eq!(elapsed(3 * 3600 + 7 * 60 + 5), "3h 07m");
        assert_eq!(elapsed(-5), "0s");
    }
}
