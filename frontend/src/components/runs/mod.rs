//! Recorded runs: the table of a project's runs, one run's summary figures,
//! where its time went (the verdict, its bar of shares, its counters), and
//! its comparison with the run before it.

pub mod comparison;
pub mod counters;
pub mod runs_table;
pub mod share_bar;
pub mod summary;
pub mod verdict;

pub use comparison::Comparison;
pub use counters::CountersTable;
pub use runs_table::RunsTable;
pub use share_bar::ShareBar;
pub use summary::RunSummary;
pub use verdict::VerdictSection;
