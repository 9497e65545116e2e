//! The store against real files in temporary directories, with an injected
//! clock where time matters.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use shared::api::{ExitReport, RunOutcome};

use super::*;
use crate::hub::{Record, Recorder, RunSummary};
use crate::sampling::{Depth, DeviceReading, HostSample, MemoryReading, TreeReading};

const FLUSH: Duration = Duration::from_secs(30);

/// A fresh directory, removed when dropped (the store's test modules share it).
pub(super) struct Dir(pub(super) PathBuf);

impl Dir {
    pub(super) fn new(name: &str) -> Dir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("perfmon-store-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch");
        Dir(dir)
    }

    fn config(&self) -> StoreConfig {
        StoreConfig { dir: self.0.clone(), retention: Retention::default() }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A clock a test moves by hand.
#[derive(Clone)]
struct Hand(Arc<AtomicI64>);

impl Hand {
    fn at(ms: i64) -> Hand {
        Hand(Arc::new(AtomicI64::new(ms)))
    }
    fn clock(&self) -> Clock {
        let now = self.0.clone();
        Arc::new(move || now.load(Ordering::Relaxed))
    }
    fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::Relaxed);
    }
}

const T0: i64 = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("instant")
}

fn sample(ms: i64, cpu: f64) -> HostSample {
    let mut s = HostSample { taken_at: at(ms), ..HostSample::default() };
    s.cpu.percent = Some(cpu);
    s.cpu.per_core = vec![cpu, 100.0 - cpu];
    s.memory = Some(MemoryReading { used_bytes: 2 << 30, total_bytes: 8 << 30, ..Default::default() });
    s.gpu.devices = vec![DeviceReading {
        index: 0,
        name: "NVIDIA Test".into(),
        percent: Some(cpu as u32),
        memory_used_bytes: Some(1 << 30),
        memory_total_bytes: Some(80 << 30),
        sm_clock_mhz: Some(1410),
        // gpu_idle and sw_power_cap.
        clock_event_reasons: Some(0b101),
        pcie_rx_bytes_per_s: Some(1_000_000),
        ..DeviceReading::default()
    }];
    s.depth = depth(cpu, &["vda"], &["eth0"]);
    s
}

/// The machine in depth at `x`, as the payload sends it, with these disks
/// and interfaces.
fn depth(x: f64, disks: &[&str], interfaces: &[&str]) -> Depth {
    use shared::depth::{cpu, disks::DiskDevice, network::Interface, perf, pressure};
    let mut d = Depth::default();
    d.cpu_detail.modes =
        Some(cpu::CpuModes { iowait_percent: Some(x), steal_percent: Some(0.5), ..Default::default() });
    d.cpu_detail.procs_blocked = Some(x as u64);
    d.cpu_detail.per_core = vec![d.cpu_detail.modes; 2];
    d.cpu_detail.sensors.frequency_mhz = vec![Some(2400.0), Some(2400.0)];
    d.cpu_detail.sensors.temperatures.sensors =
        vec![cpu::Temperature { name: "coretemp Package id 0".into(), temperature_c: Some(40.0 + x) }];
    d.filesystems.filesystems = vec![shared::depth::disks::Filesystem {
        device: "vda1".into(),
        used_percent: Some(x),
        ..Default::default()
    }];
    d.pressure.io = Some(pressure::ResourcePressure {
        some_stall_percent: Some(x / 4.0),
        full_stall_percent: Some(0.0),
        ..Default::default()
    });
    d.memory_detail.available_gb = Some(6.125);
    d.paging.major_faults_per_s = Some(x * 10.0);
    d.sockets.tcp_established = Some(12);
    d.perf_events.ipc = Some(1.25);
    d.perf_events.events.insert(
        perf::CYCLES.into(),
        perf::PerfEvent { available: true, per_s: Some(3e9), ..Default::default() },
    );
    d.disks.available = true;
    d.disks.devices = disks
        .iter()
        .map(|name| DiskDevice {
            name: (*name).into(),
            util_percent: Some(x * 10.0),
            await_ms: Some(0.25),
            write_bytes_per_s: Some(4096.0),
            ..Default::default()
        })
        .collect();
    d.interfaces.available = true;
    d.interfaces.interfaces = interfaces
        .iter()
        .map(|name| Interface { name: (*name).into(), rx_drops_per_s: Some(x), ..Default::default() })
        .collect();
    d
}

fn tree(cpu: f64, rss_mib: u64) -> TreeReading {
    TreeReading {
        cpu_percent: Some(cpu),
        rss_bytes: rss_mib << 20,
        process_count: 3,
        ..TreeReading::default()
    }
}

/// A tick of the four totals only (the machine in depth has tests of its own;
/// unoptimised SQLite makes a month of it slow to write).
fn tick(store: &Store, ms: i64, cpu: f64, runs: &[&RunSummary]) {
    let runs = runs.iter().map(|r| ((*r).clone(), tree(cpu, 100 + cpu as u64))).collect();
    let sample = HostSample { depth: Depth::default(), ..sample(ms, cpu) };
    store.record(Record::Tick { sample: Arc::new(sample), runs });
}

fn run_at(id: &str, project: &str, ms: i64) -> RunSummary {
    RunSummary::started(id.into(), project.into(), Some("nightly".into()), 42, at(ms))
}

fn query(from: i64, to: i64) -> HistoryQuery {
    HistoryQuery {
        from_ms: from,
        to_ms: to,
        step_s: None,
        project: Some("p".into()),
        run_id: None,
        points: 2000,
        all: false,
    }
}

