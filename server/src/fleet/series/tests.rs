use std::collections::BTreeMap;
use std::time::Duration;

use shared::why::{Share, ShareKind, Verdict};

use super::*;
use crate::hub::Hub;
use crate::sampling::{
    CpuReading, DeviceReading, DiskReading, GpuReading, HostSample, MemoryReading, MonitorReading,
    NetworkReading,
};
use crate::store::RawRun;

/// The machine in depth with a figure in every place the store keeps one.
fn depth() -> crate::sampling::Depth {
    use shared::depth::pressure::ResourcePressure;
    let mut depth = crate::hub::perfwatch::tests::depth();
    let c = &mut depth.cpu_detail;
    (c.context_switches_per_s, c.procs_running, c.procs_blocked) = (Some(2400.5), Some(3), Some(1));
    c.forks_per_s = Some(12.5);
    c.sensors.frequency_mhz = vec![Some(2600.1), Some(800.0)];
    (c.sensors.throttle.core, c.sensors.throttle.package) = (vec![Some(7), None], vec![Some(12), Some(12)]);
    let stalled = ResourcePressure {
        some_stall_percent: Some(12.25),
        full_stall_percent: Some(3.5),
        ..ResourcePressure::default()
    };
    depth.pressure.available = true;
    (depth.pressure.cpu, depth.pressure.io, depth.pressure.memory) =
        (Some(stalled), Some(stalled), Some(stalled));
    let m = &mut depth.memory_detail;
    (m.available_gb, m.dirty_gb, m.slab_gb) = (Some(5.125), Some(0.004), Some(0.375));
    (m.writeback_gb, m.slab_reclaimable_gb) = (Some(0.001), Some(0.25));
    depth.paging.oom_kills = Some(3);
    depth.sockets.tcp_retransmits_per_s = Some(0.4);
    depth.perf_events.ipc = Some(1.234);
    depth.interfaces.interfaces[0].tx_drops_per_s = Some(0.0);
    depth
}

/// A sample with a figure in every place the store keeps one.
fn sample() -> HostSample {
    HostSample {
        cpu: CpuReading { percent: Some(37.5), per_core: vec![40.0, 35.2], load: Some([0.52, 0.4, 0.3]) },
        memory: Some(MemoryReading {
            total_bytes: 8 << 30,
            used_bytes: 3_221_225_472 + 12_345,
            swap_total_bytes: 1 << 30,
            swap_used_bytes: 1 << 20,
        }),
        network: Some(NetworkReading {
            rx_bytes_per_s: 1000.0,
            tx_bytes_per_s: 512.5,
            rx_total_bytes: 1,
            tx_total_bytes: 2,
        }),
        disk: DiskReading {
            read_bytes_per_s: Some(4096.0),
            write_bytes_per_s: Some(8192.0),
            used_bytes: Some(10 << 30),
            total_bytes: Some(20 << 30),
        },
        monitor: MonitorReading { cpu_percent: Some(0.05), rss_bytes: Some(10 << 20) },
        gpu: GpuReading {
            devices: vec![DeviceReading {
                index: 0,
                name: "NVIDIA H100".into(),
                percent: Some(90),
                memory_used_bytes: Some(20 << 30),
                memory_total_bytes: Some(80 << 30),
                temperature_c: Some(61),
                power_mw: Some(250_500),
                sm_clock_mhz: Some(1410),
                memory_clock_mhz: Some(1593),
                clock_event_reasons: Some(0x44),
                sm_clock_max_mhz: Some(1980),
                memory_clock_max_mhz: Some(2619),
                pstate: Some(2),
                encoder_percent: Some(12),
                decoder_percent: Some(34),
                fan_percent: Some(56),
                memory_controller_percent: Some(78),
                energy_power_w: Some(250.5),
                pcie_rx_bytes_per_s: Some(2_097_152),
                pcie_tx_bytes_per_s: Some(1_048_576),
                ..DeviceReading::default()
            }],
            ..GpuReading::default()
        },
        depth: depth(),
        ..HostSample::default()
    }
}

