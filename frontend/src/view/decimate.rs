//! Fitting a long series into a chart's width: at most two points per pixel
//! column — the column's lowest and highest, in the order they happened — so a
//! day at one sample a second (86,400 points) draws as a few thousand while a
//! one-second spike still reaches its height. Where the store's points stand
//! for several samples, their own min and max feed the column's range, so a
//! spike inside a minute survives too.
//!
//! Plain functions on slices, tested natively; the chart component hands the
//! result to uPlot.

/// One line as held: a mean per timestamp, and where points stand for several
/// samples, their smallest and largest sample.
#[derive(Debug, Clone, Copy)]
pub struct LineData<'a> {
    /// The value at each timestamp (`None`: nothing recorded).
    pub mean: &'a [Option<f64>],
    /// Each point's smallest sample, where points are downsampled.
    pub min: Option<&'a [Option<f64>]>,
    /// Each point's largest sample, where points are downsampled.
    pub max: Option<&'a [Option<f64>]>,
}

impl<'a> LineData<'a> {
    /// A line of plain samples.
    pub fn plain(mean: &'a [Option<f64>]) -> Self {
        LineData { mean, min: None, max: None }
    }
}

/// One line as drawn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecimatedLine {
    /// The line itself: per column its lowest and highest value in time order.
    pub values: Vec<Option<f64>>,
    /// The bottom of the column's range (the store's minimums where there are).
    pub low: Vec<Option<f64>>,
    /// The top of the column's range (the store's maximums where there are).
    pub high: Vec<Option<f64>>,
}

/// What a chart draws: shared timestamps (unix ms) and each line's values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decimated {
    /// Timestamps, ascending.
    pub times: Vec<f64>,
    /// One per input line, in input order.
    pub lines: Vec<DecimatedLine>,
    /// Rows inserted to break the lines over gaps in the data.
    pub breaks: usize,
}

impl Decimated {
    fn push_row(&mut self, time: f64, row: impl Iterator<Item = (Option<f64>, Option<f64>, Option<f64>)>) {
        self.times.push(time);
        for (line, (value, low, high)) in self.lines.iter_mut().zip(row) {
            line.values.push(value);
            line.low.push(low);
            line.high.push(high);
        }
    }
}

/// One line's figures within one pixel column.
#[derive(Debug, Clone, Copy, Default)]
struct Column {
    /// Lowest mean and where it was.
    lowest: Option<(f64, usize)>,
    /// Highest mean and where it was.
    highest: Option<(f64, usize)>,
    /// Lowest of the minimums (or means).
    low: Option<f64>,
    /// Highest of the maximums (or means).
    high: Option<f64>,
}

impl Column {
    fn add(&mut self, line: &LineData<'_>, i: usize) {
        let Some(value) = line.mean.get(i).copied().flatten().filter(|v| v.is_finite()) else { return };
        if self.lowest.is_none_or(|(v, _)| value < v) {
            self.lowest = Some((value, i));
        }
        if self.highest.is_none_or(|(v, _)| value > v) {
            self.highest = Some((value, i));
        }
        let low = line.min.and_then(|m| m.get(i).copied().flatten()).unwrap_or(value);
        let high = line.max.and_then(|m| m.get(i).copied().flatten()).unwrap_or(value);
        self.low = Some(self.low.map_or(low, |l| l.min(low)));
        self.high = Some(self.high.map_or(high, |h| h.max(high)));
    }

    /// The column's two values, in the order they happened.
    fn pair(&self) -> (Option<f64>, Option<f64>) {
        match (self.lowest, self.highest) {
            (Some((lo, li)), Some((hi, hi_i))) if li <= hi_i => (Some(lo), Some(hi)),
            (Some((lo, _)), Some((hi, _))) => (Some(hi), Some(lo)),
            _ => (None, None),
        }
    }
}

