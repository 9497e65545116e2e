//! The store under a month of history: 30 days of 1 Hz samples (an 8-core
//! machine with one GPU, two disks and two interfaces, every figure of the
//! machine in depth read, a run live a quarter of the time) written through the
//! real writer thread, with the store's clock moved along so roll-ups and pruning
//! run as they would. Prints a table: the database's size, the writer's cost per
//! sample, the hub's hand-off cost, and query times for 1 h, 24 h, 7 d and 30 d
//! at about 2,000 points. `cargo bench -p server --bench store` (a few minutes).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::DateTime;
use server::sampling::{Depth, DeviceReading, HostSample, MemoryReading, NetworkReading, TreeReading};
use server::store::{HistoryQuery, Retention, Store, StoreConfig};
use server::{Record, Recorder, RunSummary};
use shared::depth::{cpu, disks, memory, network, perf, pressure};

const DAY_MS: i64 = 86_400_000;

fn sample(ms: i64, i: i64) -> HostSample {
    let wave = |period: i64, scale: f64| {
        ((i % period) as f64 / period as f64 * std::f64::consts::TAU).sin().abs() * scale
    };
    let mut s = HostSample {
        taken_at: DateTime::from_timestamp_millis(ms).expect("instant"),
        ..HostSample::default()
    };
    s.cpu.percent = Some(wave(600, 90.0));
    s.cpu.per_core = (0..8).map(|c| wave(600 + c * 7, 100.0)).collect();
    s.cpu.load = Some([wave(900, 8.0), 1.0, 1.0]);
    s.memory = Some(MemoryReading {
        total_bytes: 32 << 30,
        used_bytes: (8 << 30) + (wave(3600, 4.0) * f64::from(1u32 << 30)) as u64,
        swap_total_bytes: 2 << 30,
        swap_used_bytes: 0,
    });
    s.network = Some(NetworkReading {
        rx_bytes_per_s: wave(60, 1e6),
        tx_bytes_per_s: wave(90, 2e5),
        ..NetworkReading::default()
    });
    s.disk.read_bytes_per_s = Some(wave(120, 5e6));
    s.disk.write_bytes_per_s = Some(wave(45, 2e6));
    s.disk.used_bytes = Some(200 << 30);
    s.disk.total_bytes = Some(500 << 30);
    s.monitor.cpu_percent = Some(0.05);
    s.monitor.rss_bytes = Some(7 << 20);
    s.gpu.devices = vec![DeviceReading {
        index: 0,
        name: "NVIDIA H100 80GB HBM3".into(),
        percent: Some(wave(300, 100.0) as u32),
        memory_used_bytes: Some(40 << 30),
        memory_total_bytes: Some(80 << 30),
        temperature_c: Some(60),
        power_mw: Some(350_000),
        sm_clock_mhz: Some(1980 - (wave(300, 400.0) as u32)),
        memory_clock_mhz: Some(2619),
        pcie_rx_bytes_per_s: Some(wave(40, 2e9) as u64),
        pcie_tx_bytes_per_s: Some(wave(70, 5e8) as u64),
        clock_event_reasons: Some(if i % 7 == 0 { 0b100 } else { 0 }),
        ..DeviceReading::default()
    }];
    s.depth = depth(i, &wave);
    s
}

