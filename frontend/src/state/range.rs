//! The span the dashboard shows: the last 15 minutes to 30 days, following the
//! live stream, or a fixed span the user dragged across a chart; and what it is
//! compared with ([`Compare`]): nothing, or the same span a day or a week
//! earlier.

use super::Window;

/// A span ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// 15 minutes.
    Minutes15,
    /// 1 hour.
    Hour1,
    /// 6 hours.
    Hours6,
    /// 24 hours.
    Hours24,
    /// 7 days.
    Days7,
    /// 30 days.
    Days30,
}

impl Preset {
    /// Every preset, shortest first, as the picker lists them.
    pub const ALL: [Preset; 6] =
        [Preset::Minutes15, Preset::Hour1, Preset::Hours6, Preset::Hours24, Preset::Days7, Preset::Days30];

    /// Its length, ms.
    pub fn millis(self) -> f64 {
        let minutes = match self {
            Preset::Minutes15 => 15,
            Preset::Hour1 => 60,
            Preset::Hours6 => 6 * 60,
            Preset::Hours24 => 24 * 60,
            Preset::Days7 => 7 * 24 * 60,
            Preset::Days30 => 30 * 24 * 60,
        };
        f64::from(minutes) * 60_000.0
    }

    /// Its button's label.
    pub fn label(self) -> &'static str {
        match self {
            Preset::Minutes15 => "15 min",
            Preset::Hour1 => "1 h",
            Preset::Hours6 => "6 h",
            Preset::Hours24 => "24 h",
            Preset::Days7 => "7 d",
            Preset::Days30 => "30 d",
        }
    }

    /// The presets a server offers: with a store, those within what it keeps
    /// (`keeps_ms`, unknown: all); without one (`None` store), only the
    /// shortest, which the live stream's last minutes fill.
    pub fn offered(store: Option<Option<f64>>) -> Vec<Preset> {
        match store {
            None => vec![Preset::Minutes15],
            Some(None) => Preset::ALL.to_vec(),
            Some(Some(keeps_ms)) => {
                let mut offered: Vec<Preset> =
                    Preset::ALL.into_iter().filter(|p| p.millis() <= keeps_ms).collect();
                if offered.is_empty() {
                    offered.push(Preset::Minutes15);
                }
                offered
            }
        }
    }

    /// Its name in the page's URL (`?range=24h`).
    pub fn key(self) -> &'static str {
        match self {
            Preset::Minutes15 => "15m",
            Preset::Hour1 => "1h",
            Preset::Hours6 => "6h",
            Preset::Hours24 => "24h",
            Preset::Days7 => "7d",
            Preset::Days30 => "30d",
        }
    }

    /// The preset named `key` in a URL.
    pub fn from_key(key: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.key() == key)
    }

    /// Its name in words, for captions.
    pub fn words(self) -> &'static str {
        match self {
            Preset::Minutes15 => "the last 15 minutes",
            Preset::Hour1 => "the last hour",
            Preset::Hours6 => "the last 6 hours",
            Preset::Hours24 => "the last 24 hours",
            Preset::Days7 => "the last 7 days",
            Preset::Days30 => "the last 30 days",
        }
    }
}

/// What the dashboard shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// A span ending now, moving with the live stream.
    Last(Preset),
    /// A fixed span (zoomed into).
    Span(Window),
}

impl Default for Range {
    fn default() -> Self {
        Range::Last(Preset::Minutes15)
    }
}

/// Zooming closer than this shows too few points to read.
pub const MIN_SPAN_MS: f64 = 10_000.0;

impl Range {
    /// The window at `now` (unix ms).
    pub fn window(self, now: f64) -> Window {
        match self {
            Range::Last(p) => Window { from: now - p.millis(), to: now },
            Range::Span(w) => w,
        }
    }

    /// Whether live samples move its right edge.
    pub fn follows_live(self) -> bool {
        matches!(self, Range::Last(_))
    }

    /// The range a URL's query names: `range=24h`, or a zoomed span
    /// `from=MS&to=MS` (unix ms); `None` for neither or anything malformed,
    /// so a hand-edited URL falls back to the default rather than failing.
    pub fn from_query(range: Option<&str>, from: Option<&str>, to: Option<&str>) -> Option<Range> {
        if let (Some(from), Some(to)) = (from, to) {
            let (from, to) = (from.parse::<f64>().ok()?, to.parse::<f64>().ok()?);
            return (from.is_finite() && to.is_finite()).then(|| Range::zoomed(Window { from, to }));
        }
        range.and_then(Preset::from_key).map(Range::Last)
    }

