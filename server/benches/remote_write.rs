//! What remote write costs the sender: two hours of a busy machine's 1 Hz
//! samples (8 cores, a GPU, two disks, two interfaces, everything in depth, a
//! run live in the second hour) written through the real store, then read,
//! built into series, encoded and POSTed to a receiver on loopback that
//! answers 204, as `fleet::sender` does it:
//!
//! - one live batch: the 5 ticks of the default 5 s interval (median of 200);
//! - catching up after a 1 h outage: 3,600 ticks in requests of 60.
//!
//! Prints a table. `cargo bench -p server --bench remote_write` (under a minute).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::DateTime;
use server::fleet::sender::{CATCH_UP_PAUSE, MAX_TICKS, REQUEST_TIMEOUT, outcome};
use server::fleet::series::{BaseLabels, Batch, MAX_PROJECTS, Outcomes};
use server::fleet::wire;
use server::sampling::TreeReading;
use server::store::{Exporter, Retention, Store, StoreConfig};
use server::{Record, Recorder, RunSummary};

#[path = "support/machine.rs"]
mod machine;

const HOUR_MS: i64 = 3_600_000;

/// A receiver that reads each request whole and answers 204, on a thread of
/// its own; its address.
fn sink() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("a stream"));
                let mut writer = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err()
                        || writer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}/api/v1/write")
}

/// One request's worth, timed by step.
#[derive(Default, Clone, Copy)]
struct Cost {
    read: Duration,
    build: Duration,
    encode: Duration,
    send: Duration,
    samples: usize,
    bytes: usize,
    ticks: usize,
}

impl Cost {
    fn total(&self) -> Duration {
        self.read + self.build + self.encode + self.send
    }
}

