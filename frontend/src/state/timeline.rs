//! [`Timeline`]: the columns a dashboard's charts draw from — the store's
//! answer for the chosen range (`/api/history`), with every live sample
//! appended at the right edge as it arrives, named as the store names its
//! series ([`shared::series`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use shared::api::{HistorySeries, RunBand, RunOutcome};
use shared::{PerfMetrics, series};

use super::range::Compare;
use crate::view::decimate::LineData;
use crate::view::time::epoch_millis;

/// One series: a value per timestamp, and where the store downsampled, each
/// point's min and max.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Column {
    /// Means (or the samples themselves).
    pub mean: Vec<Option<f64>>,
    /// Each point's smallest sample, where points stand for several.
    pub min: Option<Vec<Option<f64>>>,
    /// Each point's largest sample, where points stand for several.
    pub max: Option<Vec<Option<f64>>>,
}

impl Column {
    /// The column as a line to decimate or summarise.
    pub fn line(&self) -> LineData<'_> {
        LineData { mean: &self.mean, min: self.min.as_deref(), max: self.max.as_deref() }
    }

    fn push(&mut self, value: Option<f64>) {
        self.mean.push(value);
        // A live sample is its own min and max.
        if let Some(min) = &mut self.min {
            min.push(value);
        }
        if let Some(max) = &mut self.max {
            max.push(value);
        }
    }

    fn drain_front(&mut self, n: usize) {
        self.mean.drain(..n);
        if let Some(min) = &mut self.min {
            min.drain(..n);
        }
        if let Some(max) = &mut self.max {
            max.drain(..n);
        }
    }
}

/// A timeline shared by a page and its charts, updated in place as samples
/// arrive; compared by identity (the charts re-read it when the page's version
/// counter moves).
#[derive(Debug, Clone, Default)]
pub struct SharedTimeline(pub Rc<RefCell<Timeline>>);

impl PartialEq for SharedTimeline {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl SharedTimeline {
    /// A shared handle on `timeline`.
    pub fn new(timeline: Timeline) -> Self {
        SharedTimeline(Rc::new(RefCell::new(timeline)))
    }
}

/// The same span earlier (a day or a week), for the charts' faint lines: the
/// store's answer for the window moved back by the offset, its points moved
/// forward by it again, so that each lies where the same time of day (or of
/// the week) lies in the window shown. Cheap to clone and compared by
/// identity: the page makes a new one for each answer.
#[derive(Debug, Clone)]
pub struct Earlier {
    /// A day or a week earlier.
    pub compare: Compare,
    /// The earlier points, moved forward; `None` while the store's answer is
    /// on its way.
    pub timeline: Option<Rc<Timeline>>,
}

impl PartialEq for Earlier {
    fn eq(&self, other: &Self) -> bool {
        self.compare == other.compare
            && match (&self.timeline, &other.timeline) {
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}

impl Earlier {
    /// Asked for, not yet answered.
    pub fn loading(compare: Compare) -> Earlier {
        Earlier { compare, timeline: None }
    }

    /// The store's answer for the earlier span, moved forward onto the window.
    pub fn ready(compare: Compare, history: HistorySeries) -> Earlier {
        let timeline = Timeline::from_history(history).shifted(compare.offset_ms().unwrap_or(0.0));
        Earlier { compare, timeline: Some(Rc::new(timeline)) }
    }
}

/// The span a chart shows, unix ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// The left edge.
    pub from: f64,
    /// The right edge.
    pub to: f64,
}

/// Columnar history: timestamps (unix ms, ascending) and the series over them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Timeline {
    /// Each point's time, unix ms.
    pub times: Vec<f64>,
    /// Milliseconds each stored point covers (the store's step; live samples
    /// come at their cadence).
    pub step_ms: f64,
    /// By series name (`cpu.percent`, `gpu.0.power_w`, …).
    pub columns: BTreeMap<String, Column>,
    /// GPU names by device index.
    pub gpu_names: BTreeMap<u32, String>,
    /// The project's runs in the range, as bands.
    pub runs: Vec<RunBand>,
}

impl Timeline {
    /// The store's answer as a timeline.
    pub fn from_history(history: HistorySeries) -> Timeline {
        let HistorySeries { step_s, timestamps, series, mut min, mut max, gpu_names, runs, .. } = history;
        let columns = series
            .into_iter()
            .map(|(name, mean)| {
                let column = Column { min: min.remove(&name), max: max.remove(&name), mean };
                (name, column)
            })
            .collect();
        Timeline {
            times: timestamps.into_iter().map(|t| t as f64).collect(),
            step_ms: (step_s.max(1) * 1000) as f64,
            columns,
            gpu_names: gpu_names.into_iter().filter_map(|(i, name)| Some((i.parse().ok()?, name))).collect(),
            runs,
        }
    }