/// The points of `lines` (all indexed like `times`, unix ms ascending) that fall
/// in `[from, to]`, and one neighbour on each side so lines reach the edges,
/// reduced to at most two per each of `columns` pixel columns. A gap longer
/// than `gap_ms` between drawn points becomes a `None` row, so the chart breaks
/// the line there rather than drawing a straight line over hours of nothing.
pub fn decimate(
    times: &[f64],
    lines: &[LineData<'_>],
    from: f64,
    to: f64,
    columns: usize,
    gap_ms: f64,
) -> Decimated {
    let mut out = Decimated { lines: vec![DecimatedLine::default(); lines.len()], ..Decimated::default() };
    if columns == 0 || to <= from || times.is_empty() {
        return out;
    }
    let start = times.partition_point(|t| *t < from).saturating_sub(1);
    let end = (times.partition_point(|t| *t <= to) + 1).min(times.len());
    let width = (to - from) / columns as f64;
    let column_of = |t: f64| ((t - from) / width).floor().clamp(-1.0, columns as f64) as i64;

    let mut columns_now = vec![Column::default(); lines.len()];
    let mut current: Option<(i64, usize, usize)> = None; // (column, first index, last index)
    let mut last_drawn: Option<f64> = None;
    let mut flush = |out: &mut Decimated, cols: &mut [Column], first: usize, last: usize| {
        if let Some(previous) = last_drawn
            && times[first] - previous > gap_ms
        {
            out.push_row(previous + 1.0, lines.iter().map(|_| (None, None, None)));
            out.breaks += 1;
        }
        if first == last {
            out.push_row(times[first], cols.iter().map(|c| (c.lowest.map(|(v, _)| v), c.low, c.high)));
        } else {
            let pairs: Vec<_> = cols.iter().map(Column::pair).collect();
            out.push_row(times[first], cols.iter().zip(&pairs).map(|(c, p)| (p.0, c.low, c.high)));
            out.push_row(times[last], cols.iter().zip(&pairs).map(|(c, p)| (p.1, c.low, c.high)));
        }
        last_drawn = Some(times[last]);
        cols.iter_mut().for_each(|c| *c = Column::default());
    };
    for (i, &t) in times.iter().enumerate().take(end).skip(start) {
        let column = column_of(t);
        match current {
            Some((c, _, ref mut last)) if c == column => *last = i,
            Some((_, first, last)) => {
                flush(&mut out, &mut columns_now, first, last);
                current = Some((column, i, i));
            }
            None => current = Some((column, i, i)),
        }
        for (col, line) in columns_now.iter_mut().zip(lines) {
            col.add(line, i);
        }
    }
    if let Some((_, first, last)) = current {
        flush(&mut out, &mut columns_now, first, last);
    }
    out
}

/// The index of the point of `times` nearest to `t`, if there is any.
pub fn nearest(times: &[f64], t: f64) -> Option<usize> {
    let after = times.partition_point(|x| *x < t);
    match (after.checked_sub(1), (after < times.len()).then_some(after)) {
        (Some(b), Some(a)) => Some(if t - times[b] <= times[a] - t { b } else { a }),
        (Some(b), None) => Some(b),
        (None, a) => a,
    }
}

/// A line's figures over a window, for the chart's text alternative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The newest value.
    pub latest: f64,
    /// The smallest sample (the store's minimums where there are).
    pub min: f64,
    /// The largest sample (the store's maximums where there are).
    pub max: f64,
    /// The mean of the points.
    pub mean: f64,
}