#[test]
fn ticks_and_runs_are_kept_and_read_back() {
    let dir = Dir::new("roundtrip");
    let clock = Hand::at(T0 + 600_000);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    let mut run = run_at("42-a", "p", T0 + 60_000);
    store.record(Record::Run(run.clone()));
    for s in 0..300 {
        let live = (60..240).contains(&s);
        if live {
            run.add_tick(&tree((s % 10) as f64, 100), 1.0, 2);
        }
        let live_runs = if live { vec![&run] } else { Vec::new() };
        tick(&store, T0 + s * 1000, (s % 10) as f64, &live_runs);
    }
    run.end(at(T0 + 240_000), RunOutcome::Exited);
    run.exit_code = Some(3);
    run.tokens = 1234;
    let mut gpu_tick = tree(5.0, 250);
    gpu_tick.gpu_memory_bytes = Some(3 << 30);
    run.add_tick(&gpu_tick, 0.0, 2);
    store.record(Record::Run(run.clone()));
    assert!(store.flush(FLUSH), "committed");
    assert_eq!(store.health().state, "ok");

    let page = store.runs("p", 10, None).expect("runs");
    assert_eq!(page.runs.len(), 1);
    let record = &page.runs[0];
    assert_eq!((record.status, record.exit_code, record.duration_s), (RunOutcome::Exited, Some(3), 180.0));
    assert_eq!(
        (record.label.as_deref(), record.peak_cpu_percent, record.peak_process_count),
        (Some("nightly"), Some(9.0), 3)
    );
    // 180 ticks of a second at 0–9 % of a 2-core machine: 18 × 45 % × 2 cores.
    assert_eq!(record.cpu_seconds, 16.2, "the whole tree's CPU time");
    assert_eq!((record.peak_rss_mb, record.peak_gpu_memory_gb), (Some(250.0), Some(3.0)));
    assert_eq!(record.tokens, 1234);
    assert!(store.runs("other", 10, None).expect("runs").runs.is_empty(), "runs are per project");

    let h = store.history(&HistoryQuery { step_s: Some(1), ..query(T0, T0 + 300_000) }).expect("history");
    assert_eq!(h.timestamps.len(), 300);
    assert_eq!(h.series["cpu.percent"][7], Some(7.0));
    assert_eq!(h.series["memory.used_gb"][0], Some(2.0));
    assert_eq!(h.series["gpu.0.vram_total_gb"][0], Some(80.0), "GiB, as nvidia-smi counts");
    assert_eq!(h.series["cpu.core.0"][3], Some(3.0));
    assert_eq!(h.series["run.rss_mb"][59], None, "before the run");
    assert_eq!(h.series["run.rss_mb"][61], Some(101.0));
    assert_eq!(h.gpu_names["0"], "NVIDIA Test");
    assert_eq!(h.runs.len(), 1);
    assert_eq!((h.runs[0].start_ms, h.runs[0].end_ms), (T0 + 60_000, Some(T0 + 240_000)));
    assert_eq!((h.runs[0].status, h.runs[0].exit_code), (RunOutcome::Exited, Some(3)), "how it ended");

    // Ten-second points carry the extremes beside the mean.
    let h = store.history(&HistoryQuery { step_s: Some(10), ..query(T0, T0 + 300_000) }).expect("history");
    assert_eq!(h.timestamps.len(), 30);
    assert_eq!(
        (h.min["cpu.percent"][0], h.series["cpu.percent"][0], h.max["cpu.percent"][0]),
        (Some(0.0), Some(4.5), Some(9.0))
    );

    let report = store.report("p", "42-a").expect("report");
    assert_eq!(report.run.run_id, "42-a");
    assert!(report.previous.is_none());
    assert!(report.history.series["run.cpu_percent"].iter().any(Option::is_some));
    assert_eq!(store.report("p", "nope"), Err(QueryError::NotFound("p".into(), "nope".into())));
    store.close(FLUSH);
}

#[test]
fn back_to_back_runs_are_bands_of_their_own_each_with_how_it_ended() {
    let dir = Dir::new("bands");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 600_000).clock()).expect("open");
    // One ends as the next starts: exit 0, then exit 2, then killed.
    let ends = [
        ("1-a", 0, 60_000, RunOutcome::Exited, Some(0), None),
        ("2-b", 60_000, 90_000, RunOutcome::Exited, Some(2), None),
        ("3-c", 90_000, 95_000, RunOutcome::Killed, None, Some(9)),
    ];
    for (id, start, end, outcome, code, signal) in ends {
        let mut run = run_at(id, "p", T0 + start);
        store.record(Record::Run(run.clone()));
        run.end(at(T0 + end), outcome);
        (run.exit_code, run.signal) = (code, signal);
        store.record(Record::Run(run));
    }
    assert!(store.flush(FLUSH), "committed");
    let h = store.history(&query(T0, T0 + 300_000)).expect("history");
    let bands: Vec<_> = h.runs.iter().map(|b| (b.run_id.as_str(), b.end_ms, b.status, b.exit_code)).collect();
    assert_eq!(
        bands,
        [
            ("1-a", Some(T0 + 60_000), RunOutcome::Exited, Some(0)),
            ("2-b", Some(T0 + 90_000), RunOutcome::Exited, Some(2)),
            ("3-c", Some(T0 + 95_000), RunOutcome::Killed, None),
        ]
    );
    let json = serde_json::to_value(&h.runs[1]).expect("json");
    assert_eq!(json["exit_code"], 2, "on the wire as `exit_code`");
    store.close(FLUSH);
}

#[test]
fn bad_ranges_and_steps_are_refused() {
    let dir = Dir::new("ranges");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0).clock()).expect("open");
    assert!(store.flush(FLUSH));
    assert!(matches!(store.history(&query(T0, T0 - 1)), Err(QueryError::BadRange(_))), "reversed");
    assert!(matches!(store.history(&query(T0, T0)), Err(QueryError::BadRange(_))), "empty");
    let ten_years = store.history(&query(T0 - 10 * 365 * 86_400_000, T0));
    assert!(
        matches!(&ten_years, Err(QueryError::BadRange(why)) if why.contains("the 365 days history is kept")),
        "ten years: {ten_years:?}"
    );
    let fine = HistoryQuery { step_s: Some(1), ..query(T0 - 86_400_000, T0) };
    assert!(matches!(store.history(&fine), Err(QueryError::BadStep(_))), "86,400 points");
    let zero = HistoryQuery { step_s: Some(0), ..query(T0 - 60_000, T0) };
    assert!(matches!(store.history(&zero), Err(QueryError::BadStep(_))));
    let empty = store.history(&query(T0 - 3_600_000, T0)).expect("an empty range is fine");
    assert!(empty.series["cpu.percent"].iter().all(Option::is_none));
}

