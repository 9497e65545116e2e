//! The same span a day or a week earlier on a [`super::TimeChart`]
//! ([`crate::state::Earlier`]): its faint lines merged onto the chart's own
//! time axis (uPlot draws every series over one), the change of each line's
//! mean over the window in words (`+12.5 % vs a day earlier`), the sentence
//! the text alternative gains, and what the readout adds under the cursor.
//!
//! Plain functions, tested natively; the chart component calls them.

use shared::api::percent_change;

use crate::state::{Timeline, Window};
use crate::view::decimate::{self, Decimated, DecimatedLine};
use crate::view::format::Unit;

/// The chart's decimated lines and the earlier ones on one time axis: each
/// row of either in time order, one row where both have the same time, and a
/// line `None` at the rows that are not its own (the chart joins those: they
/// are narrower than its gaps).
pub fn merge(current: Decimated, earlier: &Decimated) -> (Decimated, Vec<Vec<Option<f64>>>) {
    let (a, b) = (&current.times, &earlier.times);
    let mut out = Decimated {
        times: Vec::with_capacity(a.len() + b.len()),
        lines: vec![DecimatedLine::default(); current.lines.len()],
        breaks: current.breaks,
    };
    let mut faint: Vec<Vec<Option<f64>>> = vec![Vec::with_capacity(a.len() + b.len()); earlier.lines.len()];
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let own = i < a.len() && (j >= b.len() || a[i] <= b[j]);
        let theirs = j < b.len() && (i >= a.len() || b[j] <= a[i]);
        out.times.push(if own { a[i] } else { b[j] });
        for (line, out) in current.lines.iter().zip(&mut out.lines) {
            let at = |v: &Vec<Option<f64>>| if own { v.get(i).copied().flatten() } else { None };
            out.values.push(at(&line.values));
            out.low.push(at(&line.low));
            out.high.push(at(&line.high));
        }
        for (line, out) in earlier.lines.iter().zip(&mut faint) {
            out.push(if theirs { line.values.get(j).copied().flatten() } else { None });
        }
        i += usize::from(own);
        j += usize::from(theirs);
    }
    (out, faint)
}

/// The mean of series `key` over `window`; `None` without a value there.
pub fn mean(timeline: &Timeline, key: &str, window: Window) -> Option<f64> {
    let column = timeline.column(key)?;
    decimate::summarise(&timeline.times, &column.line(), window.from, window.to).map(|s| s.mean)
}

/// What the chart's head says of the comparison: `+12.5 % vs a day earlier`
/// for one line, `Memory +12.5 % · Swap −3.0 % vs a day earlier` for more
/// (`labels`, each line's mean over the window `now` and `before`); `nothing
/// recorded a day earlier` when no line has an earlier value; `None` when no
/// line has a change to give (a mean missing now, or zero before).
pub fn change(labels: &[&str], now: &[Option<f64>], before: &[Option<f64>], words: &str) -> Option<String> {
    if before.iter().all(Option::is_none) {
        return Some(format!("nothing recorded {words}"));
    }
    let changes: Vec<(&str, String)> = labels
        .iter()
        .zip(now.iter().zip(before))
        .filter_map(|(label, (now, before))| Some((*label, percent_change(*now, *before)?)))
        .collect();
    match changes.as_slice() {
        [] => None,
        [(_, change)] if labels.len() == 1 => Some(format!("{change} vs {words}")),
        _ => {
            let parts: Vec<String> =
                changes.iter().map(|(label, change)| format!("{label} {change}")).collect();
            Some(format!("{} vs {words}", parts.join(" · ")))
        }
    }
}

/// The text alternative's sentence on the earlier span: `A day earlier: CPU
/// mean 10.0 %.`, or `Nothing recorded a day earlier.`
pub fn recalled(labels: &[&str], before: &[Option<f64>], unit: Unit, words: &str) -> String {
    if before.iter().all(Option::is_none) {
        return format!("{}.", capitalised(&format!("nothing recorded {words}")));
    }
    let parts: Vec<String> = labels
        .iter()
        .zip(before)
        .map(|(label, mean)| match mean {
            Some(mean) => format!("{label} mean {}", unit.format(*mean)),
            None => format!("{label} no data"),
        })
        .collect();
    format!("{}: {}.", capitalised(words), parts.join(", "))
}

/// The earlier value of series `key` at `t` (unix ms, on the window's axis):
/// the nearest earlier point's, if it lies within the earlier timeline's gap
/// (beyond it, nothing was recorded there).
pub fn value_at(timeline: &Timeline, key: &str, t: f64) -> Option<f64> {
    let i = decimate::nearest(&timeline.times, t)?;
    if (timeline.times[i] - t).abs() > timeline.gap_ms() {
        return None;
    }
    timeline.column(key)?.mean.get(i).copied().flatten().filter(|v| v.is_finite())
}

