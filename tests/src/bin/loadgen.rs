//! The load tool: starts the real release server on loopback, opens N WebSocket
//! clients per round, streams at the 1 s cadence (a live run is registered) for a
//! fixed time, and prints a table per N: delivery latency from the sample's
//! timestamp to the client's receipt (p50/p99/max), samples lost by readers,
//! the server's CPU (% of one core, from /proc CPU time over the window) and RSS.
//! Then the self-cost at rest, idle and with one client for a minute, and where
//! it goes, per thread (schedstat: CPU to the ns, and runs a second); with
//! `--remote-write URL`, the at-rest rows with the server pushing there every 5 s.
//!
//! ```text
//! cargo build --release -p server
//! cargo run --release -p tests --bin loadgen -- [--clients 1,100,1000,10000] [--seconds 15] [--rest-seconds 60] \
//!     [--remote-write http://127.0.0.1:8428/api/v1/write]
//! ```
//! (`scripts/bench.sh` does all of it.)

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use server::cli::client::Method;
use server::testkit::Perfmon;
use tokio::sync::Mutex;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// Options, from the command line.
struct Options {
    server: PathBuf,
    clients: Vec<usize>,
    seconds: u64,
    rest_seconds: u64,
    /// A remote-write receiver the server pushes to during the at-rest rows.
    remote_write: Option<String>,
}

fn options() -> Options {
    let mut o = Options {
        server: tests::workspace_root().join("target/release/perfmon"),
        clients: vec![1, 100, 1_000, 10_000],
        seconds: 15,
        rest_seconds: 60,
        remote_write: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--server" => o.server = value().into(),
            "--clients" => {
                o.clients = value().split(',').map(|n| n.parse().expect("a client count")).collect()
            }
            "--seconds" => o.seconds = value().parse().expect("seconds"),
            "--rest-seconds" => o.rest_seconds = value().parse().expect("seconds"),
            "--remote-write" => o.remote_write = Some(value()),
            other => panic!("unknown option {other}; see the doc comment of tests/src/bin/loadgen.rs"),
        }
    }
    o
}

/// The server under test (killed on drop), with a live run registered when the
/// cadence should be 1 s.
struct Loaded {
    perfmon: Perfmon,
    /// The registered run's process, killed on drop.
    run: Option<Child>,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        if let Some(run) = self.run.as_mut() {
            let _ = run.kill();
            let _ = run.wait();
        }
    }
}

impl Loaded {
    async fn start(binary: &std::path::Path, live: bool, remote_write: Option<&str>) -> Loaded {
        // Served as a user serves it (the page from inside the binary), with room
        // for the largest round's clients.
        let mut args = vec!["--max-connections", "20000"];
        if let Some(url) = remote_write {
            args.extend(["--remote-write", url]);
        }
        let perfmon = Perfmon::serve(binary, &args).await;
        let mut loaded = Loaded { perfmon, run: None };
        if live {
            let run = Command::new("sleep").arg("3600").spawn().expect("spawn a run");
            let body = serde_json::json!({ "pid": run.id() }).to_string();
            let api = loaded.perfmon.api();
            api.call(Method::POST, "/api/projects/load/run", Some(body)).await.expect("register the run");
            loaded.run = Some(run);
        }
        loaded
    }

    /// (CPU seconds so far, RSS in MB) of the server process.
    fn usage(&self) -> (f64, f64) {
        let (cpu, rss) = self.perfmon.usage();
        (cpu, rss as f64 / 1e6)
    }

    /// (PSS, anonymous) of the server process in MB, from
    /// `/proc/PID/smaps_rollup`: what of its RSS is its own (shared library
    /// pages split among the processes that map them) and what is heap and stacks.
    fn shares(&self) -> (f64, f64) {
        let rollup =
            std::fs::read_to_string(format!("/proc/{}/smaps_rollup", self.perfmon.pid())).unwrap_or_default();
        let kib = |field: &str| {
            let line = rollup.lines().find(|line| line.starts_with(field));
            line.and_then(|line| line.split_whitespace().nth(1)?.parse::<f64>().ok()).unwrap_or(f64::NAN)
        };
        (kib("Pss:") * 1024.0 / 1e6, kib("Anonymous:") * 1024.0 / 1e6)
    }
}

/// What the readers saw.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    lost: u64,
}

#[derive(serde::Deserialize)]
struct Probe {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    timestamp: String,
}

