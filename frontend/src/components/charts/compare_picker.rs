//! The dashboard's "Compare with" control beside the range picker: off, the
//! same span a day earlier, or a week earlier ([`Compare`]) — a group of
//! toggle buttons like the range picker's, reachable and pressed by keyboard.

use yew::prelude::*;

use crate::state::range::Compare;

/// Props of [`ComparePicker`].
#[derive(Properties, PartialEq)]
pub struct ComparePickerProps {
    /// What the charts compare with now.
    pub compare: Compare,
    /// Called with the choice picked.
    pub on_pick: Callback<Compare>,
}

/// The control.
#[function_component(ComparePicker)]
pub fn compare_picker(props: &ComparePickerProps) -> Html {
    let buttons = Compare::ALL.iter().map(|compare| {
        let compare = *compare;
        let on_pick = props.on_pick.clone();
        html! {
            <button type="button" class="range__button" aria-pressed={(props.compare == compare).to_string()}
                data-testid={format!("compare-{}", compare.key().unwrap_or("off"))}
                onclick={move |_| on_pick.emit(compare)}>
                { compare.label() }
            </button>
        }
    });
    html! {
        <div class="range compare" role="group" aria-labelledby="compare-label" data-testid="compare-picker">
            <span class="compare__label" id="compare-label">{ "Compare with" }</span>
            { for buttons }
        </div>
    }
}
