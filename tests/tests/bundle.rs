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