fn epoch_ms(timestamp: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(timestamp).ok().map(|t| t.timestamp_millis() as f64)
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

/// One round: N clients for the window; a row of the table.
async fn round(options: &Options, n: usize) -> String {
    let perfmon = Loaded::start(&options.server, true, None).await;
    let url = format!("ws://{}/ws/projects/load", perfmon.perfmon.addr);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let opened = Arc::new(AtomicU64::new(0));
    let window = Duration::from_secs(options.seconds);
    // Connect everyone first (in parallel batches), then measure.
    let mut sockets = Vec::with_capacity(n);
    for batch in (0..n).collect::<Vec<_>>().chunks(200) {
        let conns = futures_util::future::join_all(batch.iter().map(|_| connect_async(url.as_str()))).await;
        for conn in conns {
            sockets.push(conn.expect("connect").0);
        }
    }
    let start_at = Instant::now() + Duration::from_secs(2);
    let end_at = start_at + window;
    let mut readers = Vec::with_capacity(n);
    for mut ws in sockets {
        let (seen, opened) = (seen.clone(), opened.clone());
        readers.push(tokio::spawn(async move {
            opened.fetch_add(1, Ordering::Relaxed);
            let mut local = Seen::default();
            let mut last_seq = None;
            while let Ok(Some(Ok(frame))) =
                tokio::time::timeout(end_at.saturating_duration_since(Instant::now()), ws.next()).await
            {
                let Message::Text(text) = frame else { continue };
                let received = now_ms();
                let Ok(probe) = serde_json::from_str::<Probe>(text.as_str()) else { continue };
                if probe.kind != "perf_metrics" {
                    continue;
                }
                if Instant::now() >= start_at {
                    if let Some(sent) = epoch_ms(&probe.timestamp) {
                        local.latencies_ms.push(received - sent);
                    }
                    if let Some(last) = last_seq {
                        local.lost += probe.seq.saturating_sub(last + 1);
                    }
                }
                last_seq = Some(probe.seq);
            }
            let mut all = seen.lock().await;
            all.latencies_ms.extend(local.latencies_ms);
            all.lost += local.lost;
        }));
    }
    tokio::time::sleep_until(start_at.into()).await;
    let (cpu0, _) = perfmon.usage();
    let t0 = Instant::now();
    tokio::time::sleep_until(end_at.into()).await;
    let (cpu1, rss) = perfmon.usage();
    let elapsed = t0.elapsed().as_secs_f64();
    for reader in readers {
        let _ = reader.await;
    }
    let mut seen = Arc::try_unwrap(seen).map(Mutex::into_inner).unwrap_or_default();
    seen.latencies_ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        let l = &seen.latencies_ms;
        if l.is_empty() { f64::NAN } else { l[((l.len() - 1) as f64 * p).round() as usize] }
    };
    let expected = (n as f64 * options.seconds as f64).round();
    format!(
        "| {n} | {} / ~{expected} | {:.1} | {:.1} | {:.1} | {} | {:.2} % | {:.1} MB |",
        seen.latencies_ms.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0),
        seen.lost,
        (cpu1 - cpu0) / elapsed * 100.0,
        rss,
    )
}

/// Reads `ws` (when there is one) for `how_long`; the samples it got.
async fn read_for(ws: &mut Option<server::testkit::Client>, how_long: Duration) -> u32 {
    let until = Instant::now() + how_long;
    let Some(ws) = ws else {
        tokio::time::sleep(how_long).await;
        return 0;
    };
    let mut samples = 0;
    while let Ok(Some(Ok(frame))) =
        tokio::time::timeout(until.saturating_duration_since(Instant::now()), ws.next()).await
    {
        samples += u32::from(matches!(frame, Message::Text(_)));
    }
    samples
}

/// Each of the server's threads' time on a CPU so far, in ns, summed by thread
/// name (`/proc/PID/task/TID/schedstat`: nanoseconds, where `stat` counts 10 ms
/// ticks, too coarse for a process that runs a millisecond a second).
/// With each name's runs on a CPU (`schedstat`'s third field: each time a
/// thread is given a CPU, after a wake-up or after being preempted), since a
/// cost spread over many small runs is paid in the scheduler as much as in the
/// work.
fn thread_times(pid: u32) -> std::collections::BTreeMap<String, (u64, u64)> {
    let mut times = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return times };
    for task in tasks.flatten() {
        let read = |name: &str| std::fs::read_to_string(task.path().join(name)).unwrap_or_default();
        let schedstat = read("schedstat");
        let mut fields = schedstat.split_whitespace().map(|field| field.parse::<u64>().ok());
        if let (Some(Some(ns)), Some(_), Some(Some(runs))) = (fields.next(), fields.next(), fields.next()) {
            let sum: &mut (u64, u64) = times.entry(read("comm").trim().to_owned()).or_default();
            sum.0 += ns;
            sum.1 += runs;
        }
    }
    times
}

/// One at-rest window: its row of the self-cost table, and each thread name's
/// share of a core and runs a second over it (threads that ended within the
/// window are missed).
struct Rest {
    row: String,
    threads: Vec<(String, f64, f64)>,
}

