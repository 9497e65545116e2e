//! PerfMon's built frontend, embedded in the binary so `perfmon` serves its page
//! from any directory: every file of `ui/dist` (or `PERFMON_UI_DIR`) with brotli
//! and gzip copies and an ETag, all made at build time (rust-embed-for-web), so
//! serving one costs a lookup. Built before `trunk build` ran, it holds nothing.
//!
//! Its own crate, so that compiling the embedded bytes (seconds for a few
//! hundred KB) happens when the frontend changes, not on every server change.

pub use rust_embed_for_web::{EmbedableFile, RustEmbed};

/// The files of the built frontend, by path (`index.html`, `frontend-….wasm`).
#[derive(RustEmbed)]
#[folder = "$PERFMON_UI_FOLDER"]
#[allow_missing = true]
pub struct Ui;

/// Whether this build has a frontend in it.
pub fn built() -> bool {
    Ui::get("index.html").is_some()
}
