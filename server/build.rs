//! Records the commit the binary is built from (`perfmon --version`, the page's
//! footer, `/api/health`): `git rev-parse`, or `unknown` outside a git checkout.
//! And links a release `perfmon` with the code it runs laid out together
//! (`code-order.txt`, written by `scripts/order-code.sh`).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok().filter(|o| o.status.success())?;
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned()).filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PERFMON_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself, the branch it names, packed refs.
    // Only paths that exist: Cargo reruns this on every build for a missing one.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git_dir.join(branch));
        }
        for path in watched.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    order_code();
}

/// The kernel maps a binary's code in 64 KB runs around each page the process
/// touches, and a release build scatters what the server runs (start-up, the
/// tick, the store, the stream) over all of its 6.5 MB of code, so nearly all
/// of it stayed resident. `code-order.txt` lists the functions a profiled run
/// used, and lld (Rust's linker on x86_64 Linux) puts them first, together.
/// Names it does not find (a function renamed since) are skipped silently;
/// the release binary's tests say when too many are.
fn order_code() {
    let order =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("code-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=PERFMON_CODE_ORDER");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let lld_target = std::env::var("TARGET").is_ok_and(|t| t == "x86_64-unknown-linux-gnu");
    // `PERFMON_CODE_ORDER=off` for a build with another linker (GNU ld does
    // not know the option).
    let wanted = std::env::var("PERFMON_CODE_ORDER").map_or(true, |v| v != "off");
    if release && lld_target && wanted && order.exists() {
        println!("cargo:rustc-link-arg-bin=perfmon=-Wl,--symbol-ordering-file={}", order.display());
        println!("cargo:rustc-link-arg-bin=perfmon=-Wl,--no-warn-symbol-ordering");
    }
    // The dynamic loader reads every relocation at start: 16,000 pointers
    // into the binary's own tables (390 KB at 24 bytes each, all of it
    // resident). Packed (DT_RELR) they take a few KB. glibc runs such a
    // binary from 2.36 on, so only where the build's glibc is that new (the
    // binary runs where it is built: `scripts/install.sh`).
    if release && lld_target && glibc_at_least(2, 36) {
        println!("cargo:rustc-link-arg-bin=perfmon=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the build machine's glibc is at least `major.minor`
/// (`getconf GNU_LIBC_VERSION` prints `glibc 2.36`).
fn glibc_at_least(major: u32, minor: u32) -> bool {
    let Some(out) =
        Command::new("getconf").arg("GNU_LIBC_VERSION").output().ok().filter(|o| o.status.success())
    else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.trim().trim_start_matches("glibc ").split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}
