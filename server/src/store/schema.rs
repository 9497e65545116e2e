//! The store's tables, as one list of metrics per kind of row, from which the
//! schema, the inserts, the roll-ups and the queries are all made, and the
//! migrations that build the schema (rusqlite_migration: `user_version`).
//!
//! Every kind of row (the machine, each GPU device, each run's tree) lives in
//! three tiers: `raw` (every tick), `1m` and `1h` (per minute and per hour:
//! `min`, `avg`, `max` of each metric). Times are unix milliseconds; sizes bytes.

use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};
use shared::series::{self, device, run};

use crate::sampling::{DeviceReading, HostSample, TreeReading};

/// One stored figure: its column, the series name queries answer with, and how
/// stored values become the series' unit.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The column (and, with `_min`/`_avg`/`_max`, the tiers' columns).
    pub column: &'static str,
    /// The series name (`memory.used_gb`); per device or run, the part after the
    /// prefix (`percent` of `gpu.0.percent`).
    pub series: &'static str,
    /// Stored values are divided by this to give the series' unit (bytes → GiB).
    pub divisor: f64,
    /// Decimals the series is sent with.
    pub decimals: i32,
}

const GIB: f64 = crate::units::BYTES_PER_GB;
const MIB: f64 = crate::units::BYTES_PER_MB;

const fn metric(column: &'static str, series: &'static str, divisor: f64, decimals: i32) -> Metric {
    Metric { column, series, divisor, decimals }
}

/// The machine's figures, in the order of [`host_values`].
pub const HOST: &[Metric] = &[
    metric("cpu", series::CPU_PERCENT, 1.0, 1),
    metric("mem_used", series::MEMORY_USED_GB, GIB, 2),
    metric("mem_total", series::MEMORY_TOTAL_GB, GIB, 2),
    metric("swap_used", series::SWAP_USED_GB, GIB, 2),
    metric("swap_total", series::SWAP_TOTAL_GB, GIB, 2),
    metric("net_rx", series::NETWORK_RX, 1.0, 0),
    metric("net_tx", series::NETWORK_TX, 1.0, 0),
    metric("disk_read", series::DISK_READ, 1.0, 0),
    metric("disk_write", series::DISK_WRITE, 1.0, 0),
    metric("disk_used", series::DISK_USED_GB, GIB, 2),
    metric("disk_total", series::DISK_TOTAL_GB, GIB, 2),
    metric("load1", series::LOAD_ONE, 1.0, 2),
    // Three decimals, as it is sent: a share of the whole machine is small.
    metric("monitor_cpu", series::MONITOR_CPU_PERCENT, 1.0, 3),
    metric("monitor_rss", series::MONITOR_RSS_MB, MIB, 1),
    metric("gpu", series::GPU_PERCENT, 1.0, 1),
    metric("gpu_mem_used", series::GPU_VRAM_USED_GB, GIB, 2),
    metric("gpu_mem_total", series::GPU_VRAM_TOTAL_GB, GIB, 2),
];

/// Each GPU device's figures (series `gpu.{index}.…`), in the order of
/// [`device_values`].
pub const DEVICE: &[Metric] = &[
    metric("percent", device::PERCENT, 1.0, 1),
    metric("mem_used", device::VRAM_USED_GB, GIB, 2),
    metric("mem_total", device::VRAM_TOTAL_GB, GIB, 2),
    metric("temp", device::TEMPERATURE_C, 1.0, 0),
    metric("power", device::POWER_W, 1.0, 1),
];

/// A run's tree (series `run.…`), in the order of [`tree_values`].
pub const RUN: &[Metric] = &[
    metric("cpu", run::CPU_PERCENT, 1.0, 1),
    metric("rss", run::RSS_MB, MIB, 1),
    metric("gpu_mem", run::GPU_MEMORY_GB, GIB, 2),
    metric("procs", run::PROCESS_COUNT, 1.0, 0),
];

