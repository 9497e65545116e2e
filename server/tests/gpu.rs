//! The NVML path without a GPU: the real `perfmon` binary loads a fake
//! `libnvidia-ml.so.1` (the `fake-nvml` crate) through `LD_LIBRARY_PATH`, whose
//! answers each test sets — devices, figures, unsupported fields, a device lost
//! mid-run, per-process GPU memory, a failing initialisation.

use std::path::{Path, PathBuf};
use std::process::Command;

use fake_nvml::{Config, Device, FakeGpus, GIB, Init};
use serde_json::json;
use server::cli::client::Method;
use server::testkit::{Perfmon, Sandbox, call, connect, metrics_until, private_mount_namespace};
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
    assert_eq!(c.not_supported, ["percent", "vram_used_gb", "vram_total_gb"]);
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
