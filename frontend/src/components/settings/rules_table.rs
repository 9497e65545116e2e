//! [`RulesTable`]: the alert rules in effect, one row each — its name, what
//! it watches in words, its severity, whether it is a default or the
//! configuration's, the project it watches, how often it repeats while
//! firing, and whether it is on.

use std::rc::Rc;

use shared::alerts::RuleSetting;
use yew::prelude::*;

use crate::components::Badge;
use crate::components::alerts::badge_variant;
use crate::view::alerts::repeat_words;

/// Props of [`RulesTable`].
#[derive(Properties, PartialEq)]
pub struct RulesTableProps {
    /// The rules, defaults first.
    pub rules: Rc<Vec<RuleSetting>>,
}

/// The table.
#[function_component(RulesTable)]
pub fn rules_table(props: &RulesTableProps) -> Html {
    if props.rules.is_empty() {
        return html! { <p class="muted" data-testid="rules-none">{ "No alert rules are in effect." }</p> };
    }
    html! {
        <div class="runs__scroll">
            <table class="runs__table settings__table" data-testid="rules">
                <thead><tr>
                    <th scope="col">{ "Rule" }</th><th scope="col">{ "Condition" }</th>
                    <th scope="col">{ "Severity" }</th><th scope="col">{ "From" }</th>
                    <th scope="col">{ "Project" }</th><th scope="col">{ "Repeats" }</th>
                    <th scope="col">{ "On" }</th>
                </tr></thead>
                <tbody>
                    { for props.rules.iter().map(|rule| html! {
                        <tr data-testid="rule-row" data-rule={rule.name.clone()}
                            class={classes!((!rule.enabled).then_some("settings__row--off"))}>
                            <th scope="row"><code>{ rule.name.clone() }</code></th>
                            <td class="settings__wrap">{ rule.condition.clone() }</td>
                            <td><Badge label={rule.severity.key()} variant={badge_variant(rule.severity)} /></td>
                            <td>{ rule.source.clone() }</td>
                            <td>{ rule.project.clone().unwrap_or_else(|| "all".to_owned()) }</td>
                            <td>{ repeat_words(rule.repeat_s) }</td>
                            <td>{ if rule.enabled { "yes" } else { "off" } }</td>
                        </tr>
                    }) }
                </tbody>
            </table>
        </div>
    }
}