/// The machine's figures of `s`, in [`HOST`]'s order.
pub fn host_values(s: &HostSample) -> Vec<Option<f64>> {
    let m = s.memory.as_ref().filter(|m| m.total_bytes > 0);
    let n = s.network.as_ref();
    let answering = || s.gpu.devices.iter().filter(|d| d.lost.is_none());
    let gpu_mean = {
        let utilisation: Vec<f64> = answering().filter_map(|d| d.percent).map(f64::from).collect();
        (!utilisation.is_empty()).then(|| utilisation.iter().sum::<f64>() / utilisation.len() as f64)
    };
    let gpu_sum = |f: fn(&DeviceReading) -> Option<u64>| {
        let values: Vec<u64> = answering().filter_map(f).collect();
        (!values.is_empty()).then(|| values.iter().sum::<u64>() as f64)
    };
    let bytes = |v: u64| Some(v as f64);
    vec![
        s.cpu.percent,
        m.and_then(|m| bytes(m.used_bytes)),
        m.and_then(|m| bytes(m.total_bytes)),
        m.and_then(|m| bytes(m.swap_used_bytes)),
        m.and_then(|m| bytes(m.swap_total_bytes)),
        n.map(|n| n.rx_bytes_per_s),
        n.map(|n| n.tx_bytes_per_s),
        s.disk.read_bytes_per_s,
        s.disk.write_bytes_per_s,
        s.disk.used_bytes.map(|b| b as f64),
        s.disk.total_bytes.map(|b| b as f64),
        s.cpu.load.map(|[one, _, _]| one),
        s.monitor.cpu_percent,
        s.monitor.rss_bytes.map(|b| b as f64),
        gpu_mean,
        gpu_sum(|d| d.memory_used_bytes),
        gpu_sum(|d| d.memory_total_bytes),
    ]
}

/// One device's figures, in [`DEVICE`]'s order; `None` for a lost device.
pub fn device_values(d: &DeviceReading) -> Option<Vec<Option<f64>>> {
    d.lost.is_none().then(|| {
        vec![
            d.percent.map(f64::from),
            d.memory_used_bytes.map(|b| b as f64),
            d.memory_total_bytes.map(|b| b as f64),
            d.temperature_c.map(f64::from),
            d.power_mw.map(|mw| f64::from(mw) / 1000.0),
        ]
    })
}

/// A tree's figures, in [`RUN`]'s order.
pub fn tree_values(t: &TreeReading) -> Vec<Option<f64>> {
    vec![
        Some(t.cpu_percent),
        Some(t.rss_bytes as f64),
        t.gpu_memory_bytes.map(|b| b as f64),
        Some(f64::from(t.process_count)),
    ]
}

/// Each core's use, whole percents, one byte per core: a heat strip needs no more.
pub fn cores_blob(per_core: &[f64]) -> Vec<u8> {
    per_core.iter().map(|c| c.clamp(0.0, 100.0).round() as u8).collect()
}

/// The tiers, finest first, with the table suffix and the time a row stands
/// for. Ten-minute rows sit between minutes and hours so a month's chart reads
/// 4,320 rows rather than 43,200; they are kept as long as minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Every tick.
    Raw,
    /// One row per minute.
    Minute,
    /// One row per ten minutes.
    TenMinutes,
    /// One row per hour.
    Hour,
}

impl Tier {
    /// Finest first.
    pub const ALL: [Tier; 4] = [Tier::Raw, Tier::Minute, Tier::TenMinutes, Tier::Hour];

    /// The tables' suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::TenMinutes => "10m",
            Tier::Hour => "1h",
        }
    }

    /// What the API calls it.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "minute",
            Tier::TenMinutes => "ten_minutes",
            Tier::Hour => "hour",
        }
    }

    /// Milliseconds a row stands for (a raw row: one tick, at most a second).
    pub fn millis(self) -> i64 {
        match self {
            Tier::Raw => 1_000,
            Tier::Minute => 60_000,
            Tier::TenMinutes => 600_000,
            Tier::Hour => 3_600_000,
        }
    }

    /// The tier this one is rolled up from.
    pub fn finer(self) -> Option<Tier> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(Tier::Raw),
            Tier::TenMinutes => Some(Tier::Minute),
            Tier::Hour => Some(Tier::TenMinutes),
        }
    }

    /// The tier this one is rolled up into.
    pub fn coarser(self) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.finer() == Some(self))
    }
}

