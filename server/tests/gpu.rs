//! The NVML path without a GPU: the real `perfmon` binary loads a fake
//! `libnvidia-ml.so.1` (the `fake-nvml` crate) through `LD_LIBRARY_PATH`, whose
//! answers each test sets — devices, figures (clocks, P-state, clock-event
//! reasons, PCIe, codecs, fan, an energy counter), unsupported fields, a device
//! lost mid-run, per-process GPU memory, a failing initialisation. The
//! per-process utilisation tests read the sampler's [`GpuReading`] itself, in a
//! copy of this test binary started on the fake ([`in_fake_nvml_process`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_nvml::{Config, Device, FakeGpus, GIB, Init};
use serde_json::json;
use server::cli::client::Method;
use server::sampling::{GpuReading, HostSampler};
use server::testkit::{Perfmon, Sandbox, call, connect, eventually, metrics_until, private_mount_namespace};
use shared::{GpuDevice, PerfMetrics};

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");

/// A fresh directory for one test's fake GPUs.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("perfmon-gpu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The real server, sampling every 200 ms, on the fake GPUs of `config`.
async fn serve(name: &str, config: &Config) -> (Perfmon, FakeGpus) {
    let fake = FakeGpus::new(&scratch(name), config);
    let args = ["--live-interval-ms", "200", "--idle-interval-ms", "200", "--static-dir", "/nonexistent"];
    let env: Vec<(String, String)> = fake.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    (Perfmon::serve_with(Path::new(PERFMON), &args, &env).await, fake)
}

/// Registers `pid` as `project`'s run and returns the first sample with its tree.
async fn watch_run(perfmon: &Perfmon, project: &str, pid: u32) -> PerfMetrics {
    let mut client = connect(perfmon.addr, project).await;
    let path = format!("/api/projects/{project}/run");
    call(&perfmon.api(), Method::POST, &path, Some(json!({ "pid": pid }))).await.expect("registered");
    metrics_until(&mut client, 50, |m| m.run.process.is_some()).await
}

fn named(name: &str, util: u32, used_gib: u64) -> Device {
    Device { name: name.into(), ..Device::h100(util, used_gib) }
}

/// `/metrics` as `series → value`, after promtool accepted it.
async fn scrape(perfmon: &Perfmon) -> Vec<(String, f64)> {
    let text = perfmon.api().call(Method::GET, "/metrics", None).await.expect("scrape");
    server::testkit::promtool_accepts(&text);
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(k, v)| (k.to_owned(), v.parse().expect("a number"))))
        .collect()
}