/// Every figure of the machine in depth, rounded as the payload sends them.
fn depth(i: i64, wave: &dyn Fn(i64, f64) -> f64) -> Depth {
    let r1 = |v: f64| (v * 10.0).round() / 10.0;
    let r2 = |v: f64| (v * 100.0).round() / 100.0;
    let r3 = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut d = Depth::default();
    d.cpu_detail.modes = Some(cpu::CpuModes {
        user_percent: Some(r1(wave(600, 70.0))),
        nice_percent: Some(0.0),
        system_percent: Some(r1(wave(500, 12.0))),
        idle_percent: Some(r1(100.0 - wave(600, 85.0))),
        iowait_percent: Some(r1(wave(130, 3.0))),
        irq_percent: Some(r1(wave(90, 0.4))),
        softirq_percent: Some(r1(wave(80, 1.1))),
        steal_percent: Some(0.0),
        guest_percent: Some(0.0),
    });
    d.cpu_detail.context_switches_per_s = Some(r1(wave(60, 40_000.0)));
    d.cpu_detail.interrupts_per_s = Some(r1(wave(70, 25_000.0)));
    d.cpu_detail.procs_running = Some(1 + (i % 9) as u64);
    d.cpu_detail.procs_blocked = Some((i % 3) as u64);
    let psi = |p: i64, scale: f64| {
        Some(pressure::ResourcePressure {
            some_stall_percent: Some(r2(wave(p, scale))),
            full_stall_percent: Some(r2(wave(p, scale / 3.0))),
            ..Default::default()
        })
    };
    d.pressure = pressure::Pressure {
        available: true,
        cpu: psi(50, 8.0),
        io: psi(70, 4.0),
        memory: psi(90, 1.0),
        ..Default::default()
    };
    d.memory_detail = memory::MemoryDetail {
        available: true,
        available_gb: Some(r3(20.0 + wave(3600, 4.0))),
        cached_gb: Some(r3(9.0 + wave(7200, 2.0))),
        buffers_gb: Some(r3(0.4 + wave(1800, 0.05))),
        dirty_gb: Some(r3(wave(30, 0.2))),
        slab_gb: Some(r3(1.2 + wave(3000, 0.1))),
        ..Default::default()
    };
    d.paging = memory::Paging {
        available: true,
        page_in_bytes_per_s: Some(wave(120, 5e6).round()),
        page_out_bytes_per_s: Some(wave(45, 2e6).round()),
        swap_in_pages_per_s: Some(0.0),
        swap_out_pages_per_s: Some(0.0),
        page_faults_per_s: Some(r1(wave(20, 30_000.0))),
        major_faults_per_s: Some(r1(wave(200, 5.0))),
        ..Default::default()
    };
    d.sockets = network::Sockets {
        available: true,
        tcp_established: Some(40 + (i % 13) as u64),
        tcp_time_wait: Some((i % 29) as u64),
        tcp_retransmits_per_s: Some(r1(wave(100, 2.0))),
        ..Default::default()
    };
    let mut events = std::collections::BTreeMap::new();
    for (name, rate) in [
        (perf::CYCLES, 2.4e10),
        (perf::INSTRUCTIONS, 3.1e10),
        (perf::CACHE_MISSES, 4.0e7),
        (perf::BRANCH_MISSES, 9.0e7),
        (perf::CONTEXT_SWITCHES, 4.0e4),
        (perf::PAGE_FAULTS, 3.0e4),
    ] {
        events.insert(
            name.to_owned(),
            perf::PerfEvent { available: true, per_s: Some(r1(wave(50, rate))), ..Default::default() },
        );
    }
    d.perf_events =
        perf::PerfEvents { available: true, ipc: Some(wave(50, 1.3)), events, ..Default::default() };
    d.disks = disks::Disks {
        available: true,
        devices: ["nvme0n1", "sda"]
            .iter()
            .enumerate()
            .map(|(n, name)| disks::DiskDevice {
                name: (*name).into(),
                read_bytes_per_s: Some(wave(120 + n as i64, 5e6).round()),
                write_bytes_per_s: Some(wave(45 + n as i64, 2e6).round()),
                read_iops: Some(r1(wave(120, 300.0))),
                write_iops: Some(r1(wave(45, 150.0))),
                read_await_ms: Some(r2(wave(33, 0.8))),
                write_await_ms: Some(r2(wave(34, 1.5))),
                await_ms: Some(r2(wave(35, 1.1))),
                util_percent: Some(r1(wave(60, 40.0))),
                in_flight: (i % 4) as u64,
            })
            .collect(),
        ..Default::default()
    };
    d.interfaces = network::Interfaces {
        available: true,
        interfaces: ["eth0", "docker0"]
            .iter()
            .map(|name| network::Interface {
                name: (*name).into(),
                rx_bytes_per_s: Some(wave(60, 1e6).round()),
                tx_bytes_per_s: Some(wave(90, 2e5).round()),
                rx_packets_per_s: Some(r1(wave(60, 900.0))),
                tx_packets_per_s: Some(r1(wave(90, 400.0))),
                rx_errors_per_s: Some(0.0),
                tx_errors_per_s: Some(0.0),
                rx_drops_per_s: Some(r1(wave(400, 0.3))),
                tx_drops_per_s: Some(0.0),
            })
            .collect(),
        ..Default::default()
    };
    d
}

