//! Per-second rates from monotonically growing counters (bytes received, sectors
//! written, …), sampled at irregular instants.

use std::time::Instant;

/// Turns successive readings of one counter into a rate.
#[derive(Debug, Default, Clone)]
pub struct RateCounter {
    /// The previous reading and when it was taken; `None` before the first.
    previous: Option<(u64, Instant)>,
}

impl RateCounter {
    /// Records `total` read at `now` and returns the per-second rate since the
    /// previous reading.
    ///
    /// The first reading has nothing to compare with and reports 0, not the whole
    /// counter. A counter that went backwards (interface reset, device replaced)
    /// reports 0 for that interval instead of an absurd number.
    pub fn update(&mut self, total: u64, now: Instant) -> f64 {
        let rate = match self.previous {
            Some((before, at)) if total >= before => {
                let seconds = now.saturating_duration_since(at).as_secs_f64();
                if seconds > 0.0 { (total - before) as f64 / seconds } else { 0.0 }
            }
            _ => 0.0,
        };
        self.previous = Some((total, now));
        rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_first_sample_reports_zero_not_the_whole_counter() {
        let mut c = RateCounter::default();
        assert_eq!(c.update(10_000_000, Instant::now()), 0.0);
    }

    #[test]
    fn the_rate_is_the_delta_over_elapsed_seconds() {
        let mut c = RateCounter::default();
        let t0 = Instant::now();
        c.update(1_000, t0);
        assert_eq!(c.update(3_000, t0 + Duration::from_secs(2)), 1_000.0);
        assert_eq!(c.update(3_500, t0 + Duration::from_millis(2_500)), 1_000.0);
    }

    #[test]
    fn a_counter_reset_is_clamped_to_zero_and_becomes_the_new_baseline() {
        let mut c = RateCounter::default();
        let t0 = Instant::now();
        c.update(5_000, t0);
        assert_eq!(c.update(100, t0 + Duration::from_secs(1)), 0.0);
        assert_eq!(c.update(1_100, t0 + Duration::from_secs(2)), 1_000.0);
    }

    #[test]
    fn no_elapsed_time_means_no_rate() {
        let mut c = RateCounter::default();
        let t0 = Instant::now();
        c.update(1, t0);
        assert_eq!(c.update(2, t0), 0.0);
    }
}
