//! The binary users install: the release `perfmon`, copied into an empty
//! directory, serves its page, its wasm (compressed as the browser asks, with an
//! ETag and 304s) and the app's own URLs, and the panel works in a real browser;
//! a binary built before the frontend says how to build it.

use std::process::{Command, Stdio};
use std::time::Duration;

use server::testkit::{Perfmon, Reply, Sandbox, Scratch, raw_http};
use tests::{ChromeDriver, browser};

/// `binary serve` on a free port, run from an empty directory (so nothing can
/// come from the working directory).
async fn serve_from_an_empty_directory(binary: &std::path::Path) -> (Perfmon, Scratch) {
    let home = Scratch::new("installed");
    let copy = home.join("perfmon");
    std::fs::copy(binary, &copy).expect("copy the binary");
    let sandbox = Sandbox::new("installed");
    let mut command = sandbox.command(&copy);
    command
        .current_dir(&home.0)
        .args(["serve", "--bind", &sandbox.addr().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    (Perfmon::start(command, &sandbox).await, home)
}

async fn get(perfmon: &Perfmon, path: &str, extra: &[(&str, &str)]) -> Reply {
    let host = format!("127.0.0.1:{}", perfmon.addr.port());
    let mut headers = vec![("host", host.as_str())];
    headers.extend_from_slice(extra);
    raw_http(perfmon.addr, "GET", path, &headers, None).await
}

/// The wasm file the page loads (Trunk names it `frontend-<hash>_bg.wasm`).
fn wasm_named_in(index: &str) -> String {
    let end = index.find("_bg.wasm").expect("the page names its wasm") + "_bg.wasm".len();
    let start = index[..end].rfind('/').expect("an absolute path") + 1;
    index[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_release_binary_serves_its_page_from_an_empty_directory() {
    let (perfmon, _home) = serve_from_an_empty_directory(&tests::release_binary()).await;

    let index = get(&perfmon, "/", &[]).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    assert_eq!(index.header("cache-control"), Some("no-cache"), "the page is revalidated");
    let wasm = format!("/{}", wasm_named_in(&index.text()));

    // Compressed as the browser prefers, kept for good, revalidated by ETag.
    let br = get(&perfmon, &wasm, &[("accept-encoding", "gzip, deflate, br, zstd")]).await;
    assert_eq!((br.status, br.header("content-type")), (200, Some("application/wasm")));
    assert_eq!(br.header("content-encoding"), Some("br"));
    assert!(br.header("cache-control").is_some_and(|c| c.contains("immutable")));
    assert_eq!(br.header("vary"), Some("accept-encoding"));
    let etag = br.header("etag").expect("an ETag").to_owned();
    let gzip = get(&perfmon, &wasm, &[("accept-encoding", "gzip, deflate")]).await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(gzip.bytes.starts_with(&[0x1f, 0x8b]), "a gzip stream");
    let plain = get(&perfmon, &wasm, &[]).await;
    assert_eq!(plain.header("content-encoding"), None);
    assert!(plain.bytes.starts_with(b"\0asm"), "the wasm itself");
    assert!(br.bytes.len() < gzip.bytes.len() && gzip.bytes.len() < plain.bytes.len());
    let again = get(&perfmon, &wasm, &[("accept-encoding", "br"), ("if-none-match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    // The app's own URLs are the page; unknown API paths stay JSON errors.
    let report = get(&perfmon, "/projects/demo/runs/4242-2026-11-25T10:00:00Z", &[]).await;
    assert_eq!((report.status, report.text()), (200, index.text()));
    let api = get(&perfmon, "/api/nope", &[]).await;
    assert_eq!(api.status, 404);
    assert!(api.header("content-type").is_some_and(|t| t.starts_with("application/json")));
    let missing = get(&perfmon, "/frontend-0123456789abcdef.js", &[]).await;
    assert_eq!(missing.status, 404, "a missing file is not the page");

    // And the panel works, in a real browser, against this copy.
    let driver = ChromeDriver::start();
    let client = browser(&driver).await;
    tests::open_panel(&client, &format!("http://127.0.0.1:{}/?project=installed", perfmon.addr.port())).await;
    let cpu = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(fantoccini::Locator::XPath("//*[@data-testid='cpu-value'][contains(., '%')]"))
        .await
        .expect("the panel shows the server's CPU");
    assert!(cpu.text().await.expect("text").ends_with(" %"));
    let about = client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(fantoccini::Locator::XPath("//*[@data-testid='about'][contains(., 'commit')]"))
        .await
        .expect("the footer names the version");
    let about = about.text().await.expect("text");
    assert!(about.starts_with(&format!("PerfMon {} (commit ", env!("CARGO_PKG_VERSION"))), "{about}");
    client.close().await.expect("close the browser");
}

#[tokio::test]
async fn a_binary_built_without_the_ui_says_how_to_build_it() {
    let (perfmon, _home) = serve_from_an_empty_directory(&tests::no_ui_binary()).await;
    let page = get(&perfmon, "/", &[]).await;
    assert_eq!(page.status, 404);
    assert!(page.header("content-type").is_some_and(|t| t.starts_with("text/html")));
    let text = page.text();
    assert!(text.contains("no UI") && text.contains("scripts/install.sh"), "{text}");
    assert_eq!(get(&perfmon, "/api/health", &[]).await.status, 200, "the API works meanwhile");
}

#[test]
fn the_systemd_unit_is_valid_for_the_installed_binary() {
    // The unit runs ~/.local/bin/perfmon; verified here against the built one.
    let unit =
        std::fs::read_to_string(tests::workspace_root().join("packaging/perfmon.service")).expect("the unit");
    assert!(unit.contains("ExecStart=%h/.local/bin/perfmon serve"), "the unit starts the installed binary");
    let scratch = Scratch::new("unit");
    let release = tests::release_binary();
    let local = unit.replace("%h/.local/bin/perfmon", &release.display().to_string());
    std::fs::write(scratch.join("perfmon.service"), local).expect("write the unit");
    let out = Command::new("systemd-analyze")
        .args(["verify", &scratch.join("perfmon.service").display().to_string()])
        .output()
        .expect("systemd-analyze (part of systemd) is installed");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze: {said}");
}

/// Every shared library a process loads is mapped in 64 KB runs around each
/// page it touches: libm cost PerfMon half a megabyte at rest for two
/// functions, `pow` (tokio's multi-threaded scheduler) and `log` (SQLite's
/// full-text search). The server runs a current-thread runtime and SQLite is
/// built without full-text search (`.cargo/config.toml`), so the release
/// binary needs only libc (and libgcc_s for unwinding).
#[cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]
#[test]
fn the_release_binary_loads_no_library_beyond_libc() {
    let binary = tests::release_binary();
    let out = Command::new("readelf").arg("-dW").arg(&binary).output().expect("readelf (binutils)");
    assert!(out.status.success(), "readelf: {}", String::from_utf8_lossy(&out.stderr));
    let dynamic = String::from_utf8(out.stdout).expect("readelf prints text");
    let needed: Vec<&str> = dynamic
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .filter_map(|line| line.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(needed.contains(&"libc.so.6"), "{dynamic}");
    let extra: Vec<&&str> =
        needed.iter().filter(|lib| !matches!(**lib, "libc.so.6" | "libgcc_s.so.1")).collect();
    assert!(extra.is_empty(), "the release binary needs {extra:?} besides libc");
}

/// Release builds lay the code a profiled server ran out first, together
/// (`server/build.rs`, `server/code-order.txt`), so that the kernel maps little
/// of the rest (BENCHMARKS.md). The file still names the binary's functions (a
/// new toolchain or dependency renames them: `scripts/order-code.sh` writes it
/// again), the linker followed it, and the dynamic loader's relocations are
/// packed.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn the_release_binary_keeps_the_code_it_runs_together() {
    let binary = tests::release_binary();
    let nm =
        Command::new("nm").arg("--defined-only").arg(&binary).output().expect("nm (binutils) is installed");
    assert!(nm.status.success(), "nm: {}", String::from_utf8_lossy(&nm.stderr));
    let nm = String::from_utf8(nm.stdout).expect("nm prints text");
    let functions: std::collections::HashMap<&str, u64> = nm
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (address, kind, name) = (fields.next()?, fields.next()?, fields.next()?);
            matches!(kind, "t" | "T" | "w" | "W")
                .then(|| Some((name, u64::from_str_radix(address, 16).ok()?)))?
        })
        .collect();
    let order =
        std::fs::read_to_string(tests::workspace_root().join("server/code-order.txt")).expect("the order");
    let listed: Vec<&str> = order.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    let found: Vec<u64> = listed.iter().filter_map(|name| functions.get(name).copied()).collect();
    assert!(
        found.len() * 10 >= listed.len() * 9,
        "server/code-order.txt names {} functions and the binary has {} of them: run scripts/order-code.sh",
        listed.len(),
        found.len()
    );
    let ascending = found.windows(2).filter(|pair| pair[0] < pair[1]).count();
    assert!(
        ascending * 100 >= (found.len() - 1) * 99,
        "the linker did not follow the order ({ascending} of {})",
        found.len()
    );
    let end = found.iter().max().copied().unwrap_or_default();
    let listed: std::collections::HashSet<&str> = listed.into_iter().collect();
    let interleaved =
        functions.iter().filter(|(name, address)| **address < end && !listed.contains(*name)).count();
    assert!(
        interleaved * 20 < found.len(),
        "{interleaved} other functions lie among the {} listed",
        found.len()
    );

    let glibc = Command::new("getconf").arg("GNU_LIBC_VERSION").output().expect("getconf");
    let glibc = String::from_utf8_lossy(&glibc.stdout).trim().trim_start_matches("glibc ").to_owned();
    let numbers: Vec<u32> = glibc.split('.').filter_map(|n| n.parse().ok()).collect();
    if numbers.as_slice() >= [2, 36].as_slice() {
        let sections =
            Command::new("readelf").args(["-SW"]).arg(&binary).output().expect("readelf (binutils)");
        assert!(
            String::from_utf8_lossy(&sections.stdout).contains(".relr.dyn"),
            "relocations packed (DT_RELR)"
        );
    }
}