#[test]
fn thirty_days_roll_up_into_minutes_and_hours_and_old_rows_are_pruned() {
    let dir = Dir::new("retention");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    // One sample every 30 s for 31 days; cpu climbs 0..59 within each half hour.
    let days = 31;
    let step = 30_000;
    for i in 0..(days * 86_400_000 / step) {
        let ms = T0 + i * step;
        tick(&store, ms, (i % 60) as f64, &[]);
        // The test hands samples over faster than any sampler: it waits for the
        // writer every six hours of samples, as a real day never outruns it.
        if ms % 21_600_000 == 0 {
            clock.set(ms);
            assert!(store.flush(FLUSH), "day {}", (ms - T0) / 86_400_000);
        }
    }
    let end = T0 + days * 86_400_000;
    clock.set(end);
    assert!(store.flush(FLUSH));
    assert_eq!(store.health().dropped_samples, 0, "the writer kept up");

    let conn = store.reader().expect("reader");
    let span = |table: &str| -> (i64, i64, i64) {
        conn.query_row(&format!("SELECT count(*), min(ts), max(ts) FROM {table}"), [], |r| {
            Ok((
                r.get(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                r.get::<_, Option<i64>>(2)?.unwrap_or(0),
            ))
        })
        .expect("count")
    };
    let (_, raw_oldest, _) = span("host_raw");
    assert!(raw_oldest >= end - 48 * 3_600_000 - 60_000, "raw kept 48 h, not more: {}", end - raw_oldest);
    let (_, minute_oldest, _) = span("host_1m");
    assert!(minute_oldest >= end - 30 * 86_400_000 - 3_600_000, "minutes kept 30 days");
    assert!(minute_oldest <= end - 29 * 86_400_000, "and kept that long");
    let (hours, hour_oldest, _) = span("host_1h");
    assert_eq!(hour_oldest, T0, "hours kept from the first");
    assert!(hours >= i64::from(days as u32) * 24 - 1);
    let (gpu_hours, _, _) = span("gpu_1h");
    assert_eq!(gpu_hours, hours, "devices roll up with the machine");

    // Each hour: the min and max of its samples, and their mean.
    let h = store.history(&HistoryQuery { step_s: Some(3600), ..query(T0, T0 + 86_400_000) }).expect("hours");
    assert_eq!(h.tier, "hour");
    assert_eq!(
        (h.min["cpu.percent"][1], h.series["cpu.percent"][1], h.max["cpu.percent"][1]),
        (Some(0.0), Some(29.5), Some(59.0))
    );
    assert_eq!(
        h.series["cpu.core.1"][1],
        Some(71.0),
        "per-core means roll up too (100 - 29.5, per-minute rounding)"
    );

    // The whole month at about 2,000 points reads the minute tier's reach.
    let month = store.history(&query(end - 30 * 86_400_000, end)).expect("month");
    assert_eq!(month.step_s, 1800);
    assert!(month.series["cpu.percent"].iter().filter(|v| v.is_some()).count() > 1400);
    // A day older than the minutes' reach is read at hours.
    let old = store.history(&query(T0, T0 + 86_400_000)).expect("first day");
    assert_eq!(old.step_s, 3600);
    assert!(old.series["cpu.percent"].iter().all(Option::is_some));
    // The last minutes, not rolled up yet, are read raw beside the minute rows.
    let recent =
        store.history(&HistoryQuery { step_s: Some(60), ..query(end - 3_600_000, end) }).expect("last hour");
    assert_eq!(recent.tier, "minute");
    assert!(recent.series["cpu.percent"].iter().all(Option::is_some), "{:?}", recent.series["cpu.percent"]);
}

/// A store in `dir` whose server stopped with run `7-x` of `p` live, after
/// five ticks of it (`T0` to `T0 + 4 s`): nothing ended it.
fn left_running(dir: &Dir) {
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 10_000).clock()).expect("open");
    let mut run = run_at("7-x", "p", T0);
    store.record(Record::Run(run.clone()));
    for s in 0..5 {
        run.add_tick(&tree(50.0, 10), 1.0, 1);
        tick(&store, T0 + s * 1000, 50.0, &[&run]);
    }
    assert!(store.flush(FLUSH));
    store.close(FLUSH);
}

#[test]
fn a_run_live_when_the_server_died_is_marked_interrupted() {
    let dir = Dir::new("interrupted");
    left_running(&dir);
    let store = wait_for_lock(&dir);
    assert!(store.flush(FLUSH));
    let record = store.runs("p", 5, None).expect("runs").runs.remove(0);
    assert_eq!(record.status, RunOutcome::Interrupted);
    assert_eq!(record.ended_at, Some(crate::sampling::timestamp_seconds(at(T0 + 4000))), "its last tick");
    // Its report charts every tick it had, the last one (its end) too.
    let report = store.report("p", "7-x").expect("report");
    let charted = report.history.series["run.cpu_percent"].iter().flatten().count();
    assert_eq!(charted, 5, "{:?}", report.history.series["run.cpu_percent"]);
    // The wrapper outlived the server and says how the command ended, and when:
    // the run's length is its own, not cut at the server's death.
    // Its largest process's peak, which the readings missed, raises the record's.
    let counters = shared::why::RunCounters { peak_rss_bytes: Some(700 << 20), ..Default::default() };
    let report = ExitReport {
        ended_at_ms: Some(T0 + 9_000),
        cpu_seconds: Some(7.5),
        counters: Some(counters),
        ..ExitReport::killed(9)
    };
    store.report_exit(&ProjectName::parse("p").expect("name"), "7-x", report);
    assert!(store.flush(FLUSH));
    let record = store.runs("p", 5, None).expect("runs").runs.remove(0);
    assert_eq!((record.status, record.signal, record.exit_code), (RunOutcome::Killed, Some(9), None));
    assert_eq!(record.ended_at, Some(crate::sampling::timestamp_seconds(at(T0 + 9000))));
    assert_eq!((record.duration_s, record.cpu_seconds, record.peak_rss_mb), (9.0, 7.5, Some(700.0)));
    // A later report does not rewrite it.
    store.report_exit(&ProjectName::parse("p").expect("name"), "7-x", ExitReport::exited(0));
    assert!(store.flush(FLUSH));
    let again = store.runs("p", 5, None).expect("runs").runs.remove(0);
    assert_eq!(again, record);
}

#[test]
fn an_end_the_alerts_never_saw_is_listed_at_the_next_start_with_its_destinations_until_alerted() {
    let dir = Dir::new("late-ends");
    let hook = vec!["http://127.0.0.1:9/hook?token=secret".to_owned()];
    {
        let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 10_000).clock()).expect("open");
        // A run live when the server died, with `--notify` destinations.
        let run = run_at("7-x", "p", T0);
        store.record(Record::Run(run.clone()));
        store.keep_notify("7-x", hook.clone());
        // A run whose end went through the alerts, and one that ended just
        // before the server died, before its end's alert went out.
        for (id, alerted) in [("8-y", true), ("9-z", false)] {
            let mut done = run_at(id, "q", T0);
            done.end(at(T0 + 2_000), RunOutcome::Exited);
            done.exit_code = Some(0);
            store.record(Record::Run(done));
            store.keep_notify(id, hook.clone());
            if alerted {
                store.end_alerted(id);
                // Too late for a run already alerted: nothing would read it.
                store.keep_notify(id, hook.clone());
            }
        }
        assert!(store.flush(FLUSH));
        store.close(FLUSH);
    }
    let store = wait_for_lock(&dir);
    assert!(store.flush(FLUSH));
    let late = store.ends_not_alerted().expect("ends not alerted");
    let seen: Vec<_> = late.iter().map(|r| (r.run_id.as_str(), r.outcome, r.exit_code)).collect();
    // Oldest end first: interrupted when it was last seen (no tick: its start).
    assert_eq!(seen, vec![("7-x", RunOutcome::Interrupted, None), ("9-z", RunOutcome::Exited, Some(0))]);
    assert_eq!(late[0].ended_at, Some(at(T0)));
    assert_eq!(store.notify_specs("7-x").expect("specs"), hook);
    assert_eq!(store.notify_specs("8-y").expect("specs"), Vec::<String>::new());
    // The wrapper's exit report, kept while the server was down, comes in.
    store.report_exit(&ProjectName::parse("p").expect("name"), "7-x", ExitReport::killed(9));
    assert!(store.flush(FLUSH));
    let late = store.ends_not_alerted().expect("ends not alerted");
    assert_eq!((late[0].outcome, late[0].signal), (RunOutcome::Killed, Some(9)));
    // Once alerted, neither is listed again, and the secrets are gone.
    store.end_alerted("7-x");
    store.end_alerted("9-z");
    assert!(store.flush(FLUSH));
    assert!(store.ends_not_alerted().expect("ends not alerted").is_empty());
    assert!(store.notify_specs("7-x").expect("specs").is_empty());
    assert!(store.notify_specs("9-z").expect("specs").is_empty());
}

