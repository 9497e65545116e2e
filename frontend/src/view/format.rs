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

/// A small share that one decimal would round to nothing (PerfMon's own CPU,
/// a share of the whole machine): `0.025 %`, `0.43 %`, `12.5 %`.
pub fn small_percent(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() && v.abs() < 0.1 => format!("{v:.3} %"),
        Some(v) if v.is_finite() && v.abs() < 1.0 => format!("{v:.2} %"),
        other => percent(other),
    }
}

/// `6.2 / 16.0 GB`, one decimal each; both values are needed to say anything.
pub fn used_of_total_gb(used: Option<f64>, total: Option<f64>) -> String {
    match (used, total) {
        (Some(u), Some(t)) if u.is_finite() && t.is_finite() => format!("{u:.1} / {t:.1} GB"),
        _ => NOT_AVAILABLE.to_owned(),
    }
}

/// US dollars: cents from ten cents up, four decimals under (a short run
/// costs fractions of a cent): `$12.34`, `$0.42`, `$0.0012`.
pub fn dollars(usd: f64) -> String {
    if !usd.is_finite() {
        return NOT_AVAILABLE.to_owned();
    }
    if usd >= 0.1 { format!("${usd:.2}") } else { format!("${usd:.4}") }
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

/// The unit of a chart's values, as the series names carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0–100 (a core's or the machine's share).
    Percent,
    /// GB (GiB), as the stream sends sizes.
    Gigabytes,
    /// MB (MiB).
    Megabytes,
    /// Bytes per second, shown in decimal units as the panel does.
    BytesPerSecond,
    /// °C.
    Celsius,
    /// W.
    Watts,
    /// A plain count (processes).
    Count,
    /// Events per second (faults, packets, IOPS), in decimal steps: `340/s`,
    /// `12.5 k/s`, `3.1 G/s`.
    PerSecond,
    /// Milliseconds (a disk's await).
    Milliseconds,
    /// MHz (a clock).
    Megahertz,
    /// A plain ratio to two decimals (instructions per cycle).
    Ratio,
    /// 1 or 0: whether a condition held (a GPU held below its clocks); a mean
    /// in between is the share of time it held.
    Flag,
}

