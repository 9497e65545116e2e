//! The release bundle users get: no mock code or strings in it.

use std::path::PathBuf;

use tests::dist_dir;

fn wasm_bundle() -> Vec<u8> {
    let dist = dist_dir();
    let wasm: Vec<PathBuf> = std::fs::read_dir(&dist)
        .expect("dist is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    assert_eq!(wasm.len(), 1, "one wasm bundle in {}: {wasm:?}", dist.display());
    std::fs::read(&wasm[0]).expect("read the bundle")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_release_bundle_has_no_mock() {
    let wasm = wasm_bundle();
    // The scan is real: strings the panel does use are found in the same bytes.
    assert!(contains(&wasm, "Not available"), "the bundle's strings are readable");
    assert!(contains(&wasm, "Reconnecting"), "the bundle's strings are readable");
    // The marker every mock sample carries, and the mock's own labels.
    for mock in ["perfmon-mock", "Mock GPU", "mock GPU switched off", "Mock"] {
        assert!(!contains(&wasm, mock), "the release bundle contains {mock:?}");
    }
}

/// Runs `script` (bash) with scripts/lib.sh and scripts/ui.sh of the checkout
/// at `root` sourced; whether it succeeded, and what it printed.
fn ui_shell(root: &std::path::Path, script: &str) -> (bool, String) {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source scripts/lib.sh && source scripts/ui.sh && {script}"))
        .current_dir(root)
        .output()
        .expect("bash runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The files of a directory, by name, with their bytes.
fn files_of(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).expect("readable")))
        .collect()
}

#[test]
fn the_kept_ui_bundle_matches_its_sources() {
    let (current, text) = ui_shell(&tests::workspace_root(), "ui_bundle_current");
    assert!(
        current,
        "ui/dist was not built from the frontend's sources as they are now: run scripts/build-ui.sh and \
         commit ui/ ({text})"
    );
}

#[test]
fn the_kept_ui_bundle_is_byte_for_byte_what_the_sources_build() {
    // dist/ is the suite's own `trunk build` of the sources (scripts/test.sh).
    let built = files_of(&dist_dir());
    let kept = files_of(&tests::workspace_root().join("ui/dist"));
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        kept.keys().collect::<Vec<_>>(),
        "the same files (their names carry their hashes)"
    );
    for (name, bytes) in &built {
        assert!(kept[name] == *bytes, "ui/dist/{name} differs from what the sources build");
    }
}

#[test]
fn a_changed_frontend_source_with_the_old_bundle_is_caught() {
    let root = tests::workspace_root();
    let copy = server::testkit::Scratch::new("ui-fingerprint");
    // A checkout holding what the fingerprint reads, the scripts and the bundle.
    let (listed, sources) = ui_shell(&root, "ui_sources");
    assert!(listed, "{sources}");
    let mut files: Vec<String> = sources.lines().map(str::to_owned).collect();
    assert!(files.iter().any(|f| f.starts_with("frontend/src/")) && files.iter().any(|f| f == "Cargo.lock"));
    files.extend(["scripts/lib.sh", "scripts/ui.sh", "ui/FINGERPRINT"].map(str::to_owned));
    files.extend(files_of(&root.join("ui/dist")).into_keys().map(|name| format!("ui/dist/{name}")));
    for file in &files {
        let to = copy.join(file);
        std::fs::create_dir_all(to.parent().expect("a parent")).expect("dirs");
        std::fs::copy(root.join(file), &to).unwrap_or_else(|err| panic!("{file}: {err}"));
    }
    assert!(ui_shell(&copy.0, "ui_bundle_current").0, "the copy starts out current");
    // One changed line in a component, a lock file or the build's settings.
    for changed in ["frontend/src/lib.rs", "Cargo.lock", "trunk.toml", "shared/src/ws.rs"] {
        let path = copy.join(changed);
        let before = std::fs::read(&path).expect("read");
        let mut after = before.clone();
        after.extend_from_slice(b"\n// changed\n");
        std::fs::write(&path, &after).expect("write");
        assert!(!ui_shell(&copy.0, "ui_bundle_current").0, "a change to {changed} is caught");
        std::fs::write(&path, &before).expect("restore");
    }
    assert!(ui_shell(&copy.0, "ui_bundle_current").0, "and undone, it is current again");
}