/// Reads, builds, encodes and sends the ticks after `position` (at most
/// `max`), as the sender does; the cost and the newest tick sent.
fn step(
    exporter: &Exporter,
    agent: &ureq::Agent,
    url: &str,
    labels: &BaseLabels,
    outcomes: &mut Outcomes,
    position: i64,
    max: usize,
) -> Option<(Cost, i64)> {
    let mut cost = Cost::default();
    let at = Instant::now();
    let raw = exporter.ticks_after(position, max).expect("read");
    let newest = raw.ticks.last()?.ts;
    outcomes.add(exporter.finished_runs(Some(position - 600_000), newest, MAX_PROJECTS).expect("runs"));
    cost.read = at.elapsed();
    let at = Instant::now();
    let mut batch = Batch::new(labels);
    for tick in &raw.ticks {
        outcomes.advance_to(tick.ts);
        batch.tick(&raw, tick, outcomes);
    }
    cost.samples = batch.samples();
    let request = batch.into_request();
    cost.build = at.elapsed();
    let at = Instant::now();
    let body = wire::encode(&request).expect("encode");
    cost.encode = at.elapsed();
    cost.bytes = body.len();
    cost.ticks = raw.ticks.len();
    let at = Instant::now();
    let mut response = agent.post(url).header("Content-Encoding", "snappy").send(&body[..]).expect("sent");
    let status = response.status().as_u16();
    let _ = response.body_mut().read_to_vec();
    assert_eq!(outcome(status, ""), server::fleet::sender::Outcome::Accepted);
    cost.send = at.elapsed();
    Some((cost, newest))
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("perfmon-bench-remote-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t0 = 1_790_000_000_000 - 1_790_000_000_000 % HOUR_MS;
    let now = Arc::new(AtomicI64::new(t0));
    let clock = now.clone();
    let config = StoreConfig { dir: dir.clone(), retention: Retention::default() };
    let store =
        Store::open_with_clock(&config, Arc::new(move || clock.load(Ordering::Relaxed))).expect("store");

    // Two hours at 1 Hz; a run live through the second.
    let ticks = 7_200;
    let mut run = RunSummary::started(
        "4242-bench".into(),
        "bench".into(),
        None,
        4242,
        DateTime::from_timestamp_millis(t0 + HOUR_MS).expect("instant"),
    );
    store.record(Record::Run(run.clone()));
    let tree = TreeReading {
        cpu_percent: Some(40.0),
        rss_bytes: 3 << 30,
        process_count: 12,
        ..TreeReading::default()
    };
    for i in 0..ticks {
        let ms = t0 + i * 1000;
        let runs = if ms >= t0 + HOUR_MS {
            run.add_tick(&tree, 1.0, 8);
            vec![(run.clone(), tree.clone())]
        } else {
            Vec::new()
        };
        store.record(Record::Tick { sample: Arc::new(machine::sample(ms, i)), runs });
        if i % 600 == 599 {
            now.store(ms, Ordering::Relaxed);
            assert!(store.flush(Duration::from_secs(120)), "the writer keeps up");
        }
    }
    assert!(store.flush(Duration::from_secs(120)));
    let end = t0 + ticks * 1000;

    let url = sink();
    let agent = server::outbound::http_agent(REQUEST_TIMEOUT);
    let labels = BaseLabels::new("bench-box", &[("team".into(), "ml".into())]);
    let exporter = store.exporter().expect("an exporter");

    // One live batch: five ticks, at 200 places in the run's hour.
    let mut live: Vec<Cost> = (0..200)
        .map(|k| {
            let position = end - HOUR_MS + k * 15_000;
            let mut outcomes = Outcomes::default();
            step(&exporter, &agent, &url, &labels, &mut outcomes, position, 5).expect("ticks").0
        })
        .collect();
    live.sort_by_key(Cost::total);
    let median = live[live.len() / 2];

    // Catching up an hour: from an hour before the end, requests of 60 ticks.
    let mut position = end - HOUR_MS - 1;
    let mut outcomes = Outcomes::default();
    let mut total = Cost::default();
    let mut requests = 0;
    let mut largest = 0;
    let started = Instant::now();
    while let Some((cost, newest)) =
        step(&exporter, &agent, &url, &labels, &mut outcomes, position, MAX_TICKS)
    {
        position = newest;
        requests += 1;
        largest = largest.max(cost.bytes);
        total.read += cost.read;
        total.build += cost.build;
        total.encode += cost.encode;
        total.send += cost.send;
        total.samples += cost.samples;
        total.bytes += cost.bytes;
        total.ticks += cost.ticks;
    }
    let elapsed = started.elapsed();

    println!(
        "| remote write, per request | one live batch (5 ticks, median of 200) | catching up 1 h (3,600 ticks) |"
    );
    println!("|---|---:|---:|");
    println!("| requests | 1 | {requests} |");
    println!("| samples | {} | {} |", median.samples, total.samples);
    println!("| read from the store | {} | {:.1} ms |", micros(median.read), total.read.as_secs_f64() * 1e3);
    println!("| build the series | {} | {:.1} ms |", micros(median.build), total.build.as_secs_f64() * 1e3);
    println!(
        "| protobuf + snappy | {} | {:.1} ms |",
        micros(median.encode),
        total.encode.as_secs_f64() * 1e3
    );
    println!("| POST, loopback, 204 | {} | {:.1} ms |", micros(median.send), total.send.as_secs_f64() * 1e3);
    println!(
        "| sender's work in all | {} | {:.1} ms |",
        micros(median.total()),
        total.total().as_secs_f64() * 1e3
    );
    // The sender pauses between catching-up requests; this loop does not.
    let pauses = CATCH_UP_PAUSE.as_secs_f64() * requests as f64;
    let work = total.total().as_secs_f64();
    println!(
        "| … of one core | {:.3} % (a batch every 5 s) | {:.1} % over the {:.1} s it takes with the pauses ({:.2} s of work) |",
        median.total().as_secs_f64() / 5.0 * 100.0,
        work / (work + pauses) * 100.0,
        work + pauses,
        elapsed.as_secs_f64()
    );
    println!(
        "| body (compressed) | {:.1} KB | {:.0} KB in all, largest {:.1} KB |",
        median.bytes as f64 / 1e3,
        total.bytes as f64 / 1e3,
        largest as f64 / 1e3
    );
    println!("| ticks sent | {} | {} |", median.ticks, total.ticks);
    assert_eq!(total.ticks, 3_600, "the hour, whole");

    store.close(Duration::from_secs(30));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