/// `12.5 k`, `3.1 G`: a count in decimal steps, one decimal past a thousand
/// (under ten, one decimal too, so 0.3 faults a second is not 0).
fn scaled_count(value: f64) -> String {
    const UNITS: [&str; 5] = ["k", "M", "G", "T", "P"];
    if value.abs() < 10.0 {
        return format!("{value:.1}");
    }
    if value.abs() < 999.5 {
        return format!("{value:.0}");
    }
    let mut value = value / 1000.0;
    let mut unit = 0;
    while value.abs() >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

impl Unit {
    /// A value as the chart's readout and text alternative show it.
    pub fn format(self, value: f64) -> String {
        if !value.is_finite() {
            return NOT_AVAILABLE.to_owned();
        }
        match self {
            Unit::Percent => format!("{value:.1} %"),
            Unit::Gigabytes => format!("{value:.2} GB"),
            Unit::Megabytes if value >= 1024.0 => format!("{:.2} GB", value / 1024.0),
            Unit::Megabytes => format!("{value:.1} MB"),
            Unit::BytesPerSecond => format!("{}/s", scaled_bytes(value.max(0.0))),
            Unit::Celsius => format!("{value:.0} °C"),
            Unit::Watts => format!("{value:.0} W"),
            Unit::Count => format!("{value:.0}"),
            Unit::PerSecond => format!("{}/s", scaled_count(value)),
            Unit::Milliseconds if value.abs() < 100.0 => format!("{value:.1} ms"),
            Unit::Milliseconds => format!("{value:.0} ms"),
            Unit::Megahertz => format!("{value:.0} MHz"),
            Unit::Ratio => format!("{value:.2}"),
            // A mean over a span (the store's minute, a window) is the share of it.
            Unit::Flag if value >= 1.0 => "yes".to_owned(),
            Unit::Flag if value <= 0.0 => "no".to_owned(),
            Unit::Flag => format!("{:.0} % of the time", value * 100.0),
        }
    }

    /// An axis label, as short as the tick allows and in one unit along the
    /// whole axis, the one its `top` reads best in (`40 %`, `8 GB`, `1.5 MB/s`).
    pub fn tick(self, value: f64, top: f64) -> String {
        let short = |v: f64| {
            let v = (v * 100.0).round() / 100.0;
            if v == v.trunc() { format!("{v:.0}") } else { format!("{v}") }
        };
        match self {
            Unit::Percent => format!("{} %", short(value)),
            Unit::Gigabytes => format!("{} GB", short(value)),
            Unit::Megabytes if top >= 1024.0 => format!("{} GB", short(value / 1024.0)),
            Unit::Megabytes => format!("{} MB", short(value)),
            Unit::BytesPerSecond => {
                const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
                let mut scale = 1.0;
                let mut unit = 0;
                while top / scale >= 1000.0 && unit + 1 < UNITS.len() {
                    scale *= 1000.0;
                    unit += 1;
                }
                format!("{} {}/s", short(value / scale), UNITS[unit])
            }
            Unit::Celsius => format!("{} °C", short(value)),
            Unit::Watts => format!("{} W", short(value)),
            Unit::Count | Unit::Ratio => short(value),
            Unit::PerSecond => {
                const UNITS: [&str; 6] = ["", " k", " M", " G", " T", " P"];
                let mut scale = 1.0;
                let mut unit = 0;
                while top / scale >= 1000.0 && unit + 1 < UNITS.len() {
                    scale *= 1000.0;
                    unit += 1;
                }
                format!("{}{}/s", short(value / scale), UNITS[unit])
            }
            Unit::Milliseconds => format!("{} ms", short(value)),
            Unit::Megahertz => format!("{} MHz", short(value)),
            // Only the ends mean anything.
            Unit::Flag if value == 1.0 => "yes".to_owned(),
            Unit::Flag if value == 0.0 => "no".to_owned(),
            Unit::Flag => String::new(),
        }
    }

    /// The top of the chart's scale for data reaching `max`: 100 for shares
    /// (more when a value is above, as PerfMon's own CPU can be), else a round
    /// number above the data, 1 when there is none.
    pub fn top(self, max: Option<f64>) -> f64 {
        let max = max.filter(|m| m.is_finite() && *m > 0.0);
        match (self, max) {
            (Unit::Percent, Some(m)) if m > 100.0 => nice_ceiling(m),
            (Unit::Percent, _) => 100.0,
            (Unit::Flag, _) => 1.0,
            (_, Some(m)) => nice_ceiling(m * 1.05),
            (_, None) => 1.0,
        }
    }
}

/// The smallest of 1, 2, 2.5, 5 (times a power of ten) at or above `value`.
pub fn nice_ceiling(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= value * (1.0 - 1e-9))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_shares_keep_the_digits_that_say_something() {
        assert_eq!(small_percent(Some(0.025)), "0.025 %");
        assert_eq!(small_percent(Some(0.43)), "0.43 %");
        assert_eq!(small_percent(Some(12.46)), "12.5 %");
        assert_eq!(small_percent(None), NOT_AVAILABLE);
    }

    #[test]
    fn chart_values_and_ticks_carry_their_units() {
        assert_eq!(Unit::Percent.format(37.25), "37.2 %");
        assert_eq!(Unit::Gigabytes.format(6.213), "6.21 GB");
        assert_eq!(Unit::Megabytes.format(812.34), "812.3 MB");
        assert_eq!(Unit::Megabytes.format(5120.0), "5.00 GB");
        assert_eq!(Unit::BytesPerSecond.format(1_234_567.0), "1.2 MB/s");
        assert_eq!(Unit::Celsius.format(41.4), "41 °C");
        assert_eq!(Unit::Count.format(14.0), "14");
        assert_eq!(Unit::Percent.format(f64::NAN), NOT_AVAILABLE);
        assert_eq!(Unit::Percent.tick(40.0, 100.0), "40 %");
        assert_eq!(Unit::Gigabytes.tick(2.5, 20.0), "2.5 GB");
        // One unit along an axis, chosen by its top.
        assert_eq!(Unit::BytesPerSecond.tick(1_500_000.0, 2_500_000.0), "1.5 MB/s");
        assert_eq!(Unit::BytesPerSecond.tick(500_000.0, 2_500_000.0), "0.5 MB/s");
        assert_eq!(Unit::BytesPerSecond.tick(0.0, 2_500_000.0), "0 MB/s");
        assert_eq!(Unit::BytesPerSecond.tick(0.0, 1.0), "0 B/s");
        assert_eq!(Unit::Megabytes.tick(2048.0, 2500.0), "2 GB");
        assert_eq!(Unit::Megabytes.tick(1000.0, 2500.0), "0.98 GB");
        assert_eq!(Unit::Megabytes.tick(500.0, 1000.0), "500 MB");
    }

    #[test]
    fn rates_durations_clocks_and_flags_carry_their_units() {
        assert_eq!(Unit::PerSecond.format(0.3), "0.3/s", "a rare fault is not rounded away");
        assert_eq!(Unit::PerSecond.format(340.0), "340/s");
        assert_eq!(Unit::PerSecond.format(12_500.0), "12.5 k/s");
        assert_eq!(Unit::PerSecond.format(3.1e9), "3.1 G/s");
        assert_eq!(Unit::PerSecond.format(999_960.0), "1.0 M/s");
        assert_eq!(Unit::PerSecond.tick(1_500_000.0, 2_500_000.0), "1.5 M/s");
        assert_eq!(Unit::PerSecond.tick(200.0, 500.0), "200/s");
        assert_eq!(Unit::PerSecond.tick(0.0, 5e9), "0 G/s");
        assert_eq!(Unit::Milliseconds.format(4.26), "4.3 ms");
        assert_eq!(Unit::Milliseconds.format(250.4), "250 ms");
        assert_eq!(Unit::Milliseconds.tick(2.5, 5.0), "2.5 ms");
        assert_eq!(Unit::Megahertz.format(1410.2), "1410 MHz");
        assert_eq!(Unit::Megahertz.tick(1500.0, 2000.0), "1500 MHz");
        assert_eq!(Unit::Ratio.format(1.234), "1.23");
        assert_eq!(Unit::Ratio.tick(0.5, 2.0), "0.5");
        assert_eq!((Unit::Flag.format(1.0), Unit::Flag.format(0.0)), ("yes".into(), "no".into()));
        assert_eq!(Unit::Flag.format(0.25), "25 % of the time", "a mean is the share of time it held");
        assert_eq!((Unit::Flag.tick(1.0, 1.0), Unit::Flag.tick(0.5, 1.0)), ("yes".into(), String::new()));
        assert_eq!(Unit::Flag.top(Some(1.0)), 1.0, "a flag's scale is 0 to 1");
        assert_eq!(Unit::Ratio.top(Some(1.2)), 2.0);
    }

    #[test]
    fn scales_end_at_a_round_number_above_the_data() {
        assert_eq!(Unit::Percent.top(Some(37.0)), 100.0);
        assert_eq!(Unit::Percent.top(Some(130.0)), 200.0, "PerfMon's own CPU can pass 100 % of a core");
        assert_eq!(Unit::Gigabytes.top(Some(15.6)), 20.0);
        assert_eq!(Unit::BytesPerSecond.top(Some(2_300_000.0)), 2_500_000.0);
        assert_eq!(Unit::Watts.top(None), 1.0);
        assert_eq!(Unit::Count.top(Some(0.0)), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(0.03), 0.05);
    }

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
