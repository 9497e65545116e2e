//! The recent samples behind the sparklines: one ring of points, oldest first.

use std::collections::VecDeque;

use shared::PerfMetrics;

/// Samples kept for the sparklines: ten minutes at one per second.
pub const SERIES_LEN: usize = 600;

/// One sample's values for the sparklines.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// Whole-machine CPU %.
    pub cpu: Option<f64>,
    /// Memory %.
    pub memory: Option<f64>,
    /// Mean GPU %.
    pub gpu: Option<f64>,
    /// Receive rate, bytes/s.
    pub net_down: Option<f64>,
    /// Send rate, bytes/s.
    pub net_up: Option<f64>,
    /// Disk read rate, bytes/s.
    pub disk_read: Option<f64>,
    /// Disk write rate, bytes/s.
    pub disk_write: Option<f64>,
}

impl From<&PerfMetrics> for Point {
    fn from(m: &PerfMetrics) -> Self {
        Point {
            cpu: m.cpu.percent,
            memory: m.memory.percent,
            gpu: m.gpu.percent,
            net_down: m.network.rx_bytes_per_s,
            net_up: m.network.tx_bytes_per_s,
            disk_read: m.disk.read_bytes_per_s,
            disk_write: m.disk.write_bytes_per_s,
        }
    }
}

/// The recent samples of one server instance, oldest first, at most [`SERIES_LEN`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The points.
    pub points: VecDeque<Point>,
    /// The server instance the points came from.
    instance: String,
    /// The newest sample's `seq`, so a replayed sample is not added twice.
    last_seq: u64,
}

impl Series {
    /// Adds a sample unless it is one already held. A sample from another server
    /// instance (a restart, whose `seq` counts from 1 again) starts the series
    /// afresh: its samples are new, not replays.
    pub fn push(&mut self, m: &PerfMetrics) {
        if m.instance != self.instance {
            *self = Series { instance: m.instance.clone(), ..Series::default() };
        } else if m.seq != 0 && m.seq <= self.last_seq {
            return;
        }
        self.last_seq = m.seq;
        self.points.push_back(Point::from(m));
        while self.points.len() > SERIES_LEN {
            self.points.pop_front();
        }
    }

    /// One metric's values, oldest first (missing values skipped).
    pub fn values(&self, pick: fn(&Point) -> Option<f64>) -> Vec<f64> {
        self.points.iter().filter_map(pick).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seq: u64, cpu: f64) -> PerfMetrics {
        PerfMetrics {
            seq,
            cpu: shared::Cpu { percent: Some(cpu), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn a_replayed_sample_is_not_added_twice() {
        let mut series = Series::default();
        for seq in [1, 2, 3, 2, 3] {
            series.push(&sample(seq, seq as f64));
        }
        assert_eq!(series.values(|p| p.cpu), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_restarted_server_starts_the_series_afresh() {
        let mut series = Series::default();
        for seq in 1..=50 {
            series.push(&PerfMetrics { instance: "first".into(), ..sample(seq, 10.0) });
        }
        // The restarted server counts from 1 again: new samples, not replays.
        for seq in 1..=3 {
            series.push(&PerfMetrics { instance: "second".into(), ..sample(seq, 90.0) });
        }
        assert_eq!(series.values(|p| p.cpu), [90.0, 90.0, 90.0]);
    }

    #[test]
    fn the_ring_keeps_the_newest_points() {
        let mut series = Series::default();
        for seq in 1..=(SERIES_LEN as u64 + 10) {
            series.push(&sample(seq, seq as f64));
        }
        let cpu = series.values(|p| p.cpu);
        assert_eq!(cpu.len(), SERIES_LEN);
        assert_eq!(cpu.first(), Some(&11.0));
    }
}
