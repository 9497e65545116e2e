//! A small SVG line chart of one metric's recent values.

use yew::prelude::*;

/// Props of [`Sparkline`].
#[derive(Properties, PartialEq)]
pub struct SparklineProps {
    /// Values, oldest first.
    pub values: Vec<f64>,
    /// The top of the scale; `None` scales to the largest value (rates).
    #[prop_or_default]
    pub max: Option<f64>,
    /// A label for screen readers.
    pub label: AttrValue,
}

/// The SVG `points` of `values` in a 100×24 box, scaled to `max` (or the largest
/// value); empty with fewer than two values.
pub fn points(values: &[f64], max: Option<f64>) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let top = max
        .unwrap_or_else(|| values.iter().copied().fold(0.0, f64::max))
        .max(f64::EPSILON);
    let step = 100.0 / (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            format!(
                "{:.2},{:.2}",
                i as f64 * step,
                24.0 - (v / top).clamp(0.0, 1.0) * 22.0 - 1.0
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A small line chart.
#[function_component(Sparkline)]
pub fn sparkline(props: &SparklineProps) -> Html {
    let points = points(&props.values, props.max);
    html! {
        <svg class="sparkline" viewBox="0 0 100 24" preserveAspectRatio="none" role="img"
            aria-label={props.label.clone()} data-testid="sparkline" data-points={props.values.len().to_string()}>
            if !points.is_empty() {
                <polyline points={points} fill="none" vector-effect="non-scaling-stroke" />
            }
        </svg>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_span_the_width_and_scale_to_the_max() {
        assert_eq!(
            points(&[0.0, 50.0, 100.0], Some(100.0)),
            "0.00,23.00 50.00,12.00 100.00,1.00"
        );
    }

    #[test]
    fn rates_scale_to_their_largest_value() {
        assert_eq!(points(&[10.0, 20.0], None), "0.00,12.00 100.00,1.00");
    }

    #[test]
    fn one_value_draws_nothing() {
        assert_eq!(points(&[5.0], Some(100.0)), "");
        assert_eq!(points(&[0.0, 0.0], None), "0.00,23.00 100.00,23.00");
    }
}