fn series(metrics: &[(String, f64)], key: &str) -> Option<f64> {
    metrics.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

#[tokio::test]
async fn two_devices_are_listed_with_their_figures_and_the_aggregate() {
    let config =
        Config { devices: vec![named("GPU-A", 40, 10), named("GPU-B", 60, 30)], ..Config::default() };
    let (perfmon, fake) = serve("two", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let m = metrics_until(&mut client, 50, |m| m.gpu.available).await;
    assert_eq!(m.gpu.devices.len(), 2);
    let a = &m.gpu.devices[0];
    assert_eq!((a.index, a.name.as_str(), a.available), (0, "GPU-A", true));
    assert_eq!((a.percent, a.vram_used_gb, a.vram_total_gb), (Some(40.0), Some(10.0), Some(80.0)));
    assert_eq!((a.temperature_c, a.power_w), (Some(50.0), Some(300.0)));
    assert!(a.not_supported.is_empty() && a.reason.is_none());
    // The aggregate: mean utilisation, summed memory, in GiB as nvidia-smi counts.
    assert_eq!(
        (m.gpu.percent, m.gpu.vram_used_gb, m.gpu.vram_total_gb),
        (Some(50.0), Some(40.0), Some(160.0))
    );

    let metrics = scrape(&perfmon).await;
    assert_eq!(series(&metrics, r#"perfmon_gpu_usage_percent{gpu="1",name="GPU-B"}"#), Some(60.0));
    assert_eq!(
        series(&metrics, r#"perfmon_gpu_memory_used_bytes{gpu="0",name="GPU-A"}"#),
        Some((10 * GIB) as f64),
        "exact bytes"
    );
    assert_eq!(series(&metrics, r#"perfmon_gpu_device_available{gpu="0",name="GPU-A"}"#), Some(1.0));
    assert_eq!(series(&metrics, "perfmon_gpu_available"), Some(1.0));
    // NVML was initialised once, not per tick.
    metrics_until(&mut client, 50, |m| m.seq >= 5).await;
    assert_eq!(fake.inits(), 1);
}

#[tokio::test]
async fn the_runs_tree_holds_the_gpu_memory_of_its_processes() {
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn a run");
    let config = Config {
        devices: vec![named("GPU-A", 10, 4), named("GPU-B", 10, 6)],
        // The run's process holds 3 GiB on each device; another process 5 GiB.
        processes: vec![(child.id(), 0, 3 * GIB), (child.id(), 1, 3 * GIB), (1, 1, 5 * GIB)],
        ..Config::default()
    };
    let (perfmon, _fake) = serve("tree", &config).await;
    let m = watch_run(&perfmon, "gpu-run", child.id()).await;
    let process = m.run.process.expect("the tree");
    assert_eq!(process.gpu_memory_gb, Some(6.0), "its own processes only, on every device");
    assert_eq!(process.gpu_memory_reason, None);
    let metrics = scrape(&perfmon).await;
    assert_eq!(
        series(&metrics, r#"perfmon_run_gpu_memory_bytes{project="gpu-run"}"#),
        Some((6 * GIB) as f64)
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_field_the_driver_does_not_support_is_null_and_named() {
    let mut no_power = named("GPU-A", 25, 2);
    no_power.not_supported = vec!["power", "temp"];
    let mut no_util = named("GPU-C", 45, 2);
    no_util.not_supported = vec!["util", "memory"];
    let config = Config { devices: vec![no_power, named("GPU-B", 35, 2), no_util], ..Config::default() };
    let (perfmon, _fake) = serve("unsupported", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let m = metrics_until(&mut client, 50, |m| m.gpu.available).await;
    let a = &m.gpu.devices[0];
    assert_eq!((a.power_w, a.temperature_c), (None, None));
    assert_eq!(a.not_supported, ["temperature_c", "power_w"]);
    assert_eq!((a.available, a.percent, a.vram_used_gb), (true, Some(25.0), Some(2.0)), "the rest is there");
    let metrics = scrape(&perfmon).await;
    assert_eq!(
        series(&metrics, r#"perfmon_gpu_power_watts{gpu="0",name="GPU-A"}"#),
        None,
        "absent, not zero"
    );
    assert_eq!(series(&metrics, r#"perfmon_gpu_power_watts{gpu="1",name="GPU-B"}"#), Some(300.0));
    assert_eq!(series(&metrics, r#"perfmon_gpu_temperature_celsius{gpu="0",name="GPU-A"}"#), None);
    let c = &m.gpu.devices[2];
    assert_eq!((c.percent, c.vram_used_gb, c.vram_total_gb), (None, None, None));
    assert_eq!(c.not_supported, ["percent", "memory_controller_percent", "vram_used_gb", "vram_total_gb"]);
    assert_eq!(c.memory_controller_percent, None, "one query answers both utilisations");
    assert!(c.temperature_c.is_some() && c.power_w.is_some(), "the rest is there");
    for name in ["gpu_usage_percent", "gpu_memory_used_bytes", "gpu_memory_total_bytes"] {
        let key = format!(r#"perfmon_{name}{{gpu="2",name="GPU-C"}}"#);
        assert_eq!(series(&metrics, &key), None, "{key}: absent, not zero");
    }
    assert_eq!(m.gpu.percent, Some(30.0), "the mean of the devices that report it (25 and 35)");
}

#[tokio::test]
async fn a_gpu_that_lists_no_processes_leaves_the_runs_share_unknown_not_zero() {
    let mut child = Command::new("sleep").arg("60").spawn().expect("spawn a run");
    let mut silent = named("GPU-A", 30, 4);
    silent.not_supported = vec!["processes"];
    let config =
        Config { devices: vec![silent], processes: vec![(child.id(), 0, 3 * GIB)], ..Config::default() };
    let (perfmon, _fake) = serve("no-processes", &config).await;
    let m = watch_run(&perfmon, "gpu-silent", child.id()).await;
    let process = m.run.process.expect("the tree");
    assert_eq!(process.gpu_memory_gb, None, "unknown, not 0 GB");
    assert_eq!(process.gpu_memory_reason.as_deref(), Some("this GPU does not report its processes' memory"));
    assert_eq!(m.gpu.devices[0].percent, Some(30.0), "the device's own figures are there");
    let metrics = scrape(&perfmon).await;
    assert_eq!(
        series(&metrics, r#"perfmon_run_gpu_memory_bytes{project="gpu-silent"}"#),
        None,
        "absent, not zero"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_failing_initialisation_is_reported_in_the_drivers_words_once() {
    let config =
        Config { init: Init::RmVersionMismatch, devices: vec![named("GPU-A", 1, 1)], ..Config::default() };
    let (perfmon, fake) = serve("init", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let m = metrics_until(&mut client, 50, |m| m.seq >= 5).await;
    assert!(!m.gpu.available);
    assert_eq!(m.gpu.reason.as_deref(), Some("RM detects a driver/library version mismatch"));
    assert!(m.gpu.devices.is_empty() && m.gpu.percent.is_none());
    assert_eq!(fake.inits(), 1, "remembered, not retried every tick");
    let metrics = scrape(&perfmon).await;
    assert_eq!(series(&metrics, "perfmon_gpu_available"), Some(0.0));
    assert!(!metrics.iter().any(|(k, _)| k.starts_with("perfmon_gpu_usage_percent")));
}

fn device(m: &PerfMetrics, index: usize) -> &GpuDevice {
    &m.gpu.devices[index]
}

#[tokio::test]
async fn a_device_lost_mid_run_says_so_and_comes_back_when_it_answers() {
    let healthy =
        Config { devices: vec![named("GPU-A", 20, 8), named("GPU-B", 80, 40)], ..Config::default() };
    let mut losing = healthy.clone();
    losing.devices[1].lost_after = Some(3);
    let (perfmon, fake) = serve("lost", &losing).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    metrics_until(&mut client, 50, |m| m.gpu.devices.len() == 2 && device(m, 1).available).await;

    let lost = metrics_until(&mut client, 50, |m| m.gpu.devices.len() == 2 && !device(m, 1).available).await;
    let b = device(&lost, 1);
    assert_eq!(
        (b.name.as_str(), b.reason.as_deref()),
        ("GPU-B", Some("GPU is lost")),
        "its own name and reason"
    );
    assert_eq!((b.percent, b.vram_used_gb), (None, None));
    // The aggregate comes from the device that still answers.
    assert!(lost.gpu.available);
    assert_eq!(
        (lost.gpu.percent, lost.gpu.vram_used_gb, lost.gpu.vram_total_gb),
        (Some(20.0), Some(8.0), Some(80.0))
    );
    let metrics = scrape(&perfmon).await;
    assert_eq!(series(&metrics, r#"perfmon_gpu_device_available{gpu="1",name="GPU-B"}"#), Some(0.0));
    assert_eq!(
        series(&metrics, r#"perfmon_gpu_usage_percent{gpu="1",name="GPU-B"}"#),
        None,
        "absent, not zero"
    );
    assert_eq!(series(&metrics, r#"perfmon_gpu_usage_percent{gpu="0",name="GPU-A"}"#), Some(20.0));

    // The sampler carries on, and the device is back once it answers again.
    fake.set(&healthy);
    let back = metrics_until(&mut client, 50, |m| m.gpu.devices.len() == 2 && device(m, 1).available).await;
    assert!(back.seq > lost.seq);
    assert_eq!((device(&back, 1).percent, back.gpu.percent), (Some(80.0), Some(50.0)));
}

#[tokio::test]
async fn inside_a_container_a_runs_gpu_memory_is_unknown_with_a_reason_not_zero() {
    // `perfmon run` in a PID namespace of its own with its own /proc, as in a
    // container: NVML (here, the fake) lists the host's pids, which the run's
    // cannot be matched against.
    let outside = std::process::id();
    let config = Config {
        devices: vec![named("GPU-A", 10, 4)],
        processes: vec![(outside, 0, GIB)],
        ..Config::default()
    };
    let fake = FakeGpus::new(&scratch("container"), &config);
    let sandbox = Sandbox::new("container");
    // A PID namespace needs the mount namespace its own /proc is mounted in.
    let mut command = sandbox.wrap("unshare", private_mount_namespace());
    command
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", PERFMON])
        .args(["run", "--project", "boxed", "--", "sleep", "60"])
        .envs(fake.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let perfmon = Perfmon::start(command, &sandbox).await;
    let mut client = connect(perfmon.addr, "boxed").await;
    let m = metrics_until(&mut client, 50, |m| m.run.process.is_some()).await;
    let process = m.run.process.expect("the tree");
    assert_eq!(process.gpu_memory_gb, None);
    let reason = process.gpu_memory_reason.expect("a reason");
    assert!(reason.contains("container"), "{reason}");
    assert!(m.gpu.available, "the GPU itself still reports");
}

/// An H100 whose every depth figure differs from the others.
fn busy_h100() -> Device {
    Device {
        name: "GPU-D".into(),
        mem_util: 78,
        sm_clock_mhz: (1410, 1980),
        mem_clock_mhz: (1593, 2619),
        pstate: 2,
        // SwPowerCap (0x4) and HwThermalSlowdown (0x40).
        clock_events: 0x44,
        pcie_kbs: (2048, 1024),
        codec_percent: (12, 34),
        fan_percent: 56,
        energy_mj: 1_000_000,
        energy_rate_mw: 250_000,
        ..Device::h100(90, 20)
    }
}

fn seconds(m: &PerfMetrics) -> f64 {
    let at = chrono::DateTime::parse_from_rfc3339(m.timestamp.as_str()).expect("an RFC 3339 time");
    at.timestamp_millis() as f64 / 1000.0
}

#[tokio::test]
async fn every_depth_figure_arrives_with_the_value_the_driver_gave() {
    let config = Config { devices: vec![busy_h100(), named("GPU-E", 0, 1)], ..Config::default() };
    let (perfmon, _fake) = serve("depth", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let m =
        metrics_until(&mut client, 50, |m| m.gpu.devices.first().is_some_and(|d| d.energy_power_w.is_some()))
            .await;
    let d = device(&m, 0);
    assert!(d.available && d.not_supported.is_empty(), "{d:?}");
    assert_eq!((d.sm_clock_mhz, d.sm_clock_max_mhz), (Some(1410), Some(1980)));
    assert_eq!((d.memory_clock_mhz, d.memory_clock_max_mhz), (Some(1593), Some(2619)));
    assert_eq!(d.pstate.as_deref(), Some("P2"));
    assert_eq!(
        d.clock_event_reasons.as_deref(),
        Some(&["sw_power_cap".to_owned(), "hw_thermal_slowdown".to_owned()][..]),
        "decoded by name from the bitmask"
    );
    // NVML's KB/s are KiB/s: exact bytes.
    assert_eq!((d.pcie_rx_bytes_per_s, d.pcie_tx_bytes_per_s), (Some(2_097_152.0), Some(1_048_576.0)));
    assert_eq!((d.encoder_percent, d.decoder_percent), (Some(12.0), Some(34.0)));
    assert_eq!((d.fan_percent, d.memory_controller_percent), (Some(56.0), Some(78.0)));
    // The counter started at 1000 J and grows at 250 W.
    let power = d.energy_power_w.expect("power");
    assert!((power - 250.0).abs() <= 25.0, "{power} W from the energy counter, 250 W ± 10 %");
    let total = d.energy_total_j.expect("joules");
    assert!((1000.0..1000.0 + 250.0 * 30.0).contains(&total), "{total} J");
    assert_eq!((d.percent, d.power_w), (Some(90.0), Some(300.0)), "the older figures still there");

    // Nothing holds the idle device's clocks: an empty list, not null.
    let e = device(&m, 1);
    assert_eq!((e.index, e.name.as_str()), (1, "GPU-E"));
    assert_eq!(e.clock_event_reasons, Some(Vec::new()));
    assert_eq!((e.pstate.as_deref(), e.fan_percent), (Some("P0"), Some(0.0)));

    // The payload's names and units, as the integrator wires them.
    let json = serde_json::to_value(d).expect("encode");
    for key in [
        "sm_clock_mhz",
        "sm_clock_max_mhz",
        "memory_clock_mhz",
        "memory_clock_max_mhz",
        "pstate",
        "clock_event_reasons",
        "pcie_rx_bytes_per_s",
        "pcie_tx_bytes_per_s",
        "encoder_percent",
        "decoder_percent",
        "fan_percent",
        "memory_controller_percent",
        "energy_power_w",
        "energy_total_j",
    ] {
        assert!(!json[key].is_null(), "{key} in {json}");
    }

    // And on /metrics, in base units, promtool clean.
    let metrics = scrape(&perfmon).await;
    let gpu = |family: &str| series(&metrics, &format!(r#"perfmon_{family}{{gpu="0",name="GPU-D"}}"#));
    assert_eq!((gpu("gpu_sm_clock_hertz"), gpu("gpu_sm_clock_max_hertz")), (Some(1.41e9), Some(1.98e9)));
    assert_eq!(gpu("gpu_memory_clock_hertz"), Some(1.593e9));
    assert_eq!(gpu("gpu_performance_state"), Some(2.0));
    assert_eq!(gpu("gpu_pcie_receive_bytes_per_second"), Some(2_097_152.0));
    assert_eq!(
        (gpu("gpu_encoder_usage_percent"), gpu("gpu_decoder_usage_percent")),
        (Some(12.0), Some(34.0))
    );
    assert_eq!(
        (gpu("gpu_fan_speed_percent"), gpu("gpu_memory_controller_usage_percent")),
        (Some(56.0), Some(78.0))
    );
    assert!(gpu("gpu_energy_power_watts").is_some_and(|w| (w - 250.0).abs() <= 25.0));
    assert!(gpu("gpu_energy_joules_total").is_some_and(|j| j >= total), "a counter, in joules");
    let reason = |gpu: &str, name: &str, reason: &str| {
        series(
            &metrics,
            &format!(r#"perfmon_gpu_clock_event_reason{{gpu="{gpu}",name="{name}",reason="{reason}"}}"#),
        )
    };
    assert_eq!(reason("0", "GPU-D", "hw_thermal_slowdown"), Some(1.0));
    assert_eq!(reason("0", "GPU-D", "gpu_idle"), Some(0.0));
    assert_eq!(reason("1", "GPU-E", "sw_power_cap"), Some(0.0), "nothing holds the idle device");

    // And kept: a series per reason in the store's history (the last hour by
    // default), 1 where the reason held the clocks, 0 where it did not — the
    // dashboard's bands.
    let api = perfmon.api();
    let history = eventually(Duration::from_secs(20), "the reasons are stored", || async {
        let text = api.call(Method::GET, "/api/history?step=1&all=true", None).await.ok()?;
        let history: shared::api::HistorySeries = serde_json::from_str(&text).expect("a history");
        let latest = |name: &str| history.series.get(name)?.iter().rev().find_map(|v| *v);
        latest("gpu.0.held_by_sw_power_cap").is_some().then_some(history)
    })
    .await;
    let latest = |name: &str| history.series.get(name).and_then(|v| v.iter().rev().find_map(|v| *v));
    assert_eq!(latest("gpu.0.held_by_sw_power_cap"), Some(1.0));
    assert_eq!(latest("gpu.0.held_by_hw_thermal_slowdown"), Some(1.0));
    assert_eq!(latest("gpu.0.held_by_hw_slowdown"), Some(0.0), "read, and not holding");
    assert_eq!(latest("gpu.1.held_by_sw_power_cap"), Some(0.0), "nothing holds the idle device");
    assert_eq!(latest("gpu.0.throttled"), Some(1.0));
    // Every other number of the device too.
    assert_eq!((latest("gpu.0.pstate"), latest("gpu.0.fan_percent")), (Some(2.0), Some(56.0)));
    assert_eq!((latest("gpu.0.encoder_percent"), latest("gpu.0.decoder_percent")), (Some(12.0), Some(34.0)));
    assert_eq!(latest("gpu.0.sm_clock_max_mhz"), Some(1980.0));
    assert!(latest("gpu.0.energy_power_w").is_some_and(|w| (w - 250.0).abs() <= 25.0));
    // Without `all=true`, the figures the dashboard charts: the bands, not the rest.
    let text = api.call(Method::GET, "/api/history?step=1", None).await.expect("a history");
    let charted: shared::api::HistorySeries = serde_json::from_str(&text).expect("a history");
    assert!(charted.series.contains_key("gpu.0.held_by_sw_power_cap"));
    assert!(
        !charted.series.contains_key("gpu.0.fan_percent") && !charted.series.contains_key("memory.free_gb")
    );
    let text = api.call(Method::GET, "/api/history?all=yes", None).await.expect_err("refused");
    assert!(text.to_string().contains("all: expected true or false"), "{text}");
}

#[tokio::test]
async fn depth_fields_the_driver_does_not_support_are_null_and_named() {
    let mut bare = busy_h100();
    bare.not_supported = vec![
        "sm_clock",
        "sm_clock_max",
        "mem_clock",
        "mem_clock_max",
        "pstate",
        "clock_events",
        "pcie",
        "encoder",
        "decoder",
        "fan",
        "energy",
    ];
    let mut no_fan = busy_h100();
    no_fan.not_supported = vec!["fan", "sm_clock_max"];
    let config = Config { devices: vec![bare, no_fan], ..Config::default() };
    let (perfmon, _fake) = serve("depth-unsupported", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    // A few ticks, so the energy counter has had a second reading.
    let m = metrics_until(&mut client, 50, |m| m.gpu.devices.len() == 2 && m.seq >= 3).await;
    let d = device(&m, 0);
    assert_eq!(
        d.not_supported,
        [
            "sm_clock_mhz",
            "memory_clock_mhz",
            "sm_clock_max_mhz",
            "memory_clock_max_mhz",
            "pstate",
            "clock_event_reasons",
            "pcie_rx_bytes_per_s",
            "pcie_tx_bytes_per_s",
            "encoder_percent",
            "decoder_percent",
            "fan_percent",
            "energy_power_w",
            "energy_total_j",
        ]
    );
    assert_eq!(
        (d.sm_clock_mhz, d.sm_clock_max_mhz, d.memory_clock_mhz, d.memory_clock_max_mhz),
        (None, None, None, None)
    );
    assert_eq!((d.pstate.as_ref(), d.clock_event_reasons.as_ref()), (None, None));
    assert_eq!((d.pcie_rx_bytes_per_s, d.pcie_tx_bytes_per_s, d.pcie_age_ms), (None, None, None));
    assert_eq!((d.encoder_percent, d.decoder_percent, d.fan_percent), (None, None, None));
    assert_eq!((d.energy_power_w, d.energy_total_j), (None, None));
    assert_eq!(
        (d.available, d.percent, d.memory_controller_percent),
        (true, Some(90.0), Some(78.0)),
        "the rest"
    );
    let json = serde_json::to_value(d).expect("encode");
    assert!(
        json["fan_percent"].is_null() && json["clock_event_reasons"].is_null(),
        "null, not absent: {json}"
    );

    let f = device(&m, 1);
    assert_eq!(f.not_supported, ["sm_clock_max_mhz", "fan_percent"]);
    assert_eq!((f.fan_percent, f.sm_clock_max_mhz, f.sm_clock_mhz), (None, None, Some(1410)));
    assert_eq!(f.memory_clock_max_mhz, Some(2619));
}

#[tokio::test]
async fn the_energy_counter_gives_power_and_joules_across_ticks_and_a_restart_is_no_rate() {
    let config = Config { devices: vec![busy_h100()], ..Config::default() };
    let (perfmon, fake) = serve("energy", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let first =
        metrics_until(&mut client, 50, |m| m.gpu.devices.first().is_some_and(|d| d.energy_total_j.is_some()))
            .await;
    // A span of at least a second: its joules over its seconds are the power.
    let last = metrics_until(&mut client, 50, |m| seconds(m) - seconds(&first) >= 1.0).await;
    let joules =
        device(&last, 0).energy_total_j.expect("joules") - device(&first, 0).energy_total_j.expect("joules");
    let span = seconds(&last) - seconds(&first);
    let watts = joules / span;
    assert!((watts - 250.0).abs() <= 12.5, "{joules} J over {span} s is {watts} W, 250 W ± 5 %");
    let power = device(&last, 0).energy_power_w.expect("power");
    assert!((power - 250.0).abs() <= 25.0, "{power} W, 250 W ± 10 %");

    // The driver reloads: the counter starts again from 0, which is no rate
    // (not a huge or negative one) for that tick, and a rate again after.
    let before = metrics_until(&mut client, 50, |_| true).await;
    fake.set(&Config { devices: vec![Device { energy_mj: 0, ..busy_h100() }], ..Config::default() });
    let restarted =
        metrics_until(&mut client, 50, |m| device(m, 0).energy_total_j.is_some_and(|j| j < 1000.0)).await;
    if restarted.seq == before.seq + 1 {
        assert_eq!(device(&restarted, 0).energy_power_w, None, "the tick that saw the restart");
    }
    for _ in 0..3 {
        let m = metrics_until(&mut client, 50, |_| true).await;
        if let Some(power) = device(&m, 0).energy_power_w {
            assert!((power - 250.0).abs() <= 25.0, "{power} W after the restart, 250 W ± 10 %");
        }
    }
}

#[tokio::test]
async fn a_slow_pcie_query_is_asked_every_5_s_and_its_figures_carry_their_age() {
    // Each PCIe call waits 10 ms, as a driver measuring its 20 ms window in the
    // call would: the sampler (every 200 ms here) then reads it every 5 s.
    let slow = Device { pcie_delay_us: 10_000, ..busy_h100() };
    let config = Config { devices: vec![slow], ..Config::default() };
    let (perfmon, _fake) = serve("slow-pcie", &config).await;
    let mut client = connect(perfmon.addr, "gpus").await;
    let carried = metrics_until(&mut client, 50, |m| {
        m.gpu.devices.first().is_some_and(|d| d.pcie_age_ms.is_some_and(|age| age > 0))
    })
    .await;
    let d = device(&carried, 0);
    assert_eq!((d.pcie_rx_bytes_per_s, d.pcie_tx_bytes_per_s), (Some(2_097_152.0), Some(1_048_576.0)));
    assert!(d.pcie_age_ms.is_some_and(|age| age < 5_000 + 1_000), "{:?}", d.pcie_age_ms);
    let json = serde_json::to_value(d).expect("encode");
    assert!(json["pcie_age_ms"].is_u64());
    // Fresh figures carry no age at all.
    let fresh = serde_json::to_value(shared::GpuDevice::default()).expect("encode");
    assert!(fresh.get("pcie_age_ms").is_none());
}

#[test]
fn a_device_from_a_server_without_the_depth_fields_decodes_with_them_null() {
    let old: GpuDevice = serde_json::from_str(
        r#"{"index":0,"name":"GPU","available":true,"percent":1.0,"vram_used_gb":1.0,"vram_total_gb":2.0,"temperature_c":null,"power_w":null}"#,
    )
    .expect("decodes");
    assert_eq!(
        old,
        GpuDevice {
            name: "GPU".into(),
            percent: Some(1.0),
            vram_used_gb: Some(1.0),
            vram_total_gb: Some(2.0),
            ..GpuDevice::default()
        }
    );
    let full = GpuDevice {
        sm_clock_mhz: Some(1410),
        pstate: Some("P2".into()),
        clock_event_reasons: Some(vec!["sw_power_cap".into()]),
        pcie_age_ms: Some(1200),
        energy_total_j: Some(1234.567),
        ..old
    };
    let back: GpuDevice =
        serde_json::from_value(serde_json::to_value(&full).expect("encode")).expect("decode");
    assert_eq!(back, full);
}

/// Set in the copy of this test binary that runs one test's body on the fake GPUs.
const IN_CHILD: &str = "PERFMON_GPU_TEST_CHILD";

/// Runs `body` in a copy of this test binary started with the fake NVML and
/// `config` in its environment: the loader reads `LD_LIBRARY_PATH` only when a
/// process starts, and NVML is initialised once per process, so a test that
/// reads the sampler directly needs a process of its own. `test` is the calling
/// test's name; in the copy, `body` gets the fake, to change what it answers.
/// The copy's output is printed here (figures; run with `--nocapture`).
fn in_fake_nvml_process(test: &str, config: &Config, body: impl FnOnce(&FakeGpus)) {
    if std::env::var_os(IN_CHILD).is_some() {
        let path = std::env::var_os("FAKE_NVML_CONFIG").expect("the parent names the config");
        return body(&FakeGpus::at(path.into()));
    }
    let fake = FakeGpus::new(&scratch(test), config);
    let output = Command::new(std::env::current_exe().expect("this test binary"))
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .envs(fake.env())
        .env(IN_CHILD, "1")
        .output()
        .expect("start a copy of this test binary");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && text.contains("1 passed"), "the copy running {test}:\n{text}");
    println!("{text}");
}

/// One sampler tick's GPU reading: the path (a blocking thread, every tick)
/// that also reads the processes' GPU memory.
fn gpu_read(sampler: &mut HostSampler) -> GpuReading {
    sampler.sample(&[]).gpu
}

fn percents(reading: &GpuReading) -> Vec<(u32, f64)> {
    let mut all: Vec<(u32, f64)> = reading.process_percent.iter().map(|(pid, p)| (*pid, *p)).collect();
    all.sort_by_key(|(pid, _)| *pid);
    all
}

#[test]
fn a_pids_utilisation_is_the_mean_of_its_samples_summed_over_devices() {
    let config = Config {
        devices: vec![named("GPU-A", 70, 4), named("GPU-B", 50, 4)],
        // pid 100: 40 and 60 on GPU-A (a mean of 50), 30 on GPU-B; pid 200: 25 on GPU-B.
        process_utilization: vec![(100, 0, 40), (100, 0, 60), (100, 1, 30), (200, 1, 25)],
        ..Config::default()
    };
    in_fake_nvml_process(
        "a_pids_utilisation_is_the_mean_of_its_samples_summed_over_devices",
        &config,
        |_| {
            let reading = gpu_read(&mut HostSampler::new());
            assert_eq!(reading.unavailable, None);
            assert_eq!(percents(&reading), [(100, 80.0), (200, 25.0)]);
            assert_eq!(reading.process_percent_unknown, None);
        },
    );
}

#[test]
fn each_read_has_only_the_samples_since_the_one_before_and_none_is_0_not_unknown() {
    let config = Config {
        devices: vec![named("GPU-A", 70, 4)],
        process_utilization: vec![(100, 0, 40), (100, 0, 60)],
        ..Config::default()
    };
    let test = "each_read_has_only_the_samples_since_the_one_before_and_none_is_0_not_unknown";
    in_fake_nvml_process(test, &config, |fake| {
        let mut sampler = HostSampler::new();
        assert_eq!(percents(&gpu_read(&mut sampler)), [(100, 50.0)]);
        // Nothing new since (NVML's NOT_FOUND): every process at 0 %, and that is known.
        let idle = gpu_read(&mut sampler);
        assert!(idle.process_percent.is_empty(), "{:?}", idle.process_percent);
        assert_eq!(idle.process_percent_unknown, None, "no samples is 0 %, not unknown");
        // Newer samples: only they count, not the mean with the old ones.
        fake.set(&Config { process_utilization: vec![(100, 0, 10), (300, 0, 70)], ..config.clone() });
        let next = gpu_read(&mut sampler);
        assert_eq!(percents(&next), [(100, 10.0), (300, 70.0)]);
        assert_eq!(next.process_percent_unknown, None);
    });
}

#[test]
fn a_device_without_per_process_utilisation_is_named_and_the_others_still_count() {
    let mut mig = named("GPU-B", 50, 4);
    mig.not_supported = vec!["process_util"];
    let config = Config {
        devices: vec![named("GPU-A", 70, 4), mig],
        process_utilization: vec![(100, 0, 40), (100, 1, 99)],
        ..Config::default()
    };
    let test = "a_device_without_per_process_utilisation_is_named_and_the_others_still_count";
    in_fake_nvml_process(test, &config, |_| {
        let reading = gpu_read(&mut HostSampler::new());
        assert_eq!(
            reading.process_percent_unknown.as_deref(),
            Some("NVML does not report per-process utilisation on GPU 1 (NOT_SUPPORTED)")
        );
        assert_eq!(percents(&reading), [(100, 40.0)], "what GPU-A said");
        let b = &reading.devices[1];
        assert_eq!((b.lost.as_deref(), b.percent), (None, Some(50)), "the device's own figures are there");
        assert!(
            b.not_supported.is_empty(),
            "a per-process figure, not one of the device's: {:?}",
            b.not_supported
        );
    });
}

#[test]
fn another_per_process_utilisation_failure_is_named_with_its_error() {
    let mut denied = named("GPU-A", 70, 4);
    denied.process_util_error = Some(4); // NVML_ERROR_NO_PERMISSION
    let config =
        Config { devices: vec![denied], process_utilization: vec![(100, 0, 40)], ..Config::default() };
    in_fake_nvml_process("another_per_process_utilisation_failure_is_named_with_its_error", &config, |_| {
        let reading = gpu_read(&mut HostSampler::new());
        let reason = reading.process_percent_unknown.expect("a reason");
        assert!(reason.starts_with("NVML could not read per-process utilisation on GPU 0: "), "{reason}");
        assert!(reading.process_percent.is_empty());
        assert_eq!(reading.devices[0].percent, Some(70));
    });
}

#[test]
fn a_lost_devices_per_process_utilisation_is_unknown() {
    let mut losing = named("GPU-A", 70, 4);
    losing.lost_after = Some(1);
    let config =
        Config { devices: vec![losing], process_utilization: vec![(100, 0, 40)], ..Config::default() };
    in_fake_nvml_process("a_lost_devices_per_process_utilisation_is_unknown", &config, |_| {
        let mut sampler = HostSampler::new();
        assert_eq!(percents(&gpu_read(&mut sampler)), [(100, 40.0)]);
        let lost = gpu_read(&mut sampler);
        assert_eq!(lost.process_percent_unknown.as_deref(), Some("GPU 0 did not answer"));
        assert!(lost.process_percent.is_empty());
    });
}

/// The figure for the issue: what `nvmlDeviceGetProcessUtilization` adds to a
/// tick, against the fake (the driver's own cost is not in it), and the whole
/// GPU read for scale. Debug build; bounds are loose, the figures are printed.
#[cfg(feature = "nvml")]
#[test]
fn reading_per_process_utilisation_costs_microseconds() {
    let config = Config {
        devices: vec![named("GPU-A", 70, 4), named("GPU-B", 50, 4)],
        process_utilization: (0..16).map(|i| (100 + i % 4, i % 2, 10 * (i % 8))).collect(),
        ..Config::default()
    };
    in_fake_nvml_process("reading_per_process_utilisation_costs_microseconds", &config, |_| {
        let nvml = nvml_wrapper::Nvml::init().expect("the fake NVML");
        let device = nvml.device_by_index(0).expect("GPU-A");
        let newest =
            device.process_utilization_stats(None).expect("samples").iter().map(|s| s.timestamp).max();
        let mean_us = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..10_000 {
                f();
            }
            start.elapsed().as_secs_f64() * 1e6 / 10_000.0
        };
        let with_samples =
            mean_us(&|| assert_eq!(device.process_utilization_stats(None).ok().map(|s| s.len()), Some(8)));
        let nothing_new = mean_us(&|| assert!(device.process_utilization_stats(newest).is_err()));

        let mut sampler = HostSampler::new();
        sampler.time_sources(true);
        let mut gpu = Duration::ZERO;
        for _ in 0..50 {
            gpu_read(&mut sampler);
            gpu += sampler.costs().iter().find(|(name, _)| *name == "gpu (NVML)").expect("timed").1;
        }
        let gpu_us = gpu.as_secs_f64() * 1e6 / 50.0;
        println!(
            "per-process utilisation, one device: {with_samples:.2} µs with 8 samples (2 calls), \
             {nothing_new:.2} µs with none new (1 call); the whole GPU read of 2 devices: {gpu_us:.1} µs"
        );
        assert!(with_samples < 50.0 && nothing_new < 50.0, "{with_samples} µs, {nothing_new} µs");
    });
}