/// `sample`'s tick as the store returns it.
fn stored(sample: &HostSample, ts: i64) -> RawTick {
    let named = |kind: &schema::Named| {
        (kind.rows)(&sample.depth).into_iter().map(|(n, v)| (n.into_owned(), v)).collect()
    };
    RawTick {
        ts,
        host: schema::host_values(sample),
        cores: schema::cores_blob(&sample.cpu.per_core),
        devices: sample
            .gpu
            .devices
            .iter()
            .filter_map(|d| Some((d.index, schema::device_values(d)?)))
            .collect(),
        named: schema::NAMED.each_ref().map(named),
        runs: Vec::new(),
    }
}

/// A series' name and its labels but `host` and the user's.
type Key = (String, BTreeMap<String, String>);

fn pushed(request: &WriteRequest, skip: &[&str]) -> BTreeMap<Key, Vec<(i64, f64)>> {
    request
        .timeseries
        .iter()
        .map(|ts| {
            let name = ts.labels.iter().find(|l| l.name == "__name__").expect("a name").value.clone();
            let labels = ts
                .labels
                .iter()
                .filter(|l| l.name != "__name__" && !skip.contains(&l.name.as_str()))
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            ((name, labels), ts.samples.iter().map(|s| (s.timestamp, s.value)).collect())
        })
        .collect()
}

/// `/metrics`' sample lines as keys and values.
fn scraped(text: &str) -> BTreeMap<Key, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match key.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (key, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once("=\"").expect("a label");
                    (k.to_owned(), v.trim_end_matches('"').to_owned())
                })
                .collect();
            ((name.to_owned(), labels), value.parse().expect("a number"))
        })
        .collect()
}

#[test]
fn every_label_a_list_sets_is_reserved() {
    for push in HOST.iter().chain(DEVICE).chain(DISK).chain(INTERFACE).chain(RUN) {
        if let Some((name, _)) = push.label {
            assert!(
                RESERVED_LABELS.contains(&name),
                "{name} of {}: a user's label could repeat it",
                push.name
            );
        }
    }
    for name in ["gpu", "name", "device", "interface", "core", "cpu", "project", "run_id"] {
        assert!(RESERVED_LABELS.contains(&name), "{name}");
    }
}

#[test]
fn every_stored_column_a_list_names_exists() {
    let r = resolved();
    assert_eq!(r.host.len(), HOST.len());
    assert_eq!(r.device.len(), DEVICE.len());
    let pushed: Vec<(&str, usize)> =
        r.named.iter().flatten().map(|(label, list)| (*label, list.len())).collect();
    assert_eq!(pushed, [("device", DISK.len()), ("interface", INTERFACE.len()), ("cpu", CORE.len())]);
    assert_eq!(r.run.len(), RUN.len());
}

#[test]
fn every_pushed_series_is_the_same_series_on_metrics_with_the_same_value() {
    let sample = sample();
    let tick = stored(&sample, 1_700_000_000_000);
    let batch = RawBatch { ticks: vec![tick.clone()], gpu_names: [(0, "NVIDIA H100".to_owned())].into() };
    let labels = BaseLabels::new("box", &[("team".into(), "ml".into())]);
    let mut built = Batch::new(&labels);
    built.tick(&batch, &tick, &mut Outcomes::default());
    let request = built.into_request();
    let pushed = pushed(&request, &["host", "team"]);

    let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(3), Duration::from_secs(60));
    hub.publish(sample);
    let scraped = scraped(&crate::web::prometheus::render(&hub, &[]).expect("renders"));

    // Every family the lists name is there (the sample has a figure in each).
    let names: std::collections::BTreeSet<&str> = pushed.keys().map(|(name, _)| name.as_str()).collect();
    let missing: Vec<&str> = HOST
        .iter()
        .chain(DEVICE)
        .chain(DISK)
        .chain(INTERFACE)
        .chain(CORE)
        .map(|push| push.name)
        .filter(|name| !names.contains(format!("{PREFIX}{name}").as_str()))
        .collect();
    assert!(missing.is_empty(), "not pushed: {missing:?}");
    for ((name, labels), samples) in &pushed {
        assert_eq!(samples, &[(tick.ts, samples[0].1)], "{name}: one sample, at the tick's time");
        let Some(&value) = scraped.get(&(name.clone(), labels.clone())) else {
            panic!("{name}{labels:?} is pushed but /metrics has no such series");
        };
        let pushed = samples[0].1;
        // Per-core use is kept in whole percents (the heat strip's bytes).
        let within = if name == "perfmon_cpu_core_usage_percent" { 0.5 } else { 1e-9 * value.abs().max(1.0) };
        assert!((pushed - value).abs() <= within, "{name}{labels:?}: pushed {pushed}, /metrics {value}");
    }
    // Every series carries the host and the user's labels, sorted by name.
    for series in &request.timeseries {
        let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert!(series.labels.contains(&Label { name: "host".into(), value: "box".into() }));
        assert!(series.labels.contains(&Label { name: "team".into(), value: "ml".into() }));
    }
}

