//! One sampler tick as it runs: the real sampler at the real 1 s cadence, so the
//! caches are as cold, and the CPU refresh (and, on kernels that do not list
//! children, the periodic full /proc scan) land where they land in production — a
//! tight loop would spread them over thousands of iterations. Prints the mean
//! (and the mean without the first tick), p50, p99, max and first of 60 ticks
//! without a run and with one (a tree of 9 processes),
//! then each source's share of a tick without the run and with it, and the slow
//! sources' reads on their thread.
//!
//! `cargo bench -p server --bench tick [-- TICKS]` (scripts/bench.sh runs it).

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use server::sampling::HostSampler;

/// A run's process tree: a shell and eight sleeping children.
struct Tree(Child);

impl Drop for Tree {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("pkill").args(["-KILL", "-P", &pid]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ticks(sampler: &mut HostSampler, roots: &[u32], n: usize) -> Vec<Duration> {
    let mut took = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let due = start + Duration::from_secs(i as u64 + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let t0 = Instant::now();
        std::hint::black_box(sampler.sample(roots));
        took.push(t0.elapsed());
    }
    took
}

/// A table row: the mean of every tick, and without the first (a new tree's
/// first tick finds it and opens its files: once per run, not at the cadence).
fn row(label: &str, mut took: Vec<Duration>) {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = |t: &[Duration]| t.iter().map(|d| micros(*d)).sum::<f64>() / t.len().max(1) as f64;
    let (all, after_first, first) = (mean(&took), mean(&took[1..]), micros(took[0]));
    took.sort_unstable();
    let pct = |p: f64| micros(took[((took.len() - 1) as f64 * p).round() as usize]);
    println!(
        "| {label} | {} | {all:.0} µs | {after_first:.0} µs | {:.0} µs | {:.0} µs | {:.0} µs | {first:.0} µs |",
        took.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

/// The header of a table of [`row`]s.
fn header(what: &str) {
    println!("| {what} | ticks | mean | mean after the first | p50 | p99 | max | first |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
}

fn main() {
    // `cargo bench` passes `--bench`; a number sets the tick count.
    let n = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(60);
    let mut sampler = HostSampler::new();
    header("sampler tick at the 1 s cadence");
    row("no run", ticks(&mut sampler, &[], n));
    let tree = Tree(
        Command::new("sh")
            .args(["-c", "for i in 1 2 3 4 5 6 7 8; do sleep 3600 & done; wait"])
            .spawn()
            .expect("spawn a process tree"),
    );
    std::thread::sleep(Duration::from_millis(300));
    row("with a run (a tree of 9 processes)", ticks(&mut sampler, &[tree.0.id()], n));

    // Each source on its own, at the same cadence, without a run and with it:
    // where a tick's time goes. The slow sources are read on their own thread
    // every 5 s; their reads are timed there.
    sampler.time_sources(true);
    for (label, roots) in [("no run", vec![]), ("with the run", vec![tree.0.id()])] {
        let mut per_source: Vec<(&'static str, Vec<Duration>)> = Vec::new();
        let start = Instant::now();
        for i in 0..n {
            let due = start + Duration::from_secs(i as u64 + 1);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            std::hint::black_box(sampler.sample(&roots));
            for (name, took) in sampler.costs() {
                match per_source.iter_mut().find(|(n, _)| n == name) {
                    Some((_, all)) => all.push(*took),
                    None => per_source.push((name, vec![*took])),
                }
            }
        }
        println!();
        header(&format!("source, at the 1 s cadence ({label})"));
        for (name, took) in per_source {
            row(name, took);
        }
    }
    drop(tree);
    println!();
    println!("| slow source, its last read (every 5 s, own thread) | took |");
    println!("|---|---:|");
    for (name, took) in sampler.slow_costs() {
        println!("| {name} | {:.0} µs |", took.as_secs_f64() * 1e6);
    }
}
