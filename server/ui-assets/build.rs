//! Points the embedding at the built frontend: `PERFMON_UI_DIR`, else the
//! bundle kept in the repository, `ui/dist` (what `scripts/build-ui.sh` makes of
//! the frontend's sources: a build needs no UI toolchain), and rebuilds when it
//! changes.
//!
//! A path Cargo watches that does not exist makes it rerun this script, and
//! rebuild everything above this crate, on every build; so a missing directory
//! is created here, and its filling is noticed. An empty directory embeds
//! nothing: the server then serves a page saying how to build the UI.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=PERFMON_UI_DIR");
    let dir = match std::env::var_os("PERFMON_UI_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/dist"),
    };
    if !dir.exists() {
        std::fs::create_dir_all(&dir).expect("create the frontend's output directory");
    }
    let dir = dir.canonicalize().expect("the frontend's output directory");
    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rustc-env=PERFMON_UI_FOLDER={}", dir.display());
}