#[test]
fn the_database_and_its_wal_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new("private");
    // A data directory PerfMon did not make, open to others, and a database
    // left readable by a PerfMon before this one.
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(dir.0.join(DB_FILE), b"").expect("an empty database");
    std::fs::set_permissions(dir.0.join(DB_FILE), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0).clock()).expect("open");
    store.record(Record::Run(run_at("7-x", "p", T0)));
    store.keep_notify("7-x", vec!["https://ntfy.sh/secret-topic".into()]);
    assert!(store.flush(FLUSH));
    for file in [DB_FILE.to_owned(), format!("{DB_FILE}-wal")] {
        let mode = std::fs::metadata(dir.0.join(&file)).expect(&file).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}: {mode:o}");
    }
    store.close(FLUSH);
}

/// A run's `--notify` URL is a secret: once its end is alerted and the row
/// deleted, its bytes are not left in the database's free space either.
#[test]
fn a_deleted_notify_url_leaves_no_bytes_in_the_database() {
    let dir = Dir::new("secure-delete");
    let secret = "https://ntfy.sh/topic-5ec7e7-do-not-keep";
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0).clock()).expect("open");
    store.record(Record::Run(run_at("7-x", "p", T0)));
    store.keep_notify("7-x", vec![secret.into()]);
    assert!(store.flush(FLUSH));
    assert!(in_files(&dir, secret), "kept while its run's end is not alerted");
    // Replaced before it is deleted: the old value must not linger either.
    store.keep_notify("7-x", vec![format!("{secret}-2")]);
    assert!(store.flush(FLUSH));
    store.end_alerted("7-x");
    assert!(store.flush(FLUSH));
    // A clean stop returns once the writer has folded its WAL into the
    // database (as checkpoints do while it runs): the page the row stood on
    // is all that could still hold it, and the WAL is empty or gone.
    store.close(FLUSH);
    let wal = std::fs::metadata(dir.0.join(format!("{DB_FILE}-wal"))).map_or(0, |m| m.len());
    assert_eq!(wal, 0, "a clean stop leaves the database alone");
    assert!(!in_files(&dir, secret), "the URL's bytes are still in the database or its WAL");
    drop(store);
}

/// Whether `text` is in the store's database file or its WAL, byte for byte.
fn in_files(dir: &Dir, text: &str) -> bool {
    [DB_FILE.to_owned(), format!("{DB_FILE}-wal")].iter().any(|file| {
        let bytes = std::fs::read(dir.0.join(file)).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

#[test]
fn read_with_no_server_a_run_left_running_reports_up_to_its_last_tick_not_to_now() {
    let dir = Dir::new("offline-report");
    left_running(&dir);
    // `perfmon report` with no server (the one that wrote it died weeks ago).
    // (The writer lets go of the directory's lock just after closing.)
    let mut store = Store::read_only(&dir.config()).expect("read only");
    for _ in 0..100 {
        if store.offline() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        store = Store::read_only(&dir.config()).expect("read only");
    }
    let report = store.report("p", "7-x").expect("report");
    assert_eq!(report.run.status, RunOutcome::Interrupted);
    assert!(report.history.timestamps.len() <= 6, "{} points", report.history.timestamps.len());
    let band = &report.history.runs[0];
    assert_eq!((band.status, band.end_ms), (RunOutcome::Interrupted, Some(T0 + 4000)));
}

#[test]
fn a_run_whose_process_still_runs_is_left_running_for_the_next_server() {
    let dir = Dir::new("resumable");
    let store = Store::open(&dir.config()).expect("open");
    // This test process, registered after it started: still alive at the reopen.
    let mut alive = RunSummary::started("me".into(), "p".into(), None, std::process::id(), Utc::now());
    alive.cpu_base = Some(1.5);
    alive.cpu_seconds = 2.0;
    // A pid that cannot exist: gone.
    let gone = RunSummary::started("gone".into(), "p".into(), None, u32::MAX - 1, Utc::now());
    // This process under a run that started before it did: another process
    // that reused the pid, not the run's.
    let reused = RunSummary::started("reused".into(), "p".into(), None, std::process::id(), at(T0));
    for run in [&alive, &gone, &reused] {
        store.record(Record::Run(run.clone()));
    }
    assert!(store.flush(FLUSH));
    store.close(FLUSH);
    drop(store);
    let store = wait_for_lock(&dir);
    let unfinished = store.unfinished_runs().expect("read");
    assert_eq!(unfinished.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["me"]);
    assert_eq!((unfinished[0].cpu_base, unfinished[0].cpu_seconds), (Some(1.5), 2.0));
    let status = |id: &str| {
        store.runs("p", 5, None).expect("runs").runs.into_iter().find(|r| r.run_id == id).map(|r| r.status)
    };
    assert_eq!(status("gone"), Some(RunOutcome::Interrupted));
    assert_eq!(status("reused"), Some(RunOutcome::Interrupted));
    assert_eq!(status("me"), Some(RunOutcome::Running));
}

#[test]
fn the_last_run_of_each_project_is_one_run_when_two_ended_at_the_same_instant() {
    let dir = Dir::new("last-runs");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 600_000).clock()).expect("open");
    // Two runs of `p` a crash ended at the same tick, and one of `q` before.
    for (id, project, end) in [("1-a", "p", 60_000), ("2-b", "p", 60_000), ("3-c", "q", 30_000)] {
        let mut run = run_at(id, project, T0);
        run.end(at(T0 + end), RunOutcome::Exited);
        store.record(Record::Run(run));
    }
    assert!(store.flush(FLUSH));
    let last = store.last_runs(10).expect("last runs");
    let ids: Vec<(&str, &str)> = last.iter().map(|r| (r.project.as_str(), r.run_id.as_str())).collect();
    assert_eq!(ids, [("q", "3-c"), ("p", "2-b")], "one per project, the one recorded last");
    assert_eq!(store.last_runs(1).expect("last runs").len(), 1);
}

#[test]
fn a_run_record_is_never_overwritten_by_another_project_or_after_its_exit() {
    let dir = Dir::new("overwrite");
    let store = Store::open(&dir.config()).expect("open");
    let mut run = run_at("42-same", "mine", T0);
    run.end(at(T0 + 3_000), RunOutcome::Exited);
    run.exit_code = Some(3);
    store.record(Record::Run(run.clone()));
    // Another project's run under the same id.
    let other = run_at("42-same", "theirs", T0 + 1_000);
    store.record(Record::Run(other));
    // The same run told later that it was ended by hand.
    let mut later = run.clone();
    later.end(at(T0 + 60_000), RunOutcome::Ended);
    later.exit_code = None;
    store.record(Record::Run(later));
    assert!(store.flush(FLUSH));
    let mine = store.runs("mine", 5, None).expect("runs").runs;
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].status, mine[0].exit_code, mine[0].duration_s), (RunOutcome::Exited, Some(3), 3.0));
    assert!(store.runs("theirs", 5, None).expect("runs").runs.is_empty(), "not recorded over another's");
}

