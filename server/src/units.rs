//! Units and display rounding, defined once: the payload's sizes are GB and MB
//! counted as GiB and MiB (as `free -h`, `df -h` and `nvidia-smi` count them) with
//! one decimal, rates whole bytes per second, percentages one decimal.
//! Readings stay exact everywhere else (`/metrics` and the store export them as
//! they were read); only the payload sent to clients is rounded, here.

/// Bytes in one of the payload's GB: a GiB, so an 80 GiB card reads 80.0.
pub const BYTES_PER_GB: f64 = (1u64 << 30) as f64;
/// Bytes in one of the payload's MB: a MiB.
pub const BYTES_PER_MB: f64 = (1u64 << 20) as f64;

/// `bytes` as the payload's GB, one decimal.
pub fn gb(bytes: u64) -> f64 {
    round1(bytes as f64 / BYTES_PER_GB)
}

/// `bytes` as the payload's MB, one decimal.
pub fn mb(bytes: u64) -> f64 {
    round1(bytes as f64 / BYTES_PER_MB)
}

/// `decimals` decimals (the store's series keep one more than the payload).
/// A value too large to scale is already whole at f64's precision: it is
/// kept as it is, never turned into an infinity (which JSON writes as `null`).
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    if rounded.is_finite() { rounded } else { value }
}

/// One decimal, as percentages and sizes are sent.
pub fn round1(value: f64) -> f64 {
    round_to(value, 1)
}

/// Two decimals, as load averages are sent.
pub fn round2(value: f64) -> f64 {
    round_to(value, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_sent_in_binary_units_with_one_decimal() {
        assert_eq!(gb(80 << 30), 80.0, "an 80 GiB card reads as nvidia-smi says");
        assert_eq!(gb(16_000_000_000), 14.9, "16 GB of RAM is 14.9 GiB, as free -h says");
        assert_eq!(mb(812 << 20), 812.0);
        assert_eq!(mb(1_500_000), 1.4);
        assert_eq!(gb(0), 0.0);
    }

    #[test]
    fn rounding_is_to_the_nearest() {
        assert_eq!(round1(37.25), 37.3);
        assert_eq!(round1(37.24), 37.2);
        assert_eq!(round2(0.475), 0.48);
        assert_eq!(round2(1.0), 1.0);
        assert_eq!(round_to(1234.5678, 0), 1235.0);
        assert_eq!(round_to(0.123456, 3), 0.123);
    }

    #[test]
    fn a_value_too_large_to_scale_is_kept_not_made_infinite() {
        assert_eq!(round_to(1e308, 1), 1e308);
        assert_eq!(round_to(-1e308, 3), -1e308);
        assert_eq!(round1(f64::MAX), f64::MAX);
        assert!(round1(f64::NAN).is_nan(), "what is not a number stays so");
    }
}