/// Columns of `metrics` in `tier`: `cpu`, or `cpu_min, cpu_avg, cpu_max`.
pub fn columns(metrics: &[Metric], tier: Tier) -> Vec<String> {
    metrics
        .iter()
        .flat_map(|m| match tier {
            Tier::Raw => vec![m.column.to_owned()],
            _ => ["min", "avg", "max"].iter().map(|a| format!("{}_{a}", m.column)).collect(),
        })
        .collect()
}

/// `min, avg, max` of each metric over rows of `tier` (a raw column, or the
/// tier's own `_min`/`_avg`/`_max`), for roll-ups and queries alike.
pub fn aggregates(metrics: &[Metric], tier: Tier) -> String {
    metrics
        .iter()
        .map(|m| {
            let c = m.column;
            match tier {
                Tier::Raw => format!("min({c}), avg({c}), max({c})"),
                _ => format!("min({c}_min), avg({c}_avg), max({c}_max)"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_list(metrics: &[Metric], tier: Tier) -> String {
    columns(metrics, tier).iter().map(|c| format!("{c} REAL")).collect::<Vec<_>>().join(", ")
}

/// The SQL of schema version 1.
fn version_1() -> String {
    let mut sql = String::from(
        "CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            project TEXT NOT NULL,
            label TEXT,
            pid INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            status TEXT NOT NULL,
            exit_code INTEGER,
            signal INTEGER,
            cpu_seconds REAL NOT NULL DEFAULT 0,
            peak_cpu_percent REAL,
            peak_rss_bytes INTEGER,
            peak_gpu_bytes INTEGER,
            peak_processes INTEGER NOT NULL DEFAULT 0,
            tokens INTEGER NOT NULL DEFAULT 0,
            last_seen INTEGER
        );
        CREATE INDEX runs_by_project ON runs (project, started_at DESC);
        CREATE TABLE gpu_names (device INTEGER PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);\n",
    );
    for tier in Tier::ALL {
        let t = tier.suffix();
        sql.push_str(&format!(
            "CREATE TABLE host_{t} (ts INTEGER PRIMARY KEY, {}, cores BLOB);\n",
            column_list(HOST, tier)
        ));
        sql.push_str(&format!(
            "CREATE TABLE gpu_{t} (ts INTEGER NOT NULL, device INTEGER NOT NULL, {}, PRIMARY KEY (ts, device)) WITHOUT ROWID;\n",
            column_list(DEVICE, tier)
        ));
        sql.push_str(&format!(
            "CREATE TABLE run_{t} (run_id TEXT NOT NULL, ts INTEGER NOT NULL, {}, PRIMARY KEY (run_id, ts)) WITHOUT ROWID;
             CREATE INDEX run_{t}_by_time ON run_{t} (ts);\n",
            column_list(RUN, tier)
        ));
    }
    sql
}

/// Version 2: a run's CPU counter base, so a server that restarts during a run
/// counts on from the same point (existing runs keep every figure; theirs is
/// unknown, `NULL`).
const VERSION_2: &str = "ALTER TABLE runs ADD COLUMN cpu_base REAL;";

/// Brings `conn`'s schema to the latest version.
pub fn migrate(conn: &mut Connection) -> Result<(), rusqlite_migration::Error> {
    // Built once per process; the migrations borrow their SQL for 'static.
    static V1: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let v1 = V1.get_or_init(version_1);
    Migrations::new(vec![M::up(v1), M::up(VERSION_2)]).to_latest(conn)
}

/// The schema version `conn` is at.
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// `cores_avg(blob)`: the per-core mean of a group of per-core blobs, for the
/// roll-ups (SQLite's own aggregates cannot look inside a blob).
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::{Aggregate, Context, FunctionFlags};

    struct CoresAvg;
    impl Aggregate<(Vec<u64>, u64), Option<Vec<u8>>> for CoresAvg {
        fn init(&self, _: &mut Context<'_>) -> rusqlite::Result<(Vec<u64>, u64)> {
            Ok((Vec::new(), 0))
        }
        fn step(&self, ctx: &mut Context<'_>, (sums, n): &mut (Vec<u64>, u64)) -> rusqlite::Result<()> {
            let Some(blob) = ctx.get::<Option<Vec<u8>>>(0)? else { return Ok(()) };
            if sums.len() < blob.len() {
                sums.resize(blob.len(), 0);
            }
            for (sum, core) in sums.iter_mut().zip(&blob) {
                *sum += u64::from(*core);
            }
            *n += 1;
            Ok(())
        }
        fn finalize(
            &self,
            _: &mut Context<'_>,
            acc: Option<(Vec<u64>, u64)>,
        ) -> rusqlite::Result<Option<Vec<u8>>> {
            Ok(acc
                .filter(|(_, n)| *n > 0)
                .map(|(sums, n)| sums.iter().map(|s| ((s + n / 2) / n) as u8).collect()))
        }
    }
    conn.create_aggregate_function("cores_avg", 1, FunctionFlags::SQLITE_DETERMINISTIC, CoresAvg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_migrates_from_empty_and_again_is_a_no_op() {
        let mut conn = Connection::open_in_memory().expect("db");
        migrate(&mut conn).expect("migrates");
        assert_eq!(version(&conn).expect("version"), 2);
        migrate(&mut conn).expect("a second start changes nothing");
        for table in ["runs", "host_raw", "host_1m", "host_1h", "gpu_raw", "gpu_1h", "run_raw", "run_1m"] {
            let n: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1", [table], |r| r.get(0))
                .expect("query");
            assert_eq!(n, 1, "{table}");
        }
        // The tiers keep min, mean and max of each figure.
        conn.execute("INSERT INTO host_1m (ts, cpu_min, cpu_avg, cpu_max) VALUES (0, 1, 2, 3)", [])
            .expect("insert");
    }

    #[test]
    fn a_version_1_store_keeps_its_runs_through_the_migration() {
        let mut conn = Connection::open_in_memory().expect("db");
        let v1 = version_1();
        Migrations::new(vec![M::up(&v1)]).to_latest(&mut conn).expect("version 1");
        conn.execute(
            "INSERT INTO runs (run_id, project, pid, started_at, status, cpu_seconds, exit_code)
             VALUES ('7-x', 'p', 7, 1000, 'exited', 12.5, 3)",
            [],
        )
        .expect("a version 1 run");
        migrate(&mut conn).expect("to the latest");
        let (cpu, code, base): (f64, i64, Option<f64>) = conn
            .query_row("SELECT cpu_seconds, exit_code, cpu_base FROM runs WHERE run_id = '7-x'", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .expect("the run is there");
        assert_eq!((cpu, code, base), (12.5, 3, None), "every figure kept; its base unknown");
    }

    #[test]
    fn the_mean_of_per_core_blobs_is_taken_core_by_core() {
        let conn = Connection::open_in_memory().expect("db");
        register_functions(&conn).expect("registered");
        conn.execute_batch("CREATE TABLE t (c BLOB); INSERT INTO t VALUES (x'0A64'), (x'1400'), (NULL);")
            .expect("rows");
        let avg: Vec<u8> = conn.query_row("SELECT cores_avg(c) FROM t", [], |r| r.get(0)).expect("avg");
        assert_eq!(avg, [15, 50], "(10+20)/2, (100+0)/2; NULL rows skipped");
    }

    #[test]
    fn values_follow_their_metric_lists() {
        let sample = HostSample::default();
        assert_eq!(host_values(&sample).len(), HOST.len());
        assert_eq!(tree_values(&TreeReading::default()).len(), RUN.len());
        assert_eq!(device_values(&DeviceReading::default()).map(|v| v.len()), Some(DEVICE.len()));
        assert_eq!(cores_blob(&[12.4, 99.6, 140.0]), [12, 100, 100]);
    }
}