    /// Recent live samples (a stream's history replay) as a timeline.
    pub fn from_samples<'a>(samples: impl IntoIterator<Item = &'a PerfMetrics>) -> Timeline {
        let mut timeline = Timeline::default();
        for sample in samples {
            timeline.push(sample);
        }
        timeline
    }

    /// The timeline with every point `offset_ms` later, and no runs (the bands
    /// on a chart are the window's own).
    pub fn shifted(mut self, offset_ms: f64) -> Timeline {
        for t in &mut self.times {
            *t += offset_ms;
        }
        self.runs.clear();
        self
    }

    /// The series `name`, if the timeline has it.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.get(name)
    }

    /// Appends a live sample when it is newer than the newest point; returns
    /// whether it did. Series the sample has and the timeline lacks start here
    /// (with nothing before); series it lacks get `None`. Its run, when live and
    /// new to the timeline, becomes a band that is still open.
    pub fn push(&mut self, m: &PerfMetrics) -> bool {
        let Some(at) = epoch_millis(m.timestamp.as_str()) else { return false };
        if self.times.last().is_some_and(|last| at <= *last) {
            return false;
        }
        let len = self.times.len();
        let mut row: BTreeMap<String, Option<f64>> = series::sample_values(m).into_iter().collect();
        for (name, column) in &mut self.columns {
            column.push(row.remove(name.as_str()).flatten());
        }
        for (name, value) in row {
            let mut column = Column { mean: vec![None; len], ..Column::default() };
            column.push(value);
            self.columns.insert(name, column);
        }
        self.times.push(at);
        if self.step_ms <= 0.0 {
            self.step_ms = m.interval_ms.max(1) as f64;
        }
        for device in &m.gpu.devices {
            self.gpu_names.entry(device.index).or_insert_with(|| device.name.clone());
        }
        self.track_run(m, at);
        true
    }

    /// Keeps bands in step with the live run: a new live run opens a band
    /// (with its label), an open band whose run is no longer live closes at
    /// this sample, and a stopped run's exit code or signal, which the stream
    /// may bring a sample or two after the stop, says whether it failed.
    fn track_run(&mut self, m: &PerfMetrics, at: f64) {
        let live = m.run.status.is_live();
        let current = m.run.run_id.as_deref();
        for band in &mut self.runs {
            let this_run = current == Some(band.run_id.as_str());
            if band.end_ms.is_none() && !(live && this_run) {
                band.end_ms = Some(at as i64);
                if band.status == RunOutcome::Running {
                    band.status = RunOutcome::Exited;
                }
            }
            // Only an exit not yet known: a stored band already says how it ended.
            if this_run && !live && band.status == RunOutcome::Exited && band.exit_code.is_none() {
                if m.run.signal.is_some() {
                    band.status = RunOutcome::Killed;
                }
                band.exit_code = m.run.exit_code;
            }
        }
        if live
            && let Some(run_id) = current
            && !self.runs.iter().any(|b| b.run_id == run_id)
        {
            let start_ms = m.run.started_at.as_ref().and_then(|s| epoch_millis(s.as_str())).unwrap_or(at);
            self.runs.push(RunBand {
                run_id: run_id.to_owned(),
                label: m.run.label.clone(),
                start_ms: start_ms as i64,
                end_ms: None,
                status: RunOutcome::Running,
                exit_code: None,
            });
        }
    }

    /// Drops the points before `from` (unix ms), but the last one before it, so
    /// lines still reach the left edge of a window that slides with the clock.
    pub fn trim_before(&mut self, from: f64) {
        let n = self.times.partition_point(|t| *t < from).saturating_sub(1);
        if n == 0 {
            return;
        }
        self.times.drain(..n);
        for column in self.columns.values_mut() {
            column.drain_front(n);
        }
        self.runs.retain(|b| b.end_ms.is_none_or(|end| end as f64 >= from));
    }

    /// The cores with a per-core series, in order.
    pub fn cores(&self) -> usize {
        (0..).take_while(|i| self.columns.contains_key(&series::cpu_core(*i))).count()
    }

    /// The GPU devices with a series, in index order.
    pub fn gpu_devices(&self) -> Vec<u32> {
        let mut devices: Vec<u32> = self
            .columns
            .keys()
            .filter_map(|k| k.strip_prefix(series::GPU_DEVICE_PREFIX)?.split_once('.')?.0.parse().ok())
            .collect();
        devices.dedup();
        devices
    }

    /// Whether any point of `name` holds a value.
    pub fn has_values(&self, name: &str) -> bool {
        self.columns.get(name).is_some_and(|c| c.mean.iter().any(Option::is_some))
    }

    /// The gap beyond which a chart breaks its lines: well over the slowest
    /// cadence, so idle samples 3 s apart still join.
    pub fn gap_ms(&self) -> f64 {
        2.5 * self.step_ms.max(shared::IDLE_INTERVAL_MS as f64)
    }
}

