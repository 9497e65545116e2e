//! The settings page's parts: the whole read-only [`SettingsView`], the alert
//! rules in effect ([`RulesTable`]) and where alerts go with how their
//! deliveries went ([`DestinationsTable`]).

pub mod destinations_table;
pub mod rules_table;
pub mod settings_view;

pub use destinations_table::DestinationsTable;
pub use rules_table::RulesTable;
pub use settings_view::SettingsView;