/// Opens the store again once the previous handle's writer has let the lock go.
fn wait_for_lock(dir: &Dir) -> Store {
    for _ in 0..100 {
        match Store::open_with_clock(&dir.config(), Hand::at(T0 + 10_000).clock()) {
            Ok(store) => return store,
            Err(StoreError::Locked { .. }) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    panic!("the lock was never released");
}

#[test]
fn a_second_store_on_the_same_directory_is_refused_with_the_first_ones_pid() {
    let dir = Dir::new("locked");
    let first = Store::open(&dir.config()).expect("first");
    // The lock is per open file: a second open in this process conflicts too.
    match Store::open(&dir.config()) {
        Err(StoreError::Locked { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected a refusal, got {other:?}"),
    }
    first.close(FLUSH);
}

#[test]
fn a_file_that_is_not_a_database_is_moved_aside_not_deleted() {
    let dir = Dir::new("corrupt");
    let garbage =
        b"this is not an SQLite database, just bytes that a crash or a bad copy left here".repeat(100);
    std::fs::write(dir.0.join(DB_FILE), &garbage).expect("garbage");
    let store = Store::open(&dir.config()).expect("open");
    assert!(store.flush(FLUSH));
    let health = store.health();
    assert_eq!(health.state, "ok", "a fresh database");
    // Said, so nobody takes the empty history for the whole of it.
    let said = health.reason.expect("the reset is said");
    assert!(said.contains("damaged and moved aside") && said.contains("perfmon.db.corrupt-"), "{said}");
    assert!(!said.contains(&dir.0.display().to_string()), "a file name, not a path: {said}");
    let aside: Vec<_> = std::fs::read_dir(&dir.0)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("perfmon.db.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "moved aside");
    assert_eq!(std::fs::read(aside[0].path()).expect("read"), garbage, "kept byte for byte");
    tick(&store, T0, 1.0, &[]);
    assert!(store.flush(FLUSH));
    assert!(store.history(&query(T0, T0 + 1000)).is_ok());
}

#[test]
fn a_directory_that_cannot_be_made_degrades_the_store_and_says_why() {
    let dir = Dir::new("blocked");
    // A file where the data directory should be: nothing can be created in it.
    let path = dir.0.join("not-a-dir");
    std::fs::write(&path, b"").expect("file");
    let store = Store::open(&StoreConfig { dir: path.join("perfmon"), retention: Retention::default() })
        .expect("opens");
    tick(&store, T0, 1.0, &[]);
    assert!(store.flush(FLUSH));
    let health = store.health();
    assert_eq!(health.state, "degraded");
    assert!(health.reason.is_some(), "{health:?}");
    assert_eq!(health.dropped_samples, 1, "the sample is counted, not silently lost");
    assert!(matches!(store.history(&query(T0, T0 + 1000)), Err(QueryError::Unavailable(_))));
}

#[test]
fn the_store_names_its_series_as_the_live_stream_names_a_sample() {
    // The dashboard appends live samples to the store's history by name: the
    // two must agree on every series, or a chart would lose its right edge.
    let dir = Dir::new("names");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 10_000).clock()).expect("open");
    let run = run_at("42-a", "p", T0);
    store.record(Record::Run(run.clone()));
    // A whole sample, the machine in depth with it.
    let runs = vec![(run.clone(), tree(50.0, 150))];
    store.record(Record::Tick { sample: Arc::new(sample(T0 + 1000, 50.0)), runs });
    assert!(store.flush(FLUSH), "committed");
    let every = HistoryQuery { step_s: Some(1), all: true, ..query(T0, T0 + 5000) };
    let h = store.history(&every).expect("history");
    let stored: std::collections::BTreeSet<String> = h.series.keys().cloned().collect();
    // Without `all`, the figures the dashboard charts: those schema version 8
    // added but the GPU's reasons left out.
    let charted = store.history(&HistoryQuery { all: false, ..every }).expect("history");
    let left_out: Vec<&String> = stored.iter().filter(|name| !charted.series.contains_key(*name)).collect();
    let v8 = schema::HOST_V8.iter().map(|m| m.series.to_owned());
    let v8_devices = schema::DEVICE_V8.iter().map(|m| shared::series::gpu_device(0, m.series));
    // And each core's detail (version 9's cores).
    let cores =
        (0..2).flat_map(|i| schema::CORE.iter().map(move |m| shared::series::core_detail(i, m.series)));
    let expected: std::collections::BTreeSet<String> = v8.chain(v8_devices).chain(cores).collect();
    assert_eq!(left_out.into_iter().cloned().collect::<std::collections::BTreeSet<_>>(), expected);
    for name in ["temperatures.coretemp Package id 0.temperature_c", "filesystems.vda1.used_percent"] {
        assert!(charted.series.contains_key(name), "{name} is charted");
    }

    let sampled = sample(T0 + 1000, 50.0);
    let sections = sampled.sections();
    let live = shared::PerfMetrics {
        run: shared::Run {
            status: shared::RunStatus::Running,
            process: Some(tree(50.0, 150).to_contract()),
            ..shared::Run::default()
        },
        cpu: sections.cpu,
        memory: sections.memory,
        gpu: sections.gpu,
        network: sections.network,
        disk: sections.disk,
        monitor: sections.monitor,
        cpu_detail: sections.depth.cpu_detail,
        pressure: sections.depth.pressure,
        memory_detail: sections.depth.memory_detail,
        paging: sections.depth.paging,
        disks: sections.depth.disks,
        filesystems: sections.depth.filesystems,
        interfaces: sections.depth.interfaces,
        sockets: sections.depth.sockets,
        perf_events: sections.depth.perf_events,
        ..shared::PerfMetrics::default()
    };
    let named: std::collections::BTreeSet<String> =
        shared::series::sample_values(&live).into_iter().map(|(name, _)| name).collect();
    for name in ["disks.vda.util_percent", "interfaces.eth0.rx_drops_per_s", "gpu.0.throttled", "perf.ipc"] {
        assert!(named.contains(name), "the test's sample has {name}");
    }
    // A live sample leaves each core's detail out (not charted).
    let stored: std::collections::BTreeSet<String> =
        stored.into_iter().filter(|name| !name.starts_with(shared::series::CORE_DETAIL_PREFIX)).collect();
    assert_eq!(stored, named, "the store's series and a live sample's names");
}

#[test]
fn runs_started_in_the_same_second_are_all_paged_and_compared() {
    // An agent's short commands: three runs within one second (run ids and
    // starts are to the second).
    let dir = Dir::new("same-second");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 10_000).clock()).expect("open");
    for (i, id) in ["1-a", "2-b", "3-c"].iter().enumerate() {
        let mut run = run_at(id, "p", T0);
        run.end(at(T0 + 100 * (i as i64 + 1)), RunOutcome::Exited);
        run.exit_code = Some(i as i32);
        store.record(Record::Run(run));
    }
    assert!(store.flush(FLUSH), "committed");
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.runs("p", 1, before.as_ref()).expect("a page");
        seen.extend(page.runs.iter().map(|r| r.run_id.clone()));
        match page.next_before {
            Some(next) => before = Some(query::Before::Run(next)),
            None => break,
        }
    }
    assert_eq!(seen, ["3-c", "2-b", "1-a"], "newest first, none skipped");
    let report = store.report("p", "2-b").expect("report");
    assert_eq!(report.previous.map(|p| p.run_id).as_deref(), Some("1-a"), "the one recorded before it");
    assert!(store.report("p", "1-a").expect("report").previous.is_none());
    let before_all = store.runs("p", 10, Some(&query::Before::Instant(T0))).expect("runs");
    assert!(before_all.runs.is_empty(), "none started before that instant");
    assert!(matches!(
        store.runs("p", 1, Some(&query::Before::Run("9-z".into()))),
        Err(QueryError::NotFound(..))
    ));
}

