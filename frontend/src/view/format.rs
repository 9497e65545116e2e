//! Display text for metric values. Missing values read "Not available", never 0.

/// What the panel shows for a value the server did not (or could not) send.
pub const NOT_AVAILABLE: &str = "Not available";

/// `37.2 %`, one decimal.
pub fn percent(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.1} %"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// `6.2 / 16.0 GB`, one decimal each; both values are needed to say anything.
pub fn used_of_total_gb(used: Option<f64>, total: Option<f64>) -> String {
    match (used, total) {
        (Some(u), Some(t)) if u.is_finite() && t.is_finite() => format!("{u:.1} / {t:.1} GB"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// A count with thousands separators: `12,345`.
pub fn count(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// The width of a bar, as a CSS percentage clamped to 0–100; 0 when unknown.
pub fn bar_width(value: Option<f64>) -> String {
    let v = value.filter(|v| v.is_finite()).unwrap_or(0.0).clamp(0.0, 100.0);
    format!("width: {v:.1}%")
}

/// A byte rate in decimal units: `340 B/s`, `12.5 KB/s`, `1.2 MB/s`.
pub fn rate(bytes_per_s: Option<f64>) -> String {
    match bytes_per_s {
        Some(v) if v.is_finite() && v >= 0.0 => format!("{}/s", scaled_bytes(v)),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// A byte count in decimal units: `512 B`, `12.5 KB`, `3.4 GB`.
pub fn scaled_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1000.0 {
        return format!("{bytes:.0} B");
    }
    let mut value = bytes / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `41 °C`.
pub fn celsius(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.0} °C"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// `300 W`.
pub fn watts(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.0} W"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// One decimal, rounded, for comparing what is shown rather than what was sent.
pub fn round1(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite()).map(|v| (v * 10.0).round() / 10.0)
}

/// Glances-style severity of a percentage, used as a CSS class.
pub fn level(value: Option<f64>) -> &'static str {
    match value {
        Some(v) if v >= 90.0 => "critical",
        Some(v) if v >= 70.0 => "warning",
        Some(v) if v >= 50.0 => "careful",
        Some(_) => "normal",
        None => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_have_one_decimal_or_say_not_available() {
        assert_eq!(percent(Some(37.25)), "37.2 %");
        assert_eq!(percent(Some(100.0)), "100.0 %");
        assert_eq!(percent(None), NOT_AVAILABLE);
        assert_eq!(percent(Some(f64::NAN)), NOT_AVAILABLE);
    }

    #[test]
    fn used_of_total_needs_both_values() {
        assert_eq!(used_of_total_gb(Some(6.2), Some(16.0)), "6.2 / 16.0 GB");
        assert_eq!(used_of_total_gb(Some(6.2), None), NOT_AVAILABLE);
        assert_eq!(used_of_total_gb(None, Some(16.0)), NOT_AVAILABLE);
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(9_180), "9,180");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn bars_are_clamped() {
        assert_eq!(bar_width(Some(37.2)), "width: 37.2%");
        assert_eq!(bar_width(Some(140.0)), "width: 100.0%");
        assert_eq!(bar_width(None), "width: 0.0%");
    }

    #[test]
    fn rates_and_sizes_use_decimal_units() {
        assert_eq!(rate(Some(0.0)), "0 B/s");
        assert_eq!(rate(Some(340.0)), "340 B/s");
        assert_eq!(rate(Some(12_500.0)), "12.5 KB/s");
        assert_eq!(rate(Some(1_234_567.0)), "1.2 MB/s");
        assert_eq!(rate(Some(999_960.0)), "1.0 MB/s");
        assert_eq!(rate(None), NOT_AVAILABLE);
        assert_eq!(rate(Some(-1.0)), NOT_AVAILABLE);
        assert_eq!(scaled_bytes(3.4e12), "3.4 TB");
    }

    #[test]
    fn temperatures_are_whole_degrees() {
        assert_eq!(celsius(Some(41.4)), "41 °C");
        assert_eq!(celsius(None), NOT_AVAILABLE);
    }

    #[test]
    fn power_is_whole_watts() {
        assert_eq!(watts(Some(299.6)), "300 W");
        assert_eq!(watts(None), NOT_AVAILABLE);
    }

    #[test]
    fn levels_follow_the_glances_thresholds() {
        assert_eq!(level(Some(10.0)), "normal");
        assert_eq!(level(Some(50.0)), "careful");
        assert_eq!(level(Some(70.0)), "warning");
        assert_eq!(level(Some(95.0)), "critical");
        assert_eq!(level(None), "unknown");
    }
}
