//! Compiles `fake_nvml.c` into `libnvidia-ml.so.1` (the name NVML is loaded by)
//! in this build's output directory, and tells the library where it is.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=fake_nvml.c");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("lib");
    std::fs::create_dir_all(&out).expect("create the output directory");
    // The cc crate picks the C compiler and flags for this target; a shared
    // object needs the link step too, which cc's static-library build skips.
    let compiler = cc::Build::new().get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o"])
        .arg(out.join("libnvidia-ml.so.1"))
        .arg("fake_nvml.c")
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling fake_nvml.c failed");
    println!("cargo:rustc-env=FAKE_NVML_DIR={}", out.display());
}
