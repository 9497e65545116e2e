//! The machine in depth, end to end: the real server on port 0, and what its
//! live samples say of this machine — every section present, each figure a
//! number or `null` with a reason, never a made-up one. The collectors' own
//! tests check the figures against reference tools; this checks they all reach
//! the stream together, and that a new client's replay leaves them out.

use server::testkit::{TestServer, connect, fast_config, metrics_until, next_msg};
use shared::ServerMsg;
use shared::depth::perf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sample_carries_the_machine_in_depth() {
    let server = TestServer::start(fast_config()).await;
    let mut client = connect(server.addr, "depth").await;
    // The slow sources (sockets, filesystems, perf) are read on their own
    // thread: wait for the sample that has them.
    let m = metrics_until(&mut client, 100, |m| m.perf_events.age_ms.is_some() && m.sockets.age_ms.is_some())
        .await;

    let modes = m.cpu_detail.modes.as_ref().expect("CPU time by mode");
    let sum: f64 = [
        modes.user_percent,
        modes.nice_percent,
        modes.system_percent,
        modes.idle_percent,
        modes.iowait_percent,
        modes.irq_percent,
        modes.softirq_percent,
        modes.steal_percent,
        modes.guest_percent,
    ]
    .iter()
    .flatten()
    .sum();
    assert!((sum - 100.0).abs() < 1.0, "the modes add up to the whole: {sum}");
    assert_eq!(m.cpu_detail.per_core.len(), m.cpu.per_core.len(), "one set of modes per core");
    assert!(m.cpu_detail.context_switches_per_s.is_some_and(|r| r > 0.0));

    // Every section is there, available or saying why not.
    for (name, available, reason) in [
        ("pressure", m.pressure.available, &m.pressure.reason),
        ("memory_detail", m.memory_detail.available, &m.memory_detail.reason),
        ("paging", m.paging.available, &m.paging.reason),
        ("disks", m.disks.available, &m.disks.reason),
        ("filesystems", m.filesystems.available, &m.filesystems.reason),
        ("interfaces", m.interfaces.available, &m.interfaces.reason),
        ("sockets", m.sockets.available, &m.sockets.reason),
        ("perf_events", m.perf_events.available, &m.perf_events.error),
    ] {
        assert!(available || reason.is_some(), "{name}: neither available nor a reason");
    }
    assert!(m.memory_detail.available_gb.is_some_and(|gb| gb > 0.0));
    assert!(m.sockets.tcp_listen.is_some_and(|n| n >= 1), "the server itself listens");

    // Hardware counters are counted where there is a PMU, and each says why
    // not where there is none (this VM); software ones count either way.
    let switches = m.perf_events.event(perf::CONTEXT_SWITCHES).expect("context switches listed");
    assert!(switches.available && switches.per_s.is_some(), "{switches:?}");
    let cycles = m.perf_events.event(perf::CYCLES).expect("cycles listed");
    if cycles.available {
        assert!(cycles.per_s.is_some());
    } else {
        assert!(cycles.per_s.is_none() && cycles.reason.is_some(), "{cycles:?}");
        assert_eq!(m.perf_events.ipc, None, "no IPC without cycles");
    }

    // A new client's replay carries the totals, not the depth.
    let mut late = connect(server.addr, "depth").await;
    let ServerMsg::History(history) = next_msg(&mut late).await else { panic!("history first") };
    assert!(!history.samples.is_empty());
    assert!(history.samples.iter().all(|s| s.cpu.percent.is_some() && s.cpu_detail == Default::default()));

    server.stop().await;
}