    /// The query parameters that name it: `[("range", "24h")]` or
    /// `[("from", MS), ("to", MS)]`.
    pub fn to_query(self) -> Vec<(&'static str, String)> {
        match self {
            Range::Last(p) => vec![("range", p.key().to_owned())],
            Range::Span(w) => vec![("from", format!("{:.0}", w.from)), ("to", format!("{:.0}", w.to))],
        }
    }

    /// The span dragged across, as a range: at least [`MIN_SPAN_MS`] wide.
    pub fn zoomed(w: Window) -> Range {
        let (from, to) = if w.from <= w.to { (w.from, w.to) } else { (w.to, w.from) };
        let middle = (from + to) / 2.0;
        let half = ((to - from) / 2.0).max(MIN_SPAN_MS / 2.0);
        Range::Span(Window { from: middle - half, to: middle + half })
    }
}

/// What the dashboard's charts compare the range with: nothing, or the same
/// span a day or a week earlier, drawn as a faint line moved forward onto the
/// range (PerfWatch's comparison view, its T019).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compare {
    /// No comparison.
    #[default]
    Off,
    /// The same span 24 hours earlier.
    Day,
    /// The same span 7 days earlier.
    Week,
}

impl Compare {
    /// Every choice, as the picker lists them.
    pub const ALL: [Compare; 3] = [Compare::Off, Compare::Day, Compare::Week];

    /// How far back it looks, ms; `None` when off.
    pub fn offset_ms(self) -> Option<f64> {
        match self {
            Compare::Off => None,
            Compare::Day => Some(86_400_000.0),
            Compare::Week => Some(7.0 * 86_400_000.0),
        }
    }

