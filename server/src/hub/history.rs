//! A project's recent frames, replayed to each new client as one `history`
//! message so its charts fill at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Frame;

/// Recent frames with when they were pushed, oldest first, bounded by age and count.
#[derive(Debug, Default)]
pub struct History {
    frames: VecDeque<(Instant, Frame)>,
}

impl History {
    /// Keeps `frame`, pushed at `now`, and forgets frames older than `window` and
    /// beyond `capacity` (a bound whatever the clock does).
    pub fn push(&mut self, frame: Frame, now: Instant, window: Duration, capacity: usize) {
        self.frames.push_back((now, frame));
        while self.frames.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > window) {
            self.frames.pop_front();
        }
        while self.frames.len() > capacity {
            self.frames.pop_front();
        }
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frames kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// One `history` message of the newest kept frames that fit in `max_bytes`
    /// (all of them, unless samples are unusually large), oldest first, without
    /// decoding them: each frame is a whole `perf_metrics` object, and a history
    /// sample is the same object (its extra `"type"` field is ignored when decoded
    /// as [`shared::PerfMetrics`]).
    pub fn message(&self, max_bytes: usize) -> Frame {
        const HEAD: &str = r#"{"type":"history","samples":["#;
        const TAIL: &str = "]}";
        let mut size = HEAD.len() + TAIL.len();
        let fitting = self
            .frames
            .iter()
            .rev()
            .take_while(|(_, frame)| {
                size += frame.len() + 1;
                size <= max_bytes
            })
            .count();
        let mut text = String::with_capacity(size);
        text.push_str(HEAD);
        for (i, (_, frame)) in self.frames.iter().skip(self.frames.len() - fitting).enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(frame.as_str());
        }
        text.push_str(TAIL);
        Frame::from(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> Frame {
        Frame::from(format!(r#"{{"type":"perf_metrics","seq":{n}}}"#))
    }

    #[test]
    fn frames_older_than_the_window_are_forgotten() {
        let mut h = History::default();
        let t0 = Instant::now();
        let window = Duration::from_secs(10);
        for second in 0..30u32 {
            h.push(frame(second), t0 + Duration::from_secs(u64::from(second)), window, 1000);
        }
        // At t = 29 s, frames from 19 s on are at most 10 s old.
        assert_eq!(h.len(), 11);
        assert!(
            h.message(usize::MAX)
                .as_str()
                .starts_with(r#"{"type":"history","samples":[{"type":"perf_metrics","seq":19}"#)
        );
    }

    #[test]
    fn the_count_is_capped_whatever_the_clock_says() {
        let mut h = History::default();
        let t0 = Instant::now();
        for n in 0..50 {
            h.push(frame(n), t0, Duration::from_secs(3600), 8);
        }
        assert_eq!(h.len(), 8);
    }

    #[test]
    fn the_message_keeps_the_newest_frames_that_fit() {
        let mut h = History::default();
        let t0 = Instant::now();
        for n in 0..100 {
            h.push(frame(n), t0, Duration::from_secs(3600), 1000);
        }
        let one = frame(0).len() + 1;
        let message = h.message(32 + 10 * one);
        assert!(message.len() <= 32 + 10 * one, "{} bytes", message.len());
        let text = message.as_str();
        assert!(text.ends_with(r#"{"type":"perf_metrics","seq":99}]}"#), "{text}");
        assert!(!text.contains(r#""seq":80}"#), "the oldest frames are left out: {text}");
        let samples: serde_json::Value = serde_json::from_str(text).expect("still valid JSON");
        assert!(samples["samples"].as_array().is_some_and(|s| s.len() >= 8));
    }

    #[test]
    fn the_message_is_valid_history_json() {
        let mut h = History::default();
        h.push(Frame::from(r#"{"type":"perf_metrics","timestamp":"t","project":"p","run":{"status":"stopped","pid":null,"started_at":null,"run_id":null},"tokens":{"current_run":0,"total_session":0,"available":false},"cpu":{"percent":null},"memory":{"used_gb":null,"total_gb":null,"percent":null},"gpu":{"available":false,"percent":null,"vram_used_gb":null,"vram_total_gb":null},"seq":1}"#.to_owned()), Instant::now(), Duration::from_secs(1), 4);
        let msg: shared::ServerMsg = serde_json::from_str(h.message(usize::MAX).as_str()).expect("decodes");
        let shared::ServerMsg::History(history) = msg else { panic!("a history message") };
        assert_eq!(history.samples.len(), 1);
        assert_eq!(history.samples[0].seq, 1);
    }
}