fn finished(
    project: &str,
    run_id: &str,
    ended_at: i64,
    exit_code: Option<i32>,
    signal: Option<i32>,
) -> FinishedRun {
    FinishedRun {
        project: project.into(),
        run_id: run_id.into(),
        started_at: ended_at - 90_000,
        ended_at,
        exit_code,
        signal,
        verdict: None,
    }
}

fn value(request: &WriteRequest, name: &str, labels: &[(&str, &str)], ts: i64) -> Option<f64> {
    let want: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    pushed(request, &["host"])
        .get(&(format!("perfmon_{name}"), want))
        .and_then(|samples| samples.iter().find(|(t, _)| *t == ts).map(|(_, v)| *v))
}

#[test]
fn runs_are_per_project_live_while_their_rows_are_there_and_their_last_outcome_from_its_end_on() {
    let labels = BaseLabels::new("box", &[]);
    let run = |run_id: &str, project: &str, cpu: f64| RawRun {
        run_id: run_id.into(),
        project: project.into(),
        values: vec![Some(cpu), Some(1024.0 * 1024.0), None, Some(3.0)],
    };
    let mut first = stored(&HostSample::default(), 1_000);
    first.runs = vec![run("a1", "alpha", 50.0), run("a2", "alpha", 25.0)];
    let second = stored(&HostSample::default(), 2_000);
    let batch = RawBatch { ticks: vec![first.clone(), second.clone()], gpu_names: HashMap::new() };

    let mut outcomes = Outcomes::default();
    let mut judged = finished("alpha", "a0", 1_500, None, Some(9));
    judged.verdict = Some(Verdict {
        judged: true,
        shares: vec![Share { kind: ShareKind::Io, percent: 60.0, evidence: String::new() }],
        ..Verdict::default()
    });
    outcomes.add(vec![finished("beta", "b1", 500, Some(0), None), judged.clone()]);
    // Taken twice (the store is asked again with some slack): counted once.
    outcomes.add(vec![judged]);
    let mut built = Batch::new(&labels);
    for tick in &batch.ticks {
        outcomes.advance_to(tick.ts);
        built.tick(&batch, tick, &mut outcomes);
    }
    let request = built.into_request();

    let alpha = [("project", "alpha")];
    assert_eq!(value(&request, "run_live", &alpha, 1_000), Some(1.0));
    assert_eq!(value(&request, "run_cpu_percent", &alpha, 1_000), Some(75.0), "summed over its live runs");
    assert_eq!(value(&request, "run_resident_bytes", &alpha, 1_000), Some(2.0 * 1024.0 * 1024.0));
    assert_eq!(value(&request, "run_gpu_memory_bytes", &alpha, 1_000), None, "unknown, not 0");
    assert_eq!(value(&request, "run_info", &[("project", "alpha"), ("run_id", "a1")], 1_000), Some(1.0));
    // Ended: the series is marked stale at the next tick, not left to linger.
    let stale = |v: Option<f64>| v.is_some_and(|v| v.to_bits() == STALE_NAN);
    assert!(stale(value(&request, "run_info", &[("project", "alpha"), ("run_id", "a1")], 2_000)));
    assert!(stale(value(&request, "run_cpu_percent", &alpha, 2_000)));
    // A figure never sent (no GPU memory) gets no marker either.
    assert_eq!(value(&request, "run_gpu_memory_bytes", &alpha, 2_000), None);
    assert_eq!(value(&request, "run_live", &alpha, 2_000), Some(0.0), "a known project with no live run");
    // alpha's last run ended at 1.5 s: absent before, there after (killed by SIGKILL: 137).
    assert_eq!(value(&request, "run_last_exit_code", &alpha, 1_000), None);
    assert_eq!(value(&request, "run_last_exit_code", &alpha, 2_000), Some(137.0));
    assert_eq!(value(&request, "run_last_duration_seconds", &alpha, 2_000), Some(90.0));
    assert_eq!(value(&request, "run_last_end_timestamp_seconds", &alpha, 2_000), Some(1.5));
    let io = [("kind", "io"), ("project", "alpha")];
    assert_eq!(value(&request, "run_last_verdict_share_percent", &io, 2_000), Some(60.0));
    let beta = [("project", "beta")];
    assert_eq!(value(&request, "run_last_exit_code", &beta, 1_000), Some(0.0));
    assert_eq!(value(&request, "run_live", &beta, 1_000), Some(0.0));
    // Samples of a series are oldest first, one per tick.
    let live = pushed(&request, &["host"]);
    let samples =
        &live[&("perfmon_run_live".to_owned(), [("project".to_owned(), "alpha".to_owned())].into())];
    assert_eq!(samples, &[(1_000, 1.0), (2_000, 0.0)]);
}

