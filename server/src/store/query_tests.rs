//! Which tier answers which part of a history query, against a real store
//! whose clock the test moves: short retentions stand in for the 48 h of raw
//! rows and the 30 days of minutes, so hours of samples show what days would.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::*;
use crate::hub::{Record, Recorder};
use crate::sampling::HostSample;
use crate::store::tests::Dir;
use crate::store::{Clock, Retention, StoreConfig};

const FLUSH: Duration = Duration::from_secs(30);
const HOUR: i64 = 3_600_000;
/// A whole day, so every tier's rows start on the hour.
const T0: i64 = 1_790_000_000_000 - 1_790_000_000_000 % 86_400_000;
/// Time between samples.
const EVERY: i64 = 20_000;

/// A store whose raw rows are kept 2 h and minutes 6 h, its clock at [`T0`]
/// until the test moves it.
fn store_at_t0(dir: &Dir) -> (Store, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(T0));
    let clock: Clock = {
        let now = now.clone();
        Arc::new(move || now.load(Ordering::Relaxed))
    };
    let retention = Retention {
        raw: Duration::from_secs(2 * 3600),
        minute: Duration::from_secs(6 * 3600),
        hour: Duration::from_secs(365 * 86_400),
    };
    let store = Store::open_with_clock(&StoreConfig { dir: dir.0.clone(), retention }, clock).expect("open");
    (store, now)
}

/// A store from [`store_at_t0`], fed one sample every [`EVERY`] for `hours`,
/// its clock following the samples so each tier is rolled up and pruned as a
/// server's would be; the store and the end instant.
fn store_fed_for(dir: &Dir, hours: i64) -> (Store, i64) {
    let (store, now) = store_at_t0(dir);
    let end = T0 + hours * HOUR;
    for ms in (T0..end).step_by(EVERY as usize) {
        let mut sample = HostSample {
            taken_at: chrono::DateTime::from_timestamp_millis(ms).expect("instant"),
            ..HostSample::default()
        };
        sample.cpu.percent = Some(((ms - T0) / EVERY % 60) as f64);
        sample.depth.disks.devices = vec![shared::depth::disks::DiskDevice {
            name: "vda".into(),
            util_percent: sample.cpu.percent,
            ..Default::default()
        }];
        store.record(Record::Tick { sample: Arc::new(sample), runs: Vec::new() });
        // Samples come faster than any sampler's: wait for the writer (which
        // rolls up and prunes on a flush) every half hour of them.
        if (ms - T0) % (HOUR / 2) == 0 {
            now.store(ms, Ordering::Relaxed);
            assert!(store.flush(FLUSH), "the writer kept up at {} h", (ms - T0) / HOUR);
        }
    }
    now.store(end, Ordering::Relaxed);
    assert!(store.flush(FLUSH));
    (store, end)
}

/// The machine's history from `from_ms` to `to_ms` at `step_s` seconds.
fn machine(from_ms: i64, to_ms: i64, step_s: u64) -> HistoryQuery {
    HistoryQuery { from_ms, to_ms, step_s: Some(step_s), project: None, run_id: None, points: 0, all: false }
}

fn oldest(store: &Store, tier: Tier) -> i64 {
    let conn = store.reader().expect("reader");
    conn.query_row(&format!("SELECT min(ts) FROM host_{}", tier.suffix()), [], |r| r.get(0)).expect("rows")
}

#[test]
fn a_step_that_is_not_whole_minutes_reads_the_minutes_where_raw_rows_are_pruned() {
    let dir = Dir::new("pruned-raw");
    let (store, end) = store_fed_for(&dir, 8);
    let raw_from = oldest(&store, Tier::Raw);
    assert!(raw_from >= end - 2 * HOUR - 60_000, "raw rows were pruned after 2 h: {}", end - raw_from);
    assert!(oldest(&store, Tier::Minute) <= end - 5 * HOUR, "minutes still hold 5 h ago");

    // From 5 h to 1 h ago: raw rows hold only the last hour of it.
    let (from, to) = (end - 5 * HOUR, end - HOUR);
    for step in [90, 479] {
        let q = machine(from, to, step);
        let h = store.history(&q).expect("history");
        let cpu = &h.series["cpu.percent"];
        let empty = cpu.iter().filter(|v| v.is_none()).count();
        assert_eq!(empty, 0, "step {step}: {empty} of {} buckets empty", cpu.len());
        assert_eq!(h.tier, "minute", "step {step}: the minutes answer for most of the range");
        assert!(h.min.contains_key("cpu.percent"), "step {step}: minute rows carry their extremes");
    }

    // The parts never overlap: the minutes up to a whole minute where raw rows
    // are held, raw rows from there.
    let conn = store.reader().expect("reader");
    let parts = segments(&conn, tier_for(90_000), from, to).expect("segments");
    assert_eq!(raw_from % 60_000, 0, "raw rows are pruned by whole minutes");
    let held = raw_from;
    assert_eq!(parts, [(Tier::Minute, from, held), (Tier::Raw, held, to)]);
}