#[cfg(test)]
mod tests {
    use shared::{Cpu, Run, RunProcess, RunStatus, Timestamp};

    use super::*;

    fn at(second: u32, cpu: f64) -> PerfMetrics {
        PerfMetrics {
            timestamp: Timestamp(format!("2026-12-01T10:00:{second:02}.000Z")),
            cpu: Cpu { percent: Some(cpu), per_core: vec![cpu, cpu / 2.0], load_average: None },
            interval_ms: 1000,
            ..PerfMetrics::default()
        }
    }

    fn stored() -> HistorySeries {
        let mut h = HistorySeries {
            step_s: 60,
            tier: "minute".into(),
            timestamps: vec![1_795_000_000_000, 1_795_000_060_000],
            ..HistorySeries::default()
        };
        h.series.insert("cpu.percent".into(), vec![Some(10.0), None]);
        h.min.insert("cpu.percent".into(), vec![Some(2.0), None]);
        h.max.insert("cpu.percent".into(), vec![Some(95.0), None]);
        h.gpu_names.insert("0".into(), "NVIDIA H100".into());
        h
    }

    #[test]
    fn the_stores_answer_keeps_its_min_and_max_beside_the_means() {
        let t = Timeline::from_history(stored());
        assert_eq!(t.times, [1_795_000_000_000.0, 1_795_000_060_000.0]);
        assert_eq!(t.step_ms, 60_000.0);
        let cpu = t.column("cpu.percent").expect("cpu");
        assert_eq!(cpu.max.as_deref(), Some(&[Some(95.0), None][..]));
        assert_eq!(t.gpu_names.get(&0).map(String::as_str), Some("NVIDIA H100"));
    }

    #[test]
    fn the_earlier_span_is_moved_forward_onto_the_window() {
        let day: i64 = 86_400_000;
        let mut h = stored();
        h.runs.push(RunBand {
            run_id: "7-x".into(),
            label: None,
            start_ms: 1_795_000_000_000,
            end_ms: None,
            status: RunOutcome::Running,
            exit_code: None,
        });
        let earlier = Earlier::ready(Compare::Day, h);
        let t = earlier.timeline.as_deref().expect("answered");
        assert_eq!(t.times, [(1_795_000_000_000 + day) as f64, (1_795_000_060_000 + day) as f64]);
        assert_eq!(t.column("cpu.percent").map(|c| c.mean.clone()), Some(vec![Some(10.0), None]));
        assert!(t.runs.is_empty(), "the earlier span's runs are not banded on today's chart");
        let week = Earlier::ready(Compare::Week, stored());
        assert_eq!(week.timeline.as_deref().map(|t| t.times[0]), Some((1_795_000_000_000 + 7 * day) as f64));

        // Compared by identity: the same answer is equal, a new one is not.
        assert_eq!(earlier, earlier.clone());
        assert_ne!(earlier, Earlier::ready(Compare::Day, stored()));
        assert_eq!(Earlier::loading(Compare::Day), Earlier::loading(Compare::Day));
        assert_ne!(Earlier::loading(Compare::Day), Earlier::loading(Compare::Week));
    }

    #[test]
    fn live_samples_append_at_the_right_edge_once_each() {
        let mut t = Timeline::default();
        assert!(t.push(&at(1, 10.0)));
        assert!(t.push(&at(2, 20.0)));
        assert!(!t.push(&at(2, 99.0)), "a replayed sample is not added twice");
        assert!(!t.push(&at(1, 99.0)), "nor an older one");
        assert_eq!(t.column("cpu.percent").map(|c| c.mean.clone()), Some(vec![Some(10.0), Some(20.0)]));
        assert_eq!(t.cores(), 2);
        assert_eq!(t.column("cpu.core.1").map(|c| c.mean[1]), Some(Some(10.0)));
        assert_eq!(t.column("run.cpu_percent").map(|c| c.mean.clone()), Some(vec![None, None]));
    }

