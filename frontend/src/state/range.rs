//! The span the dashboard shows: the last 15 minutes to 30 days, following the
//! live stream, or a fixed span the user dragged across a chart.

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

    /// The span dragged across, as a range: at least [`MIN_SPAN_MS`] wide.
    pub fn zoomed(w: Window) -> Range {
        let (from, to) = if w.from <= w.to { (w.from, w.to) } else { (w.to, w.from) };
        let middle = (from + to) / 2.0;
        let half = ((to - from) / 2.0).max(MIN_SPAN_MS / 2.0);
        Range::Span(Window { from: middle - half, to: middle + half })
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