    /// Its name in the page's URL (`?compare=1d`); `None` when off, which the
    /// URL says by leaving it out.
    pub fn key(self) -> Option<&'static str> {
        match self {
            Compare::Off => None,
            Compare::Day => Some("1d"),
            Compare::Week => Some("7d"),
        }
    }

    /// The choice a URL's `?compare=` names: anything else (or nothing) is off,
    /// so a hand-edited URL shows the range rather than failing.
    pub fn from_query(compare: Option<&str>) -> Compare {
        Compare::ALL.into_iter().find(|c| c.key().is_some() && c.key() == compare).unwrap_or_default()
    }

    /// Its button's label.
    pub fn label(self) -> &'static str {
        match self {
            Compare::Off => "Off",
            Compare::Day => "A day earlier",
            Compare::Week => "A week earlier",
        }
    }

    /// What the charts call the earlier span (`+12.5 % vs a day earlier`).
    pub fn words(self) -> &'static str {
        match self {
            Compare::Off => "nothing",
            Compare::Day => "a day earlier",
            Compare::Week => "a week earlier",
        }
    }

    /// The earlier span to fetch for window `w`: `w` moved back by the offset,
    /// and for a window that follows the live stream a tenth of its length more
    /// at the right — at most the offset, as nothing later has been recorded —
    /// so that the faint line still reaches the right edge while the window
    /// moves, until it has moved that far ([`Compare::covers`] then says to
    /// fetch again). `None` when off.
    pub fn earlier_span(self, w: Window, follows_live: bool) -> Option<Window> {
        let offset = self.offset_ms()?;
        let lead = if follows_live { ((w.to - w.from) / 10.0).clamp(0.0, offset) } else { 0.0 };
        Some(Window { from: w.from - offset, to: w.to + lead - offset })
    }

    /// Whether the earlier span fetched (`fetched`, as [`Compare::earlier_span`]
    /// gave it) still serves window `w`: it reaches `w`'s right edge, and its
    /// left edge is not a tenth of its length later than `w`'s (the page reads
    /// the clock for the window a moment before it asks for the earlier span).
    pub fn covers(self, fetched: Window, w: Window) -> bool {
        self.offset_ms().is_some_and(|offset| {
            let slack = (fetched.to - fetched.from) / 10.0;
            fetched.from + offset <= w.from + slack && w.to <= fetched.to + offset
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_end_now_and_spans_stay_put() {
        let now = 1_000_000_000.0;
        assert_eq!(Range::Last(Preset::Hour1).window(now), Window { from: now - 3_600_000.0, to: now });
        let span = Window { from: 5.0, to: 50_000.0 };
        assert_eq!(Range::Span(span).window(now), span);
        assert!(Range::default().follows_live() && !Range::Span(span).follows_live());
        assert_eq!(Preset::Days30.millis(), 2_592_000_000.0);
    }

    #[test]
    fn the_picker_offers_what_the_store_keeps() {
        assert_eq!(Preset::offered(None), [Preset::Minutes15], "no store: the stream's minutes");
        assert_eq!(Preset::offered(Some(None)).len(), 6);
        assert_eq!(Preset::offered(Some(Some(365.0 * 86_400_000.0))).len(), 6);
        assert_eq!(
            Preset::offered(Some(Some(2.0 * 86_400_000.0))),
            [Preset::Minutes15, Preset::Hour1, Preset::Hours6, Preset::Hours24]
        );
    }

    #[test]
    fn ranges_round_trip_through_the_url() {
        for range in Preset::ALL
            .map(Range::Last)
            .into_iter()
            .chain([Range::zoomed(Window { from: 1e12, to: 1e12 + 6e4 })])
        {
            let query = range.to_query();
            let get = |name: &str| query.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
            assert_eq!(Range::from_query(get("range"), get("from"), get("to")), Some(range));
        }
        assert_eq!(Range::from_query(Some("2y"), None, None), None);
        assert_eq!(Range::from_query(None, Some("x"), Some("5")), None);
        assert_eq!(Range::from_query(None, Some("5"), None), None, "half a span is no span");
    }

    #[test]
    fn the_comparison_round_trips_through_the_url() {
        for compare in Compare::ALL {
            assert_eq!(Compare::from_query(compare.key()), compare);
        }
        assert_eq!(Compare::Day.key(), Some("1d"));
        assert_eq!(Compare::Week.key(), Some("7d"));
        assert_eq!(Compare::Off.key(), None, "off is the URL without it");
        assert_eq!(Compare::from_query(Some("2d")), Compare::Off, "anything else is off");
        assert_eq!(Compare::from_query(Some("")), Compare::Off);
        assert_eq!(Compare::default(), Compare::Off);
    }

    #[test]
    fn the_earlier_span_is_the_window_moved_back_with_a_lead_while_live() {
        let day = 86_400_000.0;
        let w = Window { from: 10.0 * day, to: 10.0 * day + 600_000.0 };
        assert_eq!(Compare::Off.earlier_span(w, true), None);
        assert_eq!(
            Compare::Day.earlier_span(w, false),
            Some(Window { from: 9.0 * day, to: 9.0 * day + 600_000.0 }),
            "a zoomed span: exactly a day back"
        );
        let live = Compare::Week.earlier_span(w, true).expect("a span");
        assert_eq!(live, Window { from: 3.0 * day, to: 3.0 * day + 660_000.0 }, "a tenth more at the right");
        // 30 days against the day before: the lead stops at the offset.
        let month = Window { from: 0.0, to: 30.0 * day };
        assert_eq!(Compare::Day.earlier_span(month, true), Some(Window { from: -day, to: 30.0 * day }));

        let fetched = Compare::Day.earlier_span(w, true).expect("a span");
        assert!(Compare::Day.covers(fetched, w));
        let moved = |ms: f64| Window { from: w.from + ms, to: w.to + ms };
        assert!(Compare::Day.covers(fetched, moved(60_000.0)), "a tenth of the window: still covered");
        assert!(!Compare::Day.covers(fetched, moved(60_001.0)), "past a tenth: fetch again");
        assert!(Compare::Day.covers(fetched, moved(-5.0)), "a clock read a moment before: covered");
        assert!(!Compare::Day.covers(fetched, moved(-66_001.0)), "a window further back is not");
        assert!(!Compare::Off.covers(fetched, w));
    }

    #[test]
    fn a_zoom_is_ordered_and_never_too_narrow() {
        assert_eq!(
            Range::zoomed(Window { from: 9_000.0, to: 1_000.0 }),
            Range::Span(Window { from: 0.0, to: 10_000.0 })
        );
        assert_eq!(
            Range::zoomed(Window { from: 0.0, to: 60_000.0 }),
            Range::Span(Window { from: 0.0, to: 60_000.0 })
        );
    }
}