    #[test]
    fn a_new_series_starts_where_it_appears_and_downsampled_columns_grow_evenly() {
        let mut t = Timeline::from_history(stored());
        let mut sample = at(0, 50.0);
        sample.timestamp = Timestamp("2026-12-01T10:00:00.000Z".into());
        assert!(t.push(&sample));
        let cpu = t.column("cpu.percent").expect("cpu");
        assert_eq!(cpu.mean.len(), 3);
        assert_eq!(cpu.max.as_ref().map(Vec::len), Some(3), "min and max stay as long as the means");
        assert_eq!(t.column("memory.used_gb").map(|c| c.mean.len()), Some(3));
        assert_eq!(t.column("cpu.core.0").map(|c| c.mean.clone()), Some(vec![None, None, Some(50.0)]));
    }

    #[test]
    fn trimming_keeps_one_point_before_the_window() {
        let mut t = Timeline::default();
        for s in 0..10 {
            t.push(&at(s, f64::from(s)));
        }
        let from = t.times[5];
        t.trim_before(from);
        assert_eq!(t.times.len(), 6);
        assert_eq!(t.column("cpu.percent").map(|c| c.mean[0]), Some(Some(4.0)));
    }

    #[test]
    fn a_live_run_opens_a_band_that_closes_when_it_ends() {
        let mut t = Timeline::default();
        let mut live = at(1, 5.0);
        live.run = Run {
            status: RunStatus::Running,
            pid: Some(7),
            started_at: Some(Timestamp("2026-12-01T09:59:00Z".into())),
            run_id: Some("7-2026-12-01T09:59:00Z".into()),
            process: Some(RunProcess { cpu_percent: Some(12.0), process_count: 3, ..RunProcess::default() }),
            ..Run::default()
        };
        t.push(&live);
        assert_eq!(t.runs.len(), 1);
        assert_eq!(t.runs[0].end_ms, None);
        assert_eq!(t.column("run.process_count").map(|c| c.mean[0]), Some(Some(3.0)));
        let mut ended = at(2, 5.0);
        ended.run = Run { status: RunStatus::Stopped, ..live.run.clone() };
        t.push(&ended);
        assert_eq!(t.runs[0].end_ms, Some(epoch_millis("2026-12-01T10:00:02.000Z").unwrap_or(0.0) as i64));
        assert_eq!(t.column("run.cpu_percent").map(|c| c.mean[1]), Some(None), "no tree once stopped");
    }

    #[test]
    fn a_live_band_has_its_label_and_learns_how_its_run_ended() {
        let mut t = Timeline::default();
        let mut live = at(1, 5.0);
        live.run = Run {
            status: RunStatus::Running,
            started_at: Some(Timestamp("2026-12-01T10:00:00Z".into())),
            run_id: Some("7-2026-12-01T10:00:00Z".into()),
            label: Some("nightly".into()),
            ..Run::default()
        };
        t.push(&live);
        assert_eq!(t.runs[0].label.as_deref(), Some("nightly"));
        // Stopped first, its exit code a sample later.
        let mut stopped = at(2, 5.0);
        stopped.run = Run { status: RunStatus::Stopped, ..live.run.clone() };
        t.push(&stopped);
        assert_eq!((t.runs[0].status, t.runs[0].exit_code), (RunOutcome::Exited, None));
        let mut reported = at(3, 5.0);
        reported.run = Run { exit_code: Some(3), ..stopped.run.clone() };
        t.push(&reported);
        assert_eq!((t.runs[0].status, t.runs[0].exit_code), (RunOutcome::Exited, Some(3)));
        assert_eq!(t.runs[0].end_ms, epoch_millis("2026-12-01T10:00:02.000Z").map(|ms| ms as i64));

        // The next run is killed; the one before keeps its exit.
        let mut next = at(4, 5.0);
        next.run = Run {
            status: RunStatus::Running,
            run_id: Some("8-2026-12-01T10:00:04Z".into()),
            ..Run::default()
        };
        t.push(&next);
        let mut killed = at(5, 5.0);
        killed.run = Run { status: RunStatus::Stopped, signal: Some(9), ..next.run.clone() };
        t.push(&killed);
        let ends: Vec<_> = t.runs.iter().map(|b| (b.status, b.exit_code)).collect();
        assert_eq!(ends, [(RunOutcome::Exited, Some(3)), (RunOutcome::Killed, None)]);
    }
}
