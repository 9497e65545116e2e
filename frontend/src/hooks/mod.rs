//! Hooks: one file each.

pub mod use_alerts;
pub mod use_color_scheme;
pub mod use_fetch;
pub mod use_notifications;
pub mod use_perf_metrics;
pub mod use_poll;
pub mod use_server_info;

pub use use_alerts::use_alerts;
pub use use_color_scheme::{Scheme, use_color_scheme};
pub use use_fetch::{Load, use_fetch};
pub use use_notifications::{Notifications, Notified, Permission, use_notifications};
pub use use_perf_metrics::use_perf_metrics;
pub use use_poll::use_poll;
pub use use_server_info::use_server_info;
