//! The dashboard's range picker: the last 15 minutes to 30 days (as far as
//! the server keeps history), one button each (a group of toggle buttons, reachable and pressed by keyboard), and
//! while zoomed into a span, a button back to the range it came from.

use yew::prelude::*;

use crate::state::{Preset, Range};

/// Props of [`RangePicker`].
#[derive(Properties, PartialEq)]
pub struct RangePickerProps {
    /// What is shown now.
    pub range: Range,
    /// The preset a zoom came from, for the way back.
    pub last_preset: Preset,
    /// The presets the server can fill (see [`Preset::offered`]).
    #[prop_or(Preset::ALL.to_vec())]
    pub offered: Vec<Preset>,
    /// Called with the range picked.
    pub on_pick: Callback<Range>,
}

/// The range picker.
#[function_component(RangePicker)]
pub fn range_picker(props: &RangePickerProps) -> Html {
    let buttons = props.offered.iter().map(|preset| {
        let pressed = props.range == Range::Last(*preset);
        let on_pick = props.on_pick.clone();
        let preset = *preset;
        html! {
            <button type="button" class="range__button" aria-pressed={pressed.to_string()}
                data-testid={format!("range-{}", preset.label().replace(' ', ""))}
                onclick={move |_| on_pick.emit(Range::Last(preset))}>
                { preset.label() }
            </button>
        }
    });
    let back = matches!(props.range, Range::Span(_)).then(|| {
        let on_pick = props.on_pick.clone();
        let preset = props.last_preset;
        html! {
            <button type="button" class="range__button range__reset" data-testid="range-reset"
                onclick={move |_| on_pick.emit(Range::Last(preset))}>
                { format!("Reset zoom ({})", preset.label()) }
            </button>
        }
    });
    html! {
        <div class="range" role="group" aria-label="Time range">
            { for buttons }
            { for back }
        </div>
    }
}