/// The whole server process over `rest_seconds`: CPU time and RSS from /proc,
/// either idle with nobody watching (3 s cadence) or with one client of a live run
/// (1 s cadence). A row of the self-cost table.
async fn at_rest(options: &Options, with_client: bool) -> Rest {
    let loaded = Loaded::start(&options.server, with_client, options.remote_write.as_deref()).await;
    let mut ws = match with_client {
        true => Some(
            connect_async(format!("ws://{}/ws/projects/load", loaded.perfmon.addr)).await.expect("connect").0,
        ),
        false => None,
    };
    // Settle first: start-up work is not the cost of watching.
    read_for(&mut ws, Duration::from_secs(3)).await;
    let (cpu0, _) = loaded.usage();
    let threads0 = thread_times(loaded.perfmon.pid());
    let t0 = Instant::now();
    let samples = read_for(&mut ws, Duration::from_secs(options.rest_seconds)).await;
    let (cpu1, rss) = loaded.usage();
    let threads1 = thread_times(loaded.perfmon.pid());
    let (pss, anon) = loaded.shares();
    let seconds = t0.elapsed().as_secs_f64();
    let state =
        if with_client { "one client, live run (1 s cadence)" } else { "idle, no client (3 s cadence)" };
    let state = match &options.remote_write {
        Some(_) => format!("{state}, pushing every 5 s"),
        None => state.to_owned(),
    };
    let row = format!(
        "| {state} | {seconds:.0} s | {samples} | {:.3} s | {:.3} % | {rss:.1} MB | {pss:.1} MB | {anon:.1} MB |",
        cpu1 - cpu0,
        (cpu1 - cpu0) / seconds * 100.0
    );
    let threads = threads1
        .iter()
        .map(|(name, (ns, runs))| {
            let (ns0, runs0) = threads0.get(name).copied().unwrap_or_default();
            let share = ns.saturating_sub(ns0) as f64 / 1e9 / seconds * 100.0;
            (name.clone(), share, runs.saturating_sub(runs0) as f64 / seconds)
        })
        .collect();
    Rest { row, threads }
}

/// The per-thread table of the at-rest windows: a row per thread name, a column
/// per window, and their sum.
fn thread_table(rests: &[(&str, Rest)]) {
    let mut names: Vec<&String> = rests.iter().flat_map(|(_, r)| r.threads.iter().map(|(n, ..)| n)).collect();
    names.sort();
    names.dedup();
    let columns: Vec<&str> = rests.iter().map(|(label, _)| *label).collect();
    println!("| thread (schedstat: CPU, runs a second) | {} |", columns.join(" | "));
    println!("|---|{}", "---:|".repeat(rests.len()));
    let cell = |rest: &Rest, name: &str| {
        rest.threads.iter().find(|(n, ..)| n == name).map_or((0.0, 0.0), |(_, share, runs)| (*share, *runs))
    };
    let format = |(share, runs): (f64, f64)| format!("{share:.3} % ({runs:.2}/s)");
    for name in names {
        let cells: Vec<String> = rests.iter().map(|(_, r)| format(cell(r, name))).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    let sum = |r: &Rest| r.threads.iter().fold((0.0, 0.0), |(s, n), (_, share, runs)| (s + share, n + runs));
    let sums: Vec<String> = rests.iter().map(|(_, r)| format!("**{}**", format(sum(r)))).collect();
    println!("| all | {} |", sums.join(" | "));
}

#[tokio::main]
async fn main() {
    let options = options();
    // 10,000 clients need more than the usual 1,024 descriptors, here and in the
    // server (which inherits the limit).
    let (_, hard) = rlimit::Resource::NOFILE.get().expect("read the open-file limit");
    rlimit::Resource::NOFILE.set(hard, hard).expect("raise the open-file limit");
    let needed = options.clients.iter().max().copied().unwrap_or(0) as u64 + 200;
    assert!(hard >= needed, "the open-file limit ({hard}) is below what {needed} clients need");

    println!(
        "Delivery at the 1 s cadence, {} s per round (server: {})",
        options.seconds,
        options.server.display()
    );
    println!();
    println!(
        "| clients | samples received / expected | p50 latency ms | p99 ms | max ms | lost | server CPU (of one core) | server RSS |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &options.clients {
        println!("{}", round(&options, n).await);
    }
    if options.rest_seconds > 0 {
        println!();
        let pushing =
            options.remote_write.as_ref().map(|url| format!(", remote write to {url}")).unwrap_or_default();
        println!("Whole-process cost at rest (CPU time and RSS of the server from /proc{pushing})");
        println!();
        println!(
            "| state | window | samples received | server CPU time | CPU (of one core) | RSS | PSS | anonymous |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        let idle = at_rest(&options, false).await;
        println!("{}", idle.row);
        let watched = at_rest(&options, true).await;
        println!("{}", watched.row);
        println!();
        println!("Where it goes, per thread (each thread's time on a CPU over the same windows)");
        println!();
        thread_table(&[("idle, no client", idle), ("one client, live run", watched)]);
    }
}
