//! Which rows of the kinds kept by name a tick writes ([`Cadence`]): every
//! tick's, a window's means, or a slow source's reading when it is new.
//!
//! The writer keeps one [`Thinning`] for its life. What a window has gathered
//! and not yet written is lost if the process dies (at most one window, 5 s
//! of each core's detail); a reading is written at the first tick that has it.

use std::collections::BTreeMap;

use super::schema::{Cadence, NAMED, Named, NamedRow};
use crate::sampling::Depth;

/// Two readings whose instants (a tick's time less the reading's age) are this
/// close are the same reading: ages are whole ms, ticks' times too.
const SAME_READING_MS: i64 = 500;

/// Each kind's state between ticks, in [`NAMED`]'s order.
#[derive(Debug)]
pub(super) struct Thinning {
    kinds: Vec<KindState>,
}

#[derive(Debug, Default)]
struct KindState {
    /// The window of the last row written ([`Cadence::Window`]).
    window: Option<i64>,
    /// The instant of the last reading written ([`Cadence::Reading`]), unix ms.
    read_at: Option<i64>,
    /// Per device since the last row: the sums and counts of its means, and
    /// its newest figures.
    gathered: BTreeMap<String, Gathered>,
}

#[derive(Debug)]
struct Gathered {
    sums: Vec<(f64, u32)>,
    newest: Vec<Option<f64>>,
}

impl Thinning {
    pub(super) fn new() -> Thinning {
        Thinning { kinds: NAMED.iter().map(|_| KindState::default()).collect() }
    }

    /// The rows of `NAMED[k]` this tick (at `ts`, unix ms) writes, from the
    /// tick's own `rows`.
    pub(super) fn rows<'a>(
        &mut self,
        k: usize,
        depth: &Depth,
        ts: i64,
        rows: Vec<NamedRow<'a>>,
    ) -> Vec<NamedRow<'a>> {
        let kind: &Named = &NAMED[k];
        let state = &mut self.kinds[k];
        match kind.cadence {
            Cadence::Tick => rows,
            Cadence::Reading { age } => {
                let Some(age) = age(depth) else { return rows };
                let read_at = ts - i64::try_from(age).unwrap_or(i64::MAX);
                if state.read_at.is_some_and(|last| (read_at - last).abs() < SAME_READING_MS) {
                    return Vec::new();
                }
                state.read_at = Some(read_at);
                rows
            }
            Cadence::Window { ms, means } => {
                for (name, figures) in rows {
                    let gathered = state
                        .gathered
                        .entry(name.into_owned())
                        .or_insert_with(|| Gathered { sums: vec![(0.0, 0); means], newest: Vec::new() });
                    for ((sum, n), v) in gathered.sums.iter_mut().zip(&figures) {
                        if let Some(v) = v {
                            *sum += v;
                            *n += 1;
                        }
                    }
                    gathered.newest = figures;
                }
                let window = ts.div_euclid(ms);
                if state.window == Some(window) {
                    return Vec::new();
                }
                state.window = Some(window);
                std::mem::take(&mut state.gathered)
                    .into_iter()
                    .map(|(name, g)| {
                        // Stored figures are whole numbers of their last
                        // decimal ([`super::schema::Metric::stored`]): so is a mean.
                        let mean =
                            g.sums.iter().map(|(sum, n)| (*n > 0).then(|| (sum / f64::from(*n)).round()));
                        let rest = g.newest.into_iter().skip(means);
                        (name.into(), mean.chain(rest).collect())
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema::{CORES, SENSORS};

    fn index(kind: &Named) -> usize {
        NAMED.iter().position(|k| k.table == kind.table).expect("a kind")
    }

    #[test]
    fn a_cores_row_stands_for_its_window_its_modes_the_mean_and_its_counts_the_newest() {
        let k = index(&CORES);
        let mut thin = Thinning::new();
        let depth = Depth::default();
        let row = |iowait: f64, throttles: f64| {
            let mut figures = vec![None; CORES.metrics.len()];
            figures[4] = Some(iowait);
            figures[10] = Some(throttles);
            vec![("0".into(), figures)]
        };
        let first = thin.rows(k, &depth, 10_000, row(100.0, 7.0));
        assert_eq!(first.len(), 1, "the first tick starts a window and writes what it has");
        // Four more ticks of the same window: nothing written.
        for (i, iowait) in [10.0, 20.0, 30.0, 45.0].into_iter().enumerate() {
            let ts = 11_000 + 1000 * i as i64;
            assert!(thin.rows(k, &depth, ts, row(iowait, 8.0 + i as f64)).is_empty(), "{ts}");
        }
        // The next window's first tick writes them with itself.
        let written = thin.rows(k, &depth, 15_000, row(0.0, 12.0));
        assert_eq!(written.len(), 1);
        let (name, figures) = &written[0];
        assert_eq!(name, "0");
        assert_eq!(figures[4], Some(21.0), "(10+20+30+45+0)/5, whole");
        assert_eq!(figures[10], Some(12.0), "a counter is its newest value, not a mean");
        assert_eq!(figures[0], None, "never read: no figure");
    }

    #[test]
    fn a_reading_is_written_once_at_the_first_tick_that_has_it() {
        let k = index(&SENSORS);
        let mut thin = Thinning::new();
        let mut depth = Depth::default();
        let rows = || vec![("coretemp Package id 0".into(), vec![Some(415.0)])];
        let mut written = Vec::new();
        // Read at 10,300 and 15,300; ticks each second from 11,000.
        for ts in (11_000..=21_000).step_by(1000) {
            let read_at = if ts >= 15_300 { 15_300 } else { 10_300 };
            depth.cpu_detail.sensors.age_ms = Some((ts - read_at) as u64);
            if !thin.rows(k, &depth, ts, rows()).is_empty() {
                written.push(ts);
            }
        }
        assert_eq!(written, [11_000, 16_000]);
        depth.cpu_detail.sensors.age_ms = None;
        assert_eq!(thin.rows(k, &depth, 22_000, rows()).len(), 1, "no age to tell by: written");
    }
}
