//! A busy 8-core machine's samples for the benchmarks: one GPU, two disks,
//! two interfaces, two filesystems, four temperature sensors, every figure of
//! the machine in depth read (each core's too), each a slow
//! wave so the store's roll-ups and the push's compression see real-looking
//! data. Included with `#[path = "support/machine.rs"] mod machine;`.

use chrono::DateTime;
use server::sampling::{Depth, DeviceReading, HostSample, MemoryReading, NetworkReading};
use shared::depth::{cpu, disks, memory, network, perf, pressure};

/// The `i`th sample, taken at `ms`.
pub fn sample(ms: i64, i: i64) -> HostSample {
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
        sm_clock_max_mhz: Some(1980),
        memory_clock_max_mhz: Some(2619),
        pstate: Some(if i % 300 < 250 { 0 } else { 2 }),
        encoder_percent: Some(0),
        decoder_percent: Some(0),
        fan_percent: Some(40 + (wave(600, 20.0) as u32)),
        memory_controller_percent: Some(wave(300, 60.0) as u32),
        energy_power_w: Some(((150.0 + wave(300, 400.0)) * 10.0).round() / 10.0),
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
    // Each core's modes, frequency and throttle counts (schema version 9).
    d.cpu_detail.per_core = (0..8)
        .map(|c| {
            let user = r1(wave(600 + c * 7, 80.0));
            let system = r1(wave(500 + c * 5, 12.0));
            Some(cpu::CpuModes {
                user_percent: Some(user),
                nice_percent: Some(0.0),
                system_percent: Some(system),
                idle_percent: Some(r1(100.0 - user - system)),
                iowait_percent: Some(r1(wave(130 + c, 3.0))),
                irq_percent: Some(0.0),
                softirq_percent: Some(r1(wave(80 + c, 1.1))),
                steal_percent: Some(0.0),
                guest_percent: Some(0.0),
            })
        })
        .collect();
    let sensors = &mut d.cpu_detail.sensors;
    // Read every 5 s off the tick, as the slow sources are.
    let age = Some(1000 * (i % 5) as u64);
    sensors.age_ms = age;
    sensors.frequency_mhz = (0..8).map(|c| Some(r1(2000.0 + wave(300 + c * 11, 1500.0)))).collect();
    sensors.throttle.available = true;
    sensors.throttle.core = (0..8).map(|c| Some((i / 3600 + c) as u64)).collect();
    sensors.throttle.package = vec![Some((i / 1800) as u64); 8];
    sensors.temperatures.available = true;
    sensors.temperatures.sensors =
        ["coretemp Package id 0", "coretemp Core 0", "coretemp Core 1", "nvme Composite"]
            .iter()
            .enumerate()
            .map(|(n, name)| cpu::Temperature {
                name: (*name).into(),
                temperature_c: Some(r1(40.0 + wave(600 + n as i64 * 13, 35.0))),
            })
            .collect();
    d.filesystems = disks::Filesystems {
        available: true,
        age_ms: age,
        filesystems: ["nvme0n1p2", "sda1"]
            .iter()
            .map(|device| disks::Filesystem {
                device: (*device).into(),
                fs_type: "ext4".into(),
                mount_point: Some("/".into()),
                size_gb: Some(476.9),
                used_gb: Some(r1(200.0 + (i / 86_400) as f64)),
                free_gb: Some(r1(252.6 - (i / 86_400) as f64)),
                used_percent: Some(r1(44.2 + (i / 86_400) as f64 / 4.5)),
            })
            .collect(),
        ..Default::default()
    };
    d.cpu_detail.context_switches_per_s = Some(r1(wave(60, 40_000.0)));
    d.cpu_detail.interrupts_per_s = Some(r1(wave(70, 25_000.0)));
    d.cpu_detail.procs_running = Some(1 + (i % 9) as u64);
    d.cpu_detail.procs_blocked = Some((i % 3) as u64);
    d.cpu_detail.forks_per_s = Some(r1(wave(40, 30.0)));
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
        free_gb: Some(r3(6.0 + wave(3600, 3.0))),
        writeback_gb: Some(r3(wave(30, 0.01))),
        shared_gb: Some(r3(0.3 + wave(7200, 0.05))),
        slab_reclaimable_gb: Some(r3(0.8 + wave(3000, 0.1))),
        hugepages_total: Some(0),
        hugepages_free: Some(0),
        hugepages_reserved: Some(0),
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
        oom_kills: Some(0),
        ..Default::default()
    };
    d.sockets = network::Sockets {
        available: true,
        tcp_established: Some(40 + (i % 13) as u64),
        tcp_time_wait: Some((i % 29) as u64),
        tcp_syn_sent: Some((i % 2) as u64),
        tcp_syn_recv: Some(0),
        tcp_fin_wait1: Some((i % 3) as u64),
        tcp_fin_wait2: Some((i % 5) as u64),
        tcp_close: Some(0),
        tcp_close_wait: Some((i % 4) as u64),
        tcp_last_ack: Some(0),
        tcp_listen: Some(14),
        tcp_closing: Some(0),
        udp: Some(9),
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
        (perf::CACHE_REFERENCES, 4.0e8),
        (perf::BRANCHES, 5.0e9),
        (perf::CPU_MIGRATIONS, 300.0),
        (perf::CPU_CLOCK, 7900.0),
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
