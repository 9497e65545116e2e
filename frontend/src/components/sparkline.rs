//! A small SVG line chart of one metric's recent values (and optionally a second
//! series on the same scale, such as sent beside received).

use yew::prelude::*;

/// Props of [`Sparkline`].
#[derive(Properties, PartialEq)]
pub struct SparklineProps {
    /// Values, oldest first.
    pub values: Vec<f64>,
    /// A second series on the same scale, drawn in another colour.
    #[prop_or_default]
    pub second: Vec<f64>,
    /// The top of the scale; `None` scales to the largest value (rates).
    #[prop_or_default]
    pub max: Option<f64>,
    /// A label for screen readers.
    pub label: AttrValue,
}

/// The top of the scale: `max`, or the largest value of all series.
pub fn scale_top(max: Option<f64>, series: &[&[f64]]) -> f64 {
    let top = max.unwrap_or_else(|| series.iter().flat_map(|s| s.iter().copied()).fold(0.0, f64::max));
    top.max(f64::EPSILON)
}

/// The SVG `points` of `values` in a 100×24 box, scaled to `top`; empty with
/// fewer than two values.
pub fn points(values: &[f64], top: f64) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let step = 100.0 / (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.2},{:.2}", i as f64 * step, 24.0 - (v / top).clamp(0.0, 1.0) * 22.0 - 1.0))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A small line chart.
#[function_component(Sparkline)]
pub fn sparkline(props: &SparklineProps) -> Html {
    let top = scale_top(props.max, &[&props.values, &props.second]);
    let (first, second) = (points(&props.values, top), points(&props.second, top));
    html! {
        <svg class="sparkline" viewBox="0 0 100 24" preserveAspectRatio="none" role="img"
            aria-label={props.label.clone()} data-testid="sparkline" data-points={props.values.len().to_string()}>
            if !first.is_empty() {
                <polyline points={first} fill="none" vector-effect="non-scaling-stroke" />
            }
            if !second.is_empty() {
                <polyline class="sparkline__second" points={second} fill="none" vector-effect="non-scaling-stroke" />
            }
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_span_the_width_and_scale_to_the_top() {
        assert_eq!(points(&[0.0, 50.0, 100.0], 100.0), "0.00,23.00 50.00,12.00 100.00,1.00");
    }

    #[test]
    fn rates_scale_to_the_largest_value_of_both_series() {
        assert_eq!(scale_top(None, &[&[10.0, 20.0], &[40.0]]), 40.0);
        assert_eq!(scale_top(Some(100.0), &[&[10.0, 200.0]]), 100.0);
        assert_eq!(points(&[10.0, 20.0], scale_top(None, &[&[10.0, 20.0]])), "0.00,12.00 100.00,1.00");
    }

    #[test]
    fn one_value_draws_nothing_and_all_zero_draws_a_floor() {
        assert_eq!(points(&[5.0], 100.0), "");
        assert_eq!(points(&[0.0, 0.0], scale_top(None, &[&[0.0, 0.0]])), "0.00,23.00 100.00,23.00");
    }
}