#[test]
fn the_exported_projects_are_bounded_to_those_whose_runs_ended_last() {
    let mut outcomes = Outcomes::default();
    outcomes.add(
        (0..MAX_PROJECTS + 8)
            .map(|i| finished(&format!("p{i}"), &format!("r{i}"), i as i64, Some(0), None))
            .collect(),
    );
    outcomes.advance_to(i64::MAX);
    assert_eq!(outcomes.latest.len(), MAX_PROJECTS);
    assert!(!outcomes.latest.contains_key("p0"), "the oldest are dropped");
    assert!(outcomes.latest.contains_key(&format!("p{}", MAX_PROJECTS + 7)));
    // An older run of a project never replaces its newer last one.
    outcomes.add(vec![finished("p39", "older", 1, Some(3), None)]);
    outcomes.advance_to(i64::MAX);
    assert_eq!(outcomes.latest["p39"].run_id, "r39");
}

#[test]
fn a_figure_that_was_not_read_is_not_pushed_and_units_are_base_units() {
    let tick = stored(&sample(), 5);
    let batch = RawBatch { ticks: vec![tick.clone()], gpu_names: HashMap::new() };
    let labels = BaseLabels::new("box", &[]);
    let mut built = Batch::new(&labels);
    built.tick(&batch, &tick, &mut Outcomes::default());
    let request = built.into_request();
    // guest time is unread in the depth sample: absent, never 0.
    assert_eq!(value(&request, "cpu_mode_percent", &[("mode", "guest")], 5), None);
    assert_eq!(value(&request, "memory_used_bytes", &[], 5), Some(3_221_225_472.0 + 12_345.0), "exact bytes");
    assert_eq!(value(&request, "gpu_sm_clock_hertz", &[("gpu", "0"), ("name", "")], 5), Some(1.41e9));
    assert_eq!(value(&request, "gpu_throttled", &[("gpu", "0"), ("name", "")], 5), Some(1.0));
    // Nothing pushed but what was read: an empty tick has only the cores it had.
    let empty = stored(&HostSample::default(), 6);
    let mut built = Batch::new(&labels);
    built.tick(&batch, &empty, &mut Outcomes::default());
    assert_eq!(built.samples(), 0, "{:?}", built.into_request());
}
