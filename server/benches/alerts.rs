//! The alerts' cost per tick: the rules over one real sample of this machine
//! with one live run, with the default rules alone and with three rules of the
//! user's own beside them (a machine series, a disk's, a run's), and the hub's
//! hand-off of a tick to the alerts thread (what the sampler's tick pays).
//! `cargo bench -p server --bench alerts`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::Criterion;
use server::alerts::{AlertConfig, Alerting, Engine};
use server::sampling::{HostSampler, TreeReading};
use server::{Record, RunSummary};

const OWN_RULES: &str = r#"
[[alerts.rule]]
name = "busy"
series = "cpu.percent"
above = 95
for = "5m"

[[alerts.rule]]
name = "pressure"
series = "pressure.io.some_percent"
above = 50
clear = 20

[[alerts.rule]]
name = "big-run"
series = "run.rss_mb"
above = 20000
"#;

fn main() {
    let mut sampler = HostSampler::new();
    sampler.sample(&[]);
    std::thread::sleep(Duration::from_millis(500));
    let sample = Arc::new(sampler.sample(&[]));
    let run = RunSummary::started("1-x".into(), "bench".into(), Some("job".into()), 1, Utc::now());
    let tree = TreeReading {
        cpu_percent: Some(40.0),
        rss_bytes: 1 << 30,
        process_count: 9,
        ..TreeReading::default()
    };
    let record = Record::Tick { sample, runs: vec![(run, tree)] };
    let mut c = Criterion::default().configure_from_args().measurement_time(Duration::from_secs(3));
    for (name, text) in [("default rules", ""), ("default rules and three of the user's", OWN_RULES)] {
        let config = Arc::new(AlertConfig::parse(Path::new("bench.toml"), text).expect("config"));
        let mut engine = Engine::new(config, 1);
        c.bench_function(&format!("alerts: one tick, {name}"), |b| {
            b.iter(|| std::hint::black_box(engine.observe(&record, Utc::now())))
        });
    }
    let alerting = Alerting::start(AlertConfig::default(), None).expect("the alerts thread");
    let recorder = alerting.recorder();
    c.bench_function("alerts: the hub's hand-off of a tick", |b| b.iter(|| recorder.record(record.clone())));
    alerting.shutdown(Duration::from_secs(1));
    c.final_summary();
}
