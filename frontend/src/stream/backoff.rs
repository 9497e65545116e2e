//! How long to wait before reconnecting: 1 s, doubling up to 30 s.

use std::time::Duration;

/// The first wait before reconnecting.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The next backoff after `current`: doubled, at most [`MAX_BACKOFF`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let mut b = FIRST_BACKOFF;
        let mut seen = vec![b.as_secs()];
        for _ in 0..7 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