#[test]
fn a_range_that_starts_within_a_minute_or_an_hour_reads_the_row_that_holds_its_start() {
    let dir = Dir::new("unaligned");
    let (store, end) = store_fed_for(&dir, 8);
    // 5 h ago is in the minutes only; 7 h ago in the hours only.
    for (from, tier) in [(end - 5 * HOUR + 37_000, "minute"), (end - 7 * HOUR + 125_000, "hour")] {
        let q = machine(from, from + 50_000, 60);
        let h = store.history(&q).expect("history");
        assert_eq!(h.tier, tier);
        assert!(h.series["cpu.percent"][0].is_some(), "{tier}: {:?}", h.series["cpu.percent"]);
        assert!(h.series["disks.vda.util_percent"][0].is_some(), "{tier}: the disks' rows too");
    }
}

#[test]
fn where_the_minutes_are_pruned_too_the_hours_answer_and_the_newest_part_is_read_raw() {
    let dir = Dir::new("pruned-minutes");
    let (store, end) = store_fed_for(&dir, 8);
    let conn = store.reader().expect("reader");
    let (from, to) = (T0, end);
    let parts = segments(&conn, Tier::Raw, from, to).expect("segments");
    // Contiguous, in time order, from the coarsest to the finest.
    assert_eq!(parts.first().map(|p| (p.0, p.1)), Some((Tier::Hour, from)), "{parts:?}");
    assert_eq!(parts.last().map(|p| (p.0, p.2)), Some((Tier::Raw, to)), "{parts:?}");
    for pair in parts.windows(2) {
        assert_eq!(pair[0].2, pair[1].1, "no gap and no overlap: {parts:?}");
        assert!(pair[0].0.millis() >= pair[1].0.millis(), "coarser first: {parts:?}");
    }
    // The first hours, whose minutes are gone, read at one point an hour.
    let q = machine(T0, T0 + HOUR, 90);
    let h = store.history(&q).expect("history");
    assert_eq!(h.tier, "hour");
    assert_eq!(h.series["cpu.percent"][0], Some(29.5), "the hour's mean of 0..59");
}

#[test]
fn disks_are_rolled_up_and_pruned_with_the_machine_and_answered_from_every_tier() {
    let dir = Dir::new("pruned-disks");
    let (store, end) = store_fed_for(&dir, 8);
    let conn = store.reader().expect("reader");
    let oldest = |table: &str| -> i64 {
        conn.query_row(&format!("SELECT min(ts) FROM {table}"), [], |r| r.get(0)).expect("rows")
    };
    for tier in Tier::ALL {
        let t = tier.suffix();
        assert_eq!(oldest(&format!("disk_{t}")), oldest(&format!("host_{t}")), "{t}: pruned alike");
    }
    // Over the whole span: hours where only they are left, then minutes, then raw.
    let q = machine(T0, end, 3600);
    let h = store.history(&q).expect("history");
    assert_eq!(h.series["disks.vda.util_percent"], h.series["cpu.percent"], "the same figures, the same way");
    // The mean of 0..59 each hour (the last one merges rows of finer tiers).
    let util = &h.series["disks.vda.util_percent"];
    assert!(util[..7].iter().all(|v| *v == Some(29.5)), "{util:?}");
    assert_eq!(h.max["disks.vda.util_percent"][0], Some(59.0));
}

#[test]
fn a_new_stores_first_partial_minute_is_answered_second_by_second_once_rolled_up() {
    let dir = Dir::new("first-minute");
    let (store, now) = store_at_t0(&dir);
    // The store's first ticks late in a minute, then one in the next: the
    // first minute is closed and rolled up.
    let ticks = [41_000, 42_000, 43_000, 60_500];
    for at in ticks {
        let mut sample = HostSample {
            taken_at: chrono::DateTime::from_timestamp_millis(T0 + at).expect("instant"),
            ..HostSample::default()
        };
        sample.cpu.percent = Some((at / 1000) as f64);
        store.record(Record::Tick { sample: Arc::new(sample), runs: Vec::new() });
    }
    now.store(T0 + 61_000, Ordering::Relaxed);
    assert!(store.flush(FLUSH));
    assert_eq!(oldest(&store, Tier::Minute), T0, "the first minute is rolled up");

    let q = machine(T0 + 40_000, T0 + 62_000, 1);
    let h = store.history(&q).expect("history");
    let cpu = &h.series["cpu.percent"];
    let second = |s: usize| cpu[s - 40];
    assert_eq!((second(41), second(42), second(43)), (Some(41.0), Some(42.0), Some(43.0)), "{cpu:?}");
    assert_eq!(second(60), Some(60.0));

    // Raw rows' retention ends within that minute: the minute is kept whole
    // until the cut passes its end, so it is still answered from its rows.
    now.store(T0 + 2 * HOUR + 42_500, Ordering::Relaxed);
    assert!(store.flush(FLUSH));
    assert_eq!(oldest(&store, Tier::Raw), T0 + 41_000, "pruned by whole minutes");
    let h = store.history(&q).expect("history");
    assert_eq!(h.series["cpu.percent"][41 - 40], Some(41.0));
}