#[test]
fn a_writer_that_falls_behind_drops_the_oldest_samples_and_counts_them() {
    let dir = Dir::new("behind");
    let store = Store::open_with_clock(&dir.config(), Hand::at(T0 + 3_000_000).clock()).expect("open");
    tick(&store, T0, 1.0, &[]);
    assert!(store.flush(FLUSH), "the store is up");
    // Another connection holds the database, so the writer's next commit waits
    // while the sampler goes on handing over ticks: more than the queue holds.
    let blocker = rusqlite::Connection::open(dir.0.join(DB_FILE)).expect("a second connection");
    blocker.execute_batch("BEGIN EXCLUSIVE").expect("the database held");
    // One tick for the writer to take and stall on, then more than the queue holds.
    tick(&store, T0 + 1000, 2.0, &[]);
    std::thread::sleep(Duration::from_millis(300));
    let handed = 1501;
    for s in 2..=handed {
        tick(&store, T0 + s * 1000, 2.0, &[]);
    }
    blocker.execute_batch("COMMIT").expect("released");
    assert!(store.flush(FLUSH), "caught up");
    let health = store.health();
    assert_eq!(health.state, "ok", "falling behind is not a fault: {health:?}");
    let dropped = health.dropped_samples as i64;
    // The queue holds 1,200: of the 1,500 that came while the writer stalled,
    // about 300 (the oldest) could not wait.
    assert!(dropped >= 250, "at most the queue's worth waits: {dropped} dropped");
    let h = store
        .history(&HistoryQuery { step_s: Some(1), ..query(T0, T0 + (handed + 1) * 1000) })
        .expect("history");
    let kept = h.series["cpu.percent"].iter().filter(|v| v.is_some()).count() as i64;
    assert_eq!(kept + dropped, handed + 1, "every tick is either kept or counted as dropped");
    assert_eq!(h.series["cpu.percent"].last().copied().flatten(), Some(2.0), "the newest is kept");
}

/// Ticks at `every` ms from `T0` for `count` ticks, the depth at tick `i` from
/// `depth_at`, waiting for the writer (and its roll-ups) every 100 ticks with
/// the clock following.
fn feed(store: &Store, clock: &Hand, every: i64, count: i64, depth_at: impl Fn(i64) -> (f64, Depth)) {
    feed_every(store, clock, every, 0, count, depth_at);
}

/// [`feed`]'s ticks `from..from + count`, a second apart.
fn feed_from(store: &Store, clock: &Hand, from: i64, count: i64, depth_at: impl Fn(i64) -> (f64, Depth)) {
    feed_every(store, clock, 1000, from, count, depth_at);
}

fn feed_every(
    store: &Store,
    clock: &Hand,
    every: i64,
    from: i64,
    count: i64,
    depth_at: impl Fn(i64) -> (f64, Depth),
) {
    for i in from..from + count {
        let ms = T0 + i * every;
        let (x, depth) = depth_at(i);
        let mut s = sample(ms, x);
        s.depth = depth;
        store.record(Record::Tick { sample: Arc::new(s), runs: Vec::new() });
        if i % 100 == 99 {
            clock.set(ms);
            assert!(store.flush(FLUSH));
        }
    }
    clock.set(T0 + (from + count) * every);
    assert!(store.flush(FLUSH));
}