/// What the readout adds at `t`: `a day earlier CPU 10.0 %` (or `… CPU no data`),
/// each line's earlier value after the ones shown now.
pub fn readout(timeline: &Timeline, lines: &[(&str, &str)], t: f64, unit: Unit, words: &str) -> String {
    let parts: Vec<String> = lines
        .iter()
        .map(|(key, label)| {
            let value = value_at(timeline, key, t);
            format!("{label} {}", value.map_or("no data".to_owned(), |v| unit.format(v)))
        })
        .collect();
    format!("{words} {}", parts.join(", "))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use shared::api::HistorySeries;

    use super::*;
    use crate::state::range::Compare;
    use crate::state::timeline::Earlier;

    const DAY: i64 = 86_400_000;
    const T0: i64 = 1_795_000_000_000;

    /// `n` points a second apart from `start` (unix ms) of `cpu.percent`.
    fn history(start: i64, values: &[Option<f64>]) -> HistorySeries {
        let mut h = HistorySeries { step_s: 1, tier: "raw".into(), ..HistorySeries::default() };
        h.timestamps = (0..values.len() as i64).map(|i| start + i * 1000).collect();
        h.series.insert("cpu.percent".into(), values.to_vec());
        h
    }

    fn decimated(t: &Timeline, window: Window) -> Decimated {
        let column = t.column("cpu.percent").expect("cpu");
        decimate::decimate(&t.times, &[column.line()], window.from, window.to, 1000, t.gap_ms())
    }

    #[test]
    fn a_value_a_day_back_is_drawn_where_the_same_time_is_today() {
        // Today: 10 % for a minute. A day before: 20 %, and 77 % at 30 s.
        let now = Timeline::from_history(history(T0, &[Some(10.0); 60]));
        let mut before = vec![Some(20.0); 60];
        before[30] = Some(77.0);
        let earlier = Earlier::ready(Compare::Day, history(T0 - DAY, &before));
        let earlier = earlier.timeline.expect("answered");
        let window = Window { from: T0 as f64, to: (T0 + 59_000) as f64 };
        let (merged, faint) = merge(decimated(&now, window), &decimated(&earlier, window));
        let at = merged.times.iter().position(|t| *t == (T0 + 30_000) as f64).expect("a row at t");
        assert_eq!(faint[0][at], Some(77.0), "the value at t − 1 d is drawn at t");
        assert_eq!(merged.lines[0].values[at], Some(10.0), "beside today's, on the same row");
        assert_eq!(merged.times.len(), 60, "same times: one row each, not two");
        assert!(merged.times.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(value_at(&earlier, "cpu.percent", (T0 + 30_000) as f64), Some(77.0));
        assert_eq!(
            readout(
                &earlier,
                &[("cpu.percent", "CPU")],
                (T0 + 30_400) as f64,
                Unit::Percent,
                "a day earlier"
            ),
            "a day earlier CPU 77.0 %"
        );
    }

    #[test]
    fn rows_of_either_interleave_and_each_line_is_empty_at_the_others() {
        let line =
            |v: &[Option<f64>]| DecimatedLine { values: v.to_vec(), low: v.to_vec(), high: v.to_vec() };
        let current = Decimated {
            times: vec![0.0, 2.0, 4.0],
            lines: vec![line(&[Some(1.0), None, Some(3.0)])],
            breaks: 1,
        };
        let earlier = Decimated {
            times: vec![1.0, 2.0, 5.0],
            lines: vec![line(&[Some(7.0), Some(8.0), Some(9.0)])],
            breaks: 0,
        };
        let (merged, faint) = merge(current, &earlier);
        assert_eq!(merged.times, [0.0, 1.0, 2.0, 4.0, 5.0]);
        assert_eq!(merged.lines[0].values, [Some(1.0), None, None, Some(3.0), None]);
        assert_eq!(merged.lines[0].high, merged.lines[0].values, "the range follows its line");
        assert_eq!(faint[0], [None, Some(7.0), Some(8.0), None, Some(9.0)]);
        assert_eq!(merged.breaks, 1, "the chart's own breaks are kept");

        // Nothing earlier: the chart's rows as they were, the faint line empty.
        let current =
            Decimated { times: vec![0.0, 2.0], lines: vec![line(&[Some(1.0), Some(2.0)])], breaks: 0 };
        let none = Decimated { lines: vec![DecimatedLine::default()], ..Decimated::default() };
        let (merged, faint) = merge(current.clone(), &none);
        assert_eq!(merged, current);
        assert_eq!(faint, [vec![None, None]]);
    }

    #[test]
    fn the_change_compares_the_means_over_the_window() {
        let now = Timeline::from_history(history(T0, &[Some(10.0), Some(12.5), Some(15.0), Some(100.0)]));
        let earlier =
            Earlier::ready(Compare::Week, history(T0 - 7 * DAY, &[Some(8.0), Some(10.0), Some(12.0), None]));
        let earlier = earlier.timeline.expect("answered");
        // The window leaves out the last point: 12.5 against 10.0.
        let window = Window { from: T0 as f64, to: (T0 + 2_000) as f64 };
        let (m_now, m_before) = (mean(&now, "cpu.percent", window), mean(&earlier, "cpu.percent", window));
        assert_eq!((m_now, m_before), (Some(12.5), Some(10.0)));
        assert_eq!(
            change(&["CPU"], &[m_now], &[m_before], "a week earlier").as_deref(),
            Some("+25.0 % vs a week earlier")
        );
        assert_eq!(
            recalled(&["CPU"], &[m_before], Unit::Percent, "a week earlier"),
            "A week earlier: CPU mean 10.0 %."
        );
        assert_eq!(mean(&earlier, "cpu.percent", Window { from: 0.0, to: 1.0 }), None);
    }

    #[test]
    fn several_lines_name_theirs_and_a_missing_or_zero_mean_gives_none() {
        let labels = ["Memory", "Swap"];
        assert_eq!(
            change(&labels, &[Some(5.0), Some(1.0)], &[Some(4.0), Some(2.0)], "a day earlier").as_deref(),
            Some("Memory +25.0 % · Swap \u{2212}50.0 % vs a day earlier")
        );
        assert_eq!(
            change(&labels, &[Some(5.0), Some(1.0)], &[Some(4.0), Some(0.0)], "a day earlier").as_deref(),
            Some("Memory +25.0 % vs a day earlier"),
            "from zero there is no percentage"
        );
        assert_eq!(change(&["Sent"], &[None], &[Some(3.0)], "a day earlier"), None, "nothing now: no change");
        assert_eq!(change(&["Sent"], &[Some(3.0)], &[Some(0.0)], "a day earlier"), None);
        assert_eq!(
            change(&["CPU"], &[Some(3.0)], &[Some(3.0)], "a day earlier").as_deref(),
            Some("\u{b1}0.0 % vs a day earlier")
        );
        assert_eq!(
            recalled(&labels, &[Some(4.0), None], Unit::Gigabytes, "a day earlier"),
            format!("A day earlier: Memory mean {}, Swap no data.", Unit::Gigabytes.format(4.0))
        );
    }

    #[test]
    fn nothing_recorded_that_far_back_says_so_rather_than_zero() {
        assert_eq!(
            change(&["CPU"], &[Some(10.0)], &[None], "a day earlier").as_deref(),
            Some("nothing recorded a day earlier")
        );
        assert_eq!(
            recalled(&["CPU"], &[None], Unit::Percent, "a week earlier"),
            "Nothing recorded a week earlier."
        );
        // A store that kept nothing then answers with no points at all.
        let empty = Earlier::ready(Compare::Day, HistorySeries { step_s: 60, ..HistorySeries::default() });
        let empty = empty.timeline.expect("answered");
        assert_eq!(mean(&empty, "cpu.percent", Window { from: 0.0, to: 9e12 }), None);
        assert_eq!(value_at(&empty, "cpu.percent", 5.0), None);
        assert_eq!(
            readout(&empty, &[("cpu.percent", "CPU")], 5.0, Unit::Percent, "a day earlier"),
            "a day earlier CPU no data"
        );
    }

    #[test]
    fn the_readout_has_no_earlier_value_across_a_gap() {
        // Ten seconds recorded, then nothing for a minute and a half.
        let mut h = history(T0 - DAY, &[Some(20.0); 10]);
        h.timestamps.push(T0 - DAY + 100_000);
        h.series.get_mut("cpu.percent").expect("cpu").push(Some(30.0));
        let earlier = Earlier::ready(Compare::Day, h).timeline.expect("answered");
        assert_eq!(value_at(&earlier, "cpu.percent", (T0 + 9_400) as f64), Some(20.0));
        assert_eq!(value_at(&earlier, "cpu.percent", (T0 + 50_000) as f64), None, "no point near: no value");
        assert_eq!(value_at(&earlier, "cpu.percent", (T0 + 100_000) as f64), Some(30.0));
    }
}
