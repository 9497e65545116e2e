//! Recorded runs: the table of a project's runs, one run's summary figures,
//! and its comparison with the run before it.

pub mod comparison;
pub mod runs_table;
pub mod summary;

pub use comparison::Comparison;
pub use runs_table::RunsTable;
pub use summary::RunSummary;