fn main() {
    let dir = std::env::temp_dir().join(format!("perfmon-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let now = Arc::new(AtomicI64::new(0));
    let clock_now = now.clone();
    let config = StoreConfig { dir: dir.clone(), retention: Retention::default() };
    let store =
        Store::open_with_clock(&config, Arc::new(move || clock_now.load(Ordering::Relaxed))).expect("store");

    let days = 30;
    let t0 = 1_790_000_000_000 - 1_790_000_000_000 % DAY_MS;
    let samples = days * 86_400;
    let mut handoff = Duration::ZERO;
    let mut run: Option<RunSummary> = None;
    let started = Instant::now();
    for i in 0..samples {
        let ms = t0 + i * 1000;
        // A run of six hours starting every day at 18:00.
        let hour = (i / 3600) % 24;
        if hour == 18 && run.is_none() {
            let summary = RunSummary::started(
                format!("4242-{i}"),
                "bench".into(),
                Some("nightly".into()),
                4242,
                DateTime::from_timestamp_millis(ms).expect("instant"),
            );
            store.record(Record::Run(summary.clone()));
            run = Some(summary);
        } else if hour == 0
            && let Some(mut ended) = run.take()
        {
            ended.end(DateTime::from_timestamp_millis(ms).expect("instant"), shared::api::RunOutcome::Exited);
            store.record(Record::Run(ended));
        }
        let tree = TreeReading {
            cpu_percent: 40.0,
            rss_bytes: 3 << 30,
            process_count: 12,
            ..TreeReading::default()
        };
        let runs = match run.as_mut() {
            Some(summary) => {
                summary.add_tick(&tree, 1.0, 8);
                vec![(summary.clone(), tree)]
            }
            None => Vec::new(),
        };
        let record = Record::Tick { sample: Arc::new(sample(ms, i)), runs };
        let at = Instant::now();
        store.record(record);
        handoff += at.elapsed();
        // Wait for the writer every ten simulated minutes: a real second never
        // outruns it, and the queue must not drop what the benchmark measures.
        if i % 600 == 599 {
            now.store(ms, Ordering::Relaxed);
            assert!(store.flush(Duration::from_secs(120)), "the writer keeps up");
        }
    }
    let end = t0 + samples * 1000;
    now.store(end, Ordering::Relaxed);
    assert!(store.flush(Duration::from_secs(300)));
    let elapsed = started.elapsed();
    assert_eq!(store.health().dropped_samples, 0);

    let size: u64 = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("perfmon.db"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();

    println!("| measure | value | target |");
    println!("|---|---:|---:|");
    println!("| samples written (30 days at 1 Hz) | {samples} | |");
    println!("| database size after 30 days (with WAL) | {:.1} MB | ≤ 100 MB |", size as f64 / 1e6);
    println!(
        "| writer: whole run, per sample (insert, roll-ups, pruning) | {:.1} µs | |",
        elapsed.as_secs_f64() * 1e6 / samples as f64
    );
    println!("| hub → store hand-off per tick | {:.2} µs | |", handoff.as_secs_f64() * 1e6 / samples as f64);

    for (name, span) in [("1 h", 3_600_000), ("24 h", DAY_MS), ("7 d", 7 * DAY_MS), ("30 d", 30 * DAY_MS)] {
        let q = HistoryQuery {
            from_ms: end - span,
            to_ms: end,
            step_s: None,
            project: Some("bench".into()),
            run_id: None,
            points: 2_000,
        };
        let mut times = Vec::new();
        let mut points = 0;
        let mut tier = String::new();
        let mut series = 0;
        for _ in 0..15 {
            let at = Instant::now();
            let h = store.history(&q).expect("history");
            times.push(at.elapsed());
            points = h.timestamps.len();
            tier = h.tier;
            series = h.series.len();
        }
        times.sort();
        println!(
            "| query {name} ({points} points × {series} series, {tier} tier, median of 15) | {:.1} ms | ≤ 50 ms |",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
    store.close(Duration::from_secs(30));
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