#[test]
fn slow_readings_stand_until_the_next_and_each_cores_row_is_its_windows_mean() {
    let dir = Dir::new("thinned");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    // 2 minutes at 1 s: the sensors and filesystems read every 5 s (at ticks
    // 0, 5, 10, …), a new temperature each time; core 0's iowait i % 5.
    feed(&store, &clock, 1000, 120, |i| {
        let mut d = depth(0.0, &[], &[]);
        d.cpu_detail.sensors.age_ms = Some(1000 * (i % 5) as u64);
        d.filesystems.age_ms = d.cpu_detail.sensors.age_ms;
        d.cpu_detail.sensors.temperatures.sensors[0].temperature_c = Some(40.0 + (i / 5) as f64);
        // The first reading has a figure the second lacks.
        d.filesystems.filesystems[0].used_gb = (i < 5).then_some(1.0);
        d.cpu_detail.per_core[0] =
            Some(shared::depth::cpu::CpuModes { iowait_percent: Some((i % 5) as f64), ..Default::default() });
        (0.0, d)
    });
    let conn = store.reader().expect("reader");
    let rows = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT count(*) FROM {table}_raw"), [], |r| r.get(0)).expect(table)
    };
    assert_eq!((rows("host"), rows("sensor"), rows("filesystem")), (120, 24, 24), "a reading once");
    assert_eq!(rows("core"), 2 * 24, "two cores, a row each 5 s");

    let every = HistoryQuery { step_s: Some(1), all: true, ..query(T0, T0 + 120_000) };
    let h = store.history(&every).expect("raw");
    let held: Vec<Option<f64>> = (0..120).map(|i| Some(40.0 + (i / 5) as f64)).collect();
    assert_eq!(
        h.series["temperatures.coretemp Package id 0.temperature_c"], held,
        "each tick has its reading"
    );
    assert!(h.series["filesystems.vda1.used_percent"].iter().all(Option::is_some));
    let used = &h.series["filesystems.vda1.used_gb"];
    assert_eq!(used[..5], [Some(1.0); 5]);
    assert_eq!(used[5..10], [None; 5], "a reading is held whole: what it lacks stays missing");
    let iowait = &h.series["cores.0.iowait_percent"];
    assert_eq!(iowait[0], Some(0.0), "the first tick's own row");
    for window in 1..24 {
        let at = window * 5;
        assert_eq!(iowait[at], Some(2.0), "the mean of 1, 2, 3, 4, 0 at {at}");
        assert!(iowait[at - 4..at].iter().all(Option::is_none), "a row each 5 s, nothing between: {at}");
    }
    assert_eq!(h.series["cores.0.frequency_mhz"][5], Some(2400.0), "a reading: the newest");
    // A range that starts between two readings starts with the one standing
    // then (read at 10 s), not a hole until the next.
    let mid =
        store.history(&HistoryQuery { step_s: Some(1), ..query(T0 + 12_000, T0 + 20_000) }).expect("raw");
    assert_eq!(
        mid.series["temperatures.coretemp Package id 0.temperature_c"],
        [42.0, 42.0, 42.0, 43.0, 43.0, 43.0, 43.0, 43.0].map(Some),
        "the reading of 10 s stands at 12, 13 and 14 s"
    );

    // A reading stands for two periods at most: a source that stops
    // answering leaves a hole, not a value made up.
    drop(conn);
    feed_from(&store, &clock, 120, 40, |i| {
        let mut d = depth(0.0, &[], &[]);
        d.cpu_detail.sensors.age_ms = Some(1000 * (i - 119) as u64);
        (0.0, d)
    });
    let late =
        store.history(&HistoryQuery { step_s: Some(1), ..query(T0 + 120_000, T0 + 160_000) }).expect("raw");
    let temperatures = &late.series["temperatures.coretemp Package id 0.temperature_c"];
    assert!(temperatures[..10].iter().all(Option::is_some), "held for 10 s: {temperatures:?}");
    assert!(temperatures[11..].iter().all(Option::is_none), "then a hole: {temperatures:?}");
    // Nor is a reading more than 10 s before a range held into it.
    let after =
        store.history(&HistoryQuery { step_s: Some(1), ..query(T0 + 131_000, T0 + 140_000) }).expect("raw");
    let temperatures = after.series.get("temperatures.coretemp Package id 0.temperature_c");
    assert!(temperatures.is_none_or(|t| t.iter().all(Option::is_none)), "{temperatures:?}");
    let standing =
        store.history(&HistoryQuery { step_s: Some(1), ..query(T0 + 125_000, T0 + 140_000) }).expect("raw");
    let temperatures = &standing.series["temperatures.coretemp Package id 0.temperature_c"];
    assert!(
        temperatures[..6].iter().all(Option::is_some),
        "read at 120 s, standing to 130 s: {temperatures:?}"
    );
    assert!(temperatures[6..].iter().all(Option::is_none), "{temperatures:?}");
}