/// `line`'s latest, min, max and mean over `[from, to]`; `None` when nothing was
/// recorded there.
pub fn summarise(times: &[f64], line: &LineData<'_>, from: f64, to: f64) -> Option<Summary> {
    let start = times.partition_point(|t| *t < from);
    let end = times.partition_point(|t| *t <= to);
    let mut column = Column::default();
    let (mut sum, mut count, mut latest) = (0.0, 0usize, None);
    for i in start..end {
        if let Some(v) = line.mean.get(i).copied().flatten().filter(|v| v.is_finite()) {
            column.add(line, i);
            sum += v;
            count += 1;
            latest = Some(v);
        }
    }
    Some(Summary { latest: latest?, min: column.low?, max: column.high?, mean: sum / count as f64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(n: usize) -> Vec<f64> {
        (0..n).map(|i| i as f64 * 1000.0).collect()
    }

    #[test]
    fn a_day_at_one_hertz_fits_two_points_per_column_and_keeps_its_spike() {
        let times = seconds(86_400);
        let mut cpu: Vec<Option<f64>> = vec![Some(10.0); 86_400];
        cpu[40_001] = Some(100.0);
        cpu[70_000] = Some(0.5);
        let out = decimate(&times, &[LineData::plain(&cpu)], 0.0, 86_399_000.0, 1000, 10_000.0);
        assert!(out.times.len() <= 2 * 1000 + 2, "{} points for 1000 columns", out.times.len());
        assert!(out.times.len() > 1000, "every column is drawn");
        let values = &out.lines[0].values;
        assert_eq!(values.iter().flatten().copied().fold(f64::MIN, f64::max), 100.0, "the spike survives");
        assert_eq!(values.iter().flatten().copied().fold(f64::MAX, f64::min), 0.5, "the dip survives");
        assert!(out.times.windows(2).all(|w| w[0] <= w[1]), "time order is kept");
    }

    #[test]
    fn a_column_keeps_its_extremes_in_the_order_they_happened() {
        let times = seconds(4);
        let values = [Some(5.0), Some(9.0), Some(1.0), Some(5.0)];
        let out = decimate(&times, &[LineData::plain(&values)], 0.0, 4000.0, 1, 1e9);
        assert_eq!(out.times, [0.0, 3000.0]);
        assert_eq!(out.lines[0].values, [Some(9.0), Some(1.0)], "the high came first");
        assert_eq!(out.lines[0].low, [Some(1.0), Some(1.0)]);
        assert_eq!(out.lines[0].high, [Some(9.0), Some(9.0)]);
    }

    #[test]
    fn downsampled_points_feed_their_own_min_and_max_into_the_range() {
        let times = seconds(2);
        let mean = [Some(20.0), Some(22.0)];
        let (min, max) = ([Some(3.0), Some(18.0)], [Some(90.0), Some(30.0)]);
        let line = LineData { mean: &mean, min: Some(&min), max: Some(&max) };
        let out = decimate(&times, &[line], 0.0, 2000.0, 100, 1e9);
        assert_eq!(out.lines[0].values, [Some(20.0), Some(22.0)], "the line is the mean");
        assert_eq!(out.lines[0].high, [Some(90.0), Some(30.0)], "a spike inside a minute survives");
        assert_eq!(out.lines[0].low, [Some(3.0), Some(18.0)]);
    }

    #[test]
    fn no_points_draw_nothing_and_one_point_draws_one() {
        let empty = decimate(&[], &[LineData::plain(&[])], 0.0, 10.0, 100, 1e9);
        assert!(empty.times.is_empty() && empty.lines[0].values.is_empty());
        let one = decimate(&[5.0], &[LineData::plain(&[Some(7.0)])], 0.0, 10.0, 100, 1e9);
        assert_eq!((one.times, one.lines[0].values.clone()), (vec![5.0], vec![Some(7.0)]));
        assert!(decimate(&[5.0], &[LineData::plain(&[Some(7.0)])], 0.0, 10.0, 0, 1e9).times.is_empty());
    }

    #[test]
    fn a_gap_in_the_data_breaks_the_line() {
        // Ten minutes of samples, an hour of nothing (the server was down), ten more.
        let mut times = seconds(600);
        times.extend((0..600).map(|i| 4_200_000.0 + i as f64 * 1000.0));
        let values = vec![Some(1.0); times.len()];
        let out = decimate(&times, &[LineData::plain(&values)], 0.0, 4_800_000.0, 480, 10_000.0);
        let breaks: Vec<usize> = (0..out.times.len()).filter(|i| out.lines[0].values[*i].is_none()).collect();
        assert_eq!(breaks.len(), 1, "one break, at the hole");
        assert_eq!(out.breaks, 1);
        let at = breaks[0];
        assert!(out.times[at - 1] < 600_000.0 && out.times[at + 1] >= 4_200_000.0);
    }

    #[test]
    fn nulls_stay_nulls_and_lines_reach_past_the_window_edges() {
        let times = seconds(10);
        let mut values = vec![Some(1.0); 10];
        values[5] = None;
        let other = vec![None; 10];
        let out =
            decimate(&times, &[LineData::plain(&values), LineData::plain(&other)], 2500.0, 6500.0, 100, 1e9);
        assert_eq!(out.times.first(), Some(&2000.0), "one point before the window");
        assert_eq!(out.times.last(), Some(&7000.0), "one point after it");
        assert!(out.lines[1].values.iter().all(Option::is_none), "a line with no data draws nothing");
        assert_eq!(out.lines[0].values[out.times.iter().position(|t| *t == 5000.0).unwrap_or(0)], None);
    }

    #[test]
    fn the_nearest_point_is_found_on_either_side() {
        let times = [0.0, 1000.0, 2000.0];
        assert_eq!(nearest(&times, -50.0), Some(0));
        assert_eq!(nearest(&times, 1400.0), Some(1));
        assert_eq!(nearest(&times, 1600.0), Some(2));
        assert_eq!(nearest(&times, 9000.0), Some(2));
        assert_eq!(nearest(&[], 1.0), None);
    }

    #[test]
    fn a_summary_covers_the_window_only() {
        let times = seconds(5);
        let values = [Some(100.0), Some(2.0), None, Some(4.0), Some(50.0)];
        let s = summarise(&times, &LineData::plain(&values), 1000.0, 3000.0).expect("values in the window");
        assert_eq!(s, Summary { latest: 4.0, min: 2.0, max: 4.0, mean: 3.0 });
        assert_eq!(summarise(&times, &LineData::plain(&[None; 5]), 0.0, 5000.0), None);
    }
}
