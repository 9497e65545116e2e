//! Start-up time of the release binary: from starting `perfmon serve` to the
//! first byte of its page (`GET /`), over 20 starts, with its size on disk.
//!
//! `cargo run --release -p tests --bin startup` after the release server is built
//! (`scripts/bench.sh` does both).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

const STARTS: usize = 20;

/// Time from spawning `binary serve` to the first byte of `GET /`, in a sandbox
/// of its own (never the user's data directory or port).
fn one_start(binary: &std::path::Path) -> Duration {
    let sandbox = server::testkit::Sandbox::new("startup");
    let addr = sandbox.addr();
    let started = Instant::now();
    let mut child = sandbox
        .command(binary)
        .args(["serve", "--bind", &addr.to_string()])
        .env("PERFMON_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start perfmon");
    let took = loop {
        if let Ok(mut stream) = TcpStream::connect(addr) {
            let request = format!("GET / HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
            let mut first = [0u8; 1];
            if stream.write_all(request.as_bytes()).is_ok() && stream.read_exact(&mut first).is_ok() {
                break started.elapsed();
            }
        }
        assert!(started.elapsed() < Duration::from_secs(20), "perfmon did not answer within 20 s");
        std::thread::sleep(Duration::from_micros(500));
    };
    let _ = child.kill();
    let _ = child.wait();
    took
}

fn main() {
    let binary = tests::release_binary();
    let mut times: Vec<Duration> = (0..STARTS).map(|_| one_start(&binary)).collect();
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let size = std::fs::metadata(&binary).map(|m| m.len()).unwrap_or(0);
    println!("| release binary | size | starts | start-up to first byte p50 | p90 | max |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| perfmon, frontend built in | {:.1} MB | {STARTS} | {:.1} ms | {:.1} ms | {:.1} ms |",
        size as f64 / 1e6,
        ms(times[STARTS / 2]),
        ms(times[STARTS * 9 / 10]),
        ms(times[STARTS - 1])
    );
}