#[test]
fn the_machine_in_depth_round_trips_through_raw_rows_and_every_tier() {
    let dir = Dir::new("depth");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    // Every 10 s for 2 h 20 min, x going 0..5 within each minute; GPU throttled
    // every other tick.
    feed(&store, &clock, 10_000, 840, |i| {
        let x = (i % 6) as f64;
        (x, depth(x, &["vda"], &["eth0"]))
    });
    assert_eq!(store.health().dropped_samples, 0);

    // Raw: each tick as sent.
    let h = store.history(&HistoryQuery { step_s: Some(10), ..query(T0, T0 + 60_000) }).expect("raw");
    assert_eq!(h.tier, "raw");
    let first = |name: &str| h.series[name][..6].to_vec();
    let x: Vec<Option<f64>> = (0..6).map(|i| Some(f64::from(i))).collect();
    assert_eq!(first("cpu.iowait_percent"), x);
    assert_eq!(first("cpu.procs_blocked"), x);
    assert_eq!(h.series["pressure.io.some_percent"][1], Some(0.25), "two decimals, as sent");
    assert_eq!(h.series["pressure.io.full_percent"][1], Some(0.0));
    assert_eq!(h.series["pressure.cpu.some_percent"][1], None, "not read: null");
    assert_eq!(h.series["memory.available_gb"][0], Some(6.125), "GB to three decimals, as sent");
    assert_eq!(h.series["paging.major_faults_per_s"][5], Some(50.0));
    assert_eq!(h.series["sockets.tcp_established"][0], Some(12.0));
    assert_eq!((h.series["perf.ipc"][0], h.series["perf.cycles_per_s"][0]), (Some(1.25), Some(3e9)));
    assert_eq!(h.series["perf.instructions_per_s"][0], None);
    assert_eq!(first("disks.vda.util_percent")[3], Some(30.0));
    assert_eq!(h.series["disks.vda.await_ms"][0], Some(0.25));
    assert_eq!(h.series["disks.vda.read_iops"][0], None);
    assert_eq!(first("interfaces.eth0.rx_drops_per_s"), x);
    assert_eq!(first("filesystems.vda1.used_percent"), x);
    assert_eq!(h.series["temperatures.coretemp Package id 0.temperature_c"][2], Some(42.0));
    assert!(!h.series.contains_key("cores.1.iowait_percent"), "not charted: asked for with every figure");
    let every = store.history(&HistoryQuery { step_s: Some(10), all: true, ..query(T0, T0 + 60_000) });
    let every = every.expect("raw, every figure");
    assert_eq!(every.series["cores.1.iowait_percent"][..6].to_vec(), x);
    assert_eq!(every.series["cores.0.frequency_mhz"][0], Some(2400.0));
    assert_eq!(every.series["cores.0.throttles"][0], None, "not read: null");
    let gpu = |field: &str| h.series[&format!("gpu.0.{field}")][0];
    assert_eq!(
        (gpu("sm_clock_mhz"), gpu("pcie_rx_bytes_per_s"), gpu("throttled")),
        (Some(1410.0), Some(1e6), Some(1.0))
    );
    assert_eq!((gpu("memory_clock_mhz"), gpu("pcie_tx_bytes_per_s")), (None, None));

    // Minutes, ten minutes and hours: min, mean and max of 0..5 each.
    for (step, tier) in [(60, "minute"), (600, "ten_minutes"), (3600, "hour")] {
        let h =
            store.history(&HistoryQuery { step_s: Some(step), ..query(T0, T0 + 3_600_000) }).expect("tier");
        assert_eq!(h.tier, tier);
        // Each figure is x times the scale, above the offset (40 °C for the sensor).
        for (name, scale, offset) in [
            ("cpu.iowait_percent", 1.0, 0.0),
            ("disks.vda.util_percent", 10.0, 0.0),
            ("interfaces.eth0.rx_drops_per_s", 1.0, 0.0),
            ("paging.major_faults_per_s", 10.0, 0.0),
            ("filesystems.vda1.used_percent", 1.0, 0.0),
            ("temperatures.coretemp Package id 0.temperature_c", 1.0, 40.0),
        ] {
            let point = (h.min[name][0], h.series[name][0], h.max[name][0]);
            let want = (Some(offset), Some(offset + 2.5 * scale), Some(offset + 5.0 * scale));
            assert_eq!(point, want, "{name} at {tier}");
        }
        assert_eq!(h.series["cpu.steal_percent"][0], Some(0.5), "{tier}");
        assert_eq!(h.series["gpu.0.throttled"][0], Some(1.0), "{tier}");
        assert_eq!(h.series["memory.available_gb"][0], Some(6.125), "{tier}");
        assert_eq!(h.series["perf.cycles_per_s"][0], Some(3e9), "{tier}");
        assert_eq!(h.series["cpu.guest_percent"][0], None, "{tier}: never read, never made up");
    }
    // The tables hold the roll-ups themselves, in tenths of a percent.
    let conn = store.reader().expect("reader");
    let (min, avg, max): (f64, f64, f64) = conn
        .query_row(
            "SELECT util_min, util_avg, util_max FROM disk_1h WHERE ts = ?1 AND name = 'vda'",
            [T0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the first hour of vda");
    assert_eq!((min, avg, max), (0.0, 250.0, 500.0));
}

#[test]
fn disks_and_interfaces_that_come_and_go_keep_series_of_their_own() {
    let dir = Dir::new("come-and-go");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    // vda throughout; vdb from the second minute; eth0 gone in the third.
    feed(&store, &clock, 1000, 240, |i| {
        let disks: &[&str] = if i >= 60 { &["vda", "vdb"] } else { &["vda"] };
        let interfaces: &[&str] = if i < 120 { &["eth0"] } else { &[] };
        (1.0, depth(1.0, disks, interfaces))
    });
    let h = store.history(&HistoryQuery { step_s: Some(1), ..query(T0, T0 + 180_000) }).expect("raw");
    let util = |disk: &str, s: usize| h.series[&format!("disks.{disk}.util_percent")][s];
    assert_eq!((util("vda", 0), util("vda", 179)), (Some(10.0), Some(10.0)));
    assert_eq!((util("vdb", 59), util("vdb", 60)), (None, Some(10.0)), "from when it appeared");
    let drops = |s: usize| h.series["interfaces.eth0.rx_drops_per_s"][s];
    assert_eq!((drops(119), drops(120)), (Some(1.0), None), "gone is null, not 0");
    // Rolled up: each minute of a device that was there.
    let h = store.history(&HistoryQuery { step_s: Some(60), ..query(T0, T0 + 180_000) }).expect("minutes");
    assert_eq!(h.tier, "minute");
    assert_eq!(h.series["disks.vdb.util_percent"], [None, Some(10.0), Some(10.0)]);
    assert_eq!(h.series["interfaces.eth0.rx_drops_per_s"], [Some(1.0), Some(1.0), None]);
    // A range where a device never was names none of its series.
    let h = store.history(&HistoryQuery { step_s: Some(1), ..query(T0, T0 + 30_000) }).expect("raw");
    assert!(!h.series.contains_key("disks.vdb.util_percent"));
}

#[test]
fn at_most_32_disks_a_tick_are_stored_and_64_interfaces_an_answer_the_longest_present() {
    let dir = Dir::new("bounds");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    let disks: Vec<String> = (0..40).map(|n| format!("sd{n:02}")).collect();
    let disk_names: Vec<&str> = disks.iter().map(String::as_str).collect();
    // eth0 throughout, and a container's interface for each second, replaced
    // the next (70 of them).
    let veths: Vec<String> = (0..70).map(|n| format!("veth{n:02}")).collect();
    feed(&store, &clock, 1000, 70, |i| {
        let interfaces = ["eth0", veths[i as usize].as_str()];
        (1.0, depth(1.0, &disk_names, &interfaces))
    });
    let h = store.history(&HistoryQuery { step_s: Some(1), ..query(T0, T0 + 70_000) }).expect("raw");
    let named = |prefix: &str| -> BTreeSet<String> {
        h.series
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .filter_map(|k| k.split_once('.').map(|(name, _)| name.to_owned()))
            .collect()
    };
    let disks_kept = named("disks.");
    assert_eq!(disks_kept.len(), 32, "the first 32 listed");
    assert!(disks_kept.contains("sd31") && !disks_kept.contains("sd32"));
    let interfaces_kept = named("interfaces.");
    assert_eq!(interfaces_kept.len(), query::MAX_NAMED_PER_ANSWER);
    assert!(interfaces_kept.contains("eth0"), "present throughout: kept");
    assert!(interfaces_kept.contains("veth62") && !interfaces_kept.contains("veth63"), "then by name");
    assert_eq!(h.series.keys().filter(|k| k.starts_with("interfaces.")).count(), 64 * 8);
}

#[test]
fn a_tier_keeps_a_mean_whole_where_a_whole_stored_unit_is_as_fine_as_its_series() {
    let dir = Dir::new("whole-means");
    let clock = Hand::at(T0);
    let store = Store::open_with_clock(&dir.config(), clock.clock()).expect("open");
    // Every 20 s for 3 minutes, x 0, 0, 1 in each: means of a third.
    feed(&store, &clock, 20_000, 9, |i| {
        let x = if i % 3 == 2 { 1.0 } else { 0.0 };
        (x, depth(x, &["vda"], &["eth0"]))
    });
    let h = store.history(&HistoryQuery { step_s: Some(60), ..query(T0, T0 + 120_000) }).expect("minutes");
    assert_eq!(h.tier, "minute");
    assert_eq!(h.series["cpu.iowait_percent"][..2], [Some(0.3), Some(0.3)], "the mean, to its decimal");
    assert_eq!(h.series["interfaces.eth0.rx_drops_per_s"][..2], [Some(0.3), Some(0.3)]);

    // In the file: iowait is kept in tenths of a per cent, so its mean is whole
    // (3, not 3.33…, which costs SQLite eight bytes); the machine's CPU % is
    // kept as sent, a fraction, so its mean keeps the fraction.
    let conn = rusqlite::Connection::open(dir.config().dir.join(super::DB_FILE)).expect("the file");
    let (iowait, cpu): (f64, f64) = conn
        .query_row("SELECT cpu_iowait_avg, cpu_avg FROM host_1m ORDER BY ts LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("a minute row");
    assert_eq!(iowait, 3.0);
    assert!((cpu - 1.0 / 3.0).abs() < 1e-9, "{cpu}");
}
