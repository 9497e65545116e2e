//! Slow sources read at most every so often: the last reading is kept, and
//! each tick between two reads gets it again with its age.

use std::time::{Duration, Instant};

/// A slow source's last reading and when it was taken, read again once it is
/// `every` old.
#[derive(Debug)]
pub struct Kept<T> {
    /// The shortest time between two reads.
    every: Duration,
    /// The last reading and when it was taken; `None` before the first.
    last: Option<(Instant, T)>,
}

impl<T> Kept<T> {
    /// Nothing kept yet: the first [`Kept::read`] reads.
    pub const fn new(every: Duration) -> Self {
        Kept { every, last: None }
    }

    /// The kept reading and its age at `now`, read again with `read` first when
    /// there is none or it is `every` old (its age is then zero).
    pub fn read(&mut self, now: Instant, read: impl FnOnce() -> T) -> (&mut T, Duration) {
        let kept = match self.last.take() {
            Some((at, reading)) if now.saturating_duration_since(at) < self.every => (at, reading),
            _ => (now, read()),
        };
        let (at, reading) = self.last.insert(kept);
        (reading, now.saturating_duration_since(*at))
    }
}

/// An age in whole milliseconds, as the payload gives it.
pub fn age_ms(age: Duration) -> u64 {
    u64::try_from(age.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_is_kept_with_its_age_until_it_is_due_again() {
        let mut kept = Kept::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let mut reads = 0;
        let mut read = |at: Instant| {
            let (value, age) = kept.read(at, || {
                reads += 1;
                reads
            });
            (*value, age)
        };
        assert_eq!(read(t0), (1, Duration::ZERO), "the first read reads");
        assert_eq!(read(t0 + Duration::from_millis(4999)), (1, Duration::from_millis(4999)));
        assert_eq!(read(t0 + Duration::from_secs(5)), (2, Duration::ZERO), "read again when 5 s old");
        assert_eq!(read(t0 + Duration::from_secs(6)), (2, Duration::from_secs(1)));
    }

    #[test]
    fn an_age_too_long_for_u64_milliseconds_saturates() {
        assert_eq!(age_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(age_ms(Duration::MAX), u64::MAX);
    }
}
