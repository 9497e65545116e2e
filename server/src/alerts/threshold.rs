//! One condition watched over time: when it has held long enough to fire,
//! when it is clear enough to resolve (a separate clear threshold, so a signal
//! that flaps around the trigger fires once and resolves once), and when a
//! firing is sent again. Pure: the engine feeds it readings and times.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Which side of the threshold is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Fires above the trigger, resolves at or below the clear threshold.
    Above,
    /// Fires below the trigger, resolves at or above the clear threshold.
    Below,
}

impl Op {
    /// `above` / `below`, as configured and written.
    pub fn word(self) -> &'static str {
        match self {
            Op::Above => "above",
            Op::Below => "below",
        }
    }
}

/// A threshold rule's numbers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    /// Which side is bad.
    pub op: Op,
    /// Crossing it (strictly) is bad.
    pub trigger: f64,
    /// A firing resolves once the value is back to this (the trigger itself
    /// when no hysteresis is configured).
    pub clear: f64,
    /// How long it must stay bad before it fires (`for`).
    pub hold: Duration,
    /// While firing, sent again this often; `None`: once.
    pub repeat: Option<Duration>,
}

impl Threshold {
    /// What a reading says: `Some(true)` bad, `Some(false)` not bad, and
    /// whether it is clear; `None` when nothing was read.
    pub fn judge(&self, value: Option<f64>) -> Reading {
        match value.filter(|v| v.is_finite()) {
            None => Reading::Unknown,
            Some(v) => {
                let (bad, clear) = match self.op {
                    Op::Above => (v > self.trigger, v <= self.clear),
                    Op::Below => (v < self.trigger, v >= self.clear),
                };
                Reading::Known { bad, clear }
            }
        }
    }
}

/// One reading of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Nothing could be read: a pending hold starts again, a firing stays.
    Unknown,
    /// The condition as read.
    Known {
        /// It is bad now.
        bad: bool,
        /// It is clear (a firing may resolve).
        clear: bool,
    },
}

/// What a reading made of a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing to say.
    Quiet,
    /// It has been bad for the hold: it fires.
    Fire,
    /// Still firing, and the repeat interval has passed: send it again.
    Repeat,
    /// It was firing and is clear now.
    Resolve,
}

/// The state of one condition for one subject (the machine, a run, a mount).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watch {
    /// Bad since then, not yet firing.
    bad_since: Option<DateTime<Utc>>,
    /// Firing since then, and last sent then.
    firing: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Watch {
    /// Takes one reading at `now`.
    pub fn step(
        &mut self,
        hold: Duration,
        repeat: Option<Duration>,
        reading: Reading,
        now: DateTime<Utc>,
    ) -> Step {
        let elapsed = |since: DateTime<Utc>| (now - since).to_std().unwrap_or_default();
        match (self.firing, reading) {
            (Some(_), Reading::Known { clear: true, .. }) => {
                *self = Watch::default();
                Step::Resolve
            }
            (Some((since, sent)), _) => match repeat {
                Some(every) if elapsed(sent) >= every => {
                    self.firing = Some((since, now));
                    Step::Repeat
                }
                _ => Step::Quiet,
            },
            (None, Reading::Known { bad: true, .. }) => {
                let since = *self.bad_since.get_or_insert(now);
                if elapsed(since) >= hold {
                    self.bad_since = None;
                    self.firing = Some((now, now));
                    Step::Fire
                } else {
                    Step::Quiet
                }
            }
            (None, _) => {
                self.bad_since = None;
                Step::Quiet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    fn run(t: &Threshold, values: &[Option<f64>]) -> Vec<(i64, Step)> {
        let mut watch = Watch::default();
        let mut steps = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let step = watch.step(t.hold, t.repeat, t.judge(*v), at(i as i64));
            if step != Step::Quiet {
                steps.push((i as i64, step));
            }
        }
        steps
    }

    const HOT: Threshold =
        Threshold { op: Op::Above, trigger: 90.0, clear: 80.0, hold: Duration::from_secs(2), repeat: None };

    #[test]
    fn a_signal_flapping_around_the_trigger_fires_once_and_resolves_once() {
        let v = |x: f64| Some(x);
        let values = [
            v(50.0),
            v(95.0),
            v(96.0),
            v(97.0),
            v(89.0),
            v(91.0),
            v(85.0),
            v(93.0),
            v(88.0),
            v(79.0),
            v(95.0),
        ];
        // Bad from 1, held 2 s at 3: fires; 89/85/88 are not clear (> 80); 79 is.
        assert_eq!(run(&HOT, &values), vec![(3, Step::Fire), (9, Step::Resolve)]);
    }

    #[test]
    fn a_dip_before_the_hold_starts_it_again_and_nothing_read_is_not_bad() {
        let v = |x: f64| Some(x);
        assert_eq!(run(&HOT, &[v(95.0), v(95.0), v(50.0), v(95.0), v(95.0)]), vec![]);
        assert_eq!(run(&HOT, &[v(95.0), v(95.0), None, v(95.0), v(95.0)]), vec![]);
        // A firing is not resolved by a missing reading.
        assert_eq!(run(&HOT, &[v(95.0), v(95.0), v(95.0), None, None]), vec![(2, Step::Fire)]);
    }

    #[test]
    fn without_hysteresis_it_resolves_at_the_trigger_and_repeats_while_firing() {
        let t = Threshold {
            op: Op::Below,
            trigger: 5.0,
            clear: 5.0,
            hold: Duration::ZERO,
            repeat: Some(Duration::from_secs(2)),
        };
        let v = |x: f64| Some(x);
        assert_eq!(
            run(&t, &[v(4.0), v(4.0), v(4.0), v(4.0), v(5.0), v(6.0)]),
            vec![(0, Step::Fire), (2, Step::Repeat), (4, Step::Resolve)]
        );
        assert!(t.judge(Some(f64::NAN)) == Reading::Unknown);
    }
}
