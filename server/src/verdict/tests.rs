//! Every rule and boundary on synthetic counters.

use shared::why::{CountedFrom, LiveState, RunCounters, RunPerf, RunPerfEvent, Share, ShareKind, Verdict};

use super::*;

/// A run of `wall_s` with `cpu_s` on CPU and every other figure measured and
/// zero (the run did some IO and faulted, so the machine's stalls are its).
fn run(wall_s: f64, cpu_s: f64) -> RunCounters {
    RunCounters {
        wall_s,
        cpu_user_s: Some(cpu_s),
        cpu_system_s: Some(0.0),
        cpu_wait_s: Some(0.0),
        voluntary_switches: Some(10),
        involuntary_switches: Some(3),
        read_bytes: Some(4096),
        write_bytes: Some(1 << 30),
        minor_faults: Some(100),
        major_faults: Some(7),
        io_some_s: Some(0.0),
        io_full_s: Some(0.0),
        memory_some_s: Some(0.0),
        memory_full_s: Some(0.0),
        cpu_some_s: Some(0.0),
        swap_in_pages: Some(0),
        swap_out_pages: Some(0),
        machine_cpu_saturated_s: Some(0.0),
        machine_steal_s: Some(0.0),
        ..RunCounters::default()
    }
}

fn share(v: &Verdict, kind: ShareKind) -> Option<&Share> {
    v.shares.iter().chain(&v.gpu_shares).find(|s| s.kind == kind)
}

fn percent(v: &Verdict, kind: ShareKind) -> Option<f64> {
    share(v, kind).map(|s| s.percent)
}

fn evidence(v: &Verdict, kind: ShareKind) -> &str {
    share(v, kind).map(|s| s.evidence.as_str()).unwrap_or_else(|| panic!("no {kind:?} share in {v:#?}"))
}

fn total(v: &Verdict) -> f64 {
    v.shares.iter().map(|s| s.percent).sum()
}

fn assert_whole(v: &Verdict) {
    assert!((total(v) - 100.0).abs() < 1e-9, "the bar adds up to 100: {v:#?}");
    for s in v.shares.iter().chain(&v.gpu_shares) {
        assert!((0.0..=100.0).contains(&s.percent), "{s:?}");
    }
}

#[test]
fn a_run_under_ten_seconds_is_too_short_and_one_of_ten_is_judged() {
    let v = judge(&run(9.9, 9.0), 2);
    assert!(!v.judged);
    assert_eq!(v.headline, "Too short to judge: 9.9 s (needs 10 s)");
    assert!(v.shares.is_empty() && v.gpu_shares.is_empty() && v.bound.is_none());
    assert_eq!(judge(&run(4.0, 1.0), 2).headline, "Too short to judge: 4 s (needs 10 s)");
    // Cut, not rounded: 9.96 s never reads as the 10 s it lacks.
    assert_eq!(judge(&run(9.96, 1.0), 2).headline, "Too short to judge: 9.9 s (needs 10 s)");
    assert!(!judge(&run(f64::NAN, 1.0), 2).judged, "a NaN wall time is not judged");
    let infinite = judge(&run(f64::INFINITY, 1.0), 2);
    assert!(!infinite.judged, "an infinite wall time is not judged: {}", infinite.headline);
    assert_eq!(infinite.headline, "Not measured: the run's wall time reads inf");

    let v = judge(&run(10.0, 9.0), 2);
    assert!(v.judged, "{v:#?}");
    assert_eq!(v.bound, Some(ShareKind::Cpu));
    assert_whole(&v);
}

#[test]
fn a_run_without_its_cpu_time_is_not_measured_and_says_why() {
    let mut c = run(60.0, 1.0);
    c.cpu_system_s = None;
    c.not_measured.insert("cpu_system_s".into(), "the process was gone (ESRCH)".into());
    let v = judge(&c, 2);
    assert!(!v.judged);
    assert_eq!(
        v.headline,
        "Not measured: the run's CPU time could not be read (the process was gone (ESRCH))"
    );
    let v = judge(&RunCounters::default(), 2);
    assert_eq!(v.headline, "Not measured: the run's CPU time was not read");
    assert!(v.shares.is_empty());
    let mut c = run(60.0, f64::NAN);
    c.cpu_system_s = Some(0.0);
    assert!(!judge(&c, 2).judged, "a NaN is not a measurement");
}

#[test]
fn a_cpu_bound_run_names_its_cores_and_the_wait_behind_other_processes() {
    let wall = 41.0 * 60.0;
    let mut c = run(wall, 0.0);
    c.cpu_user_s = Some(0.80 * wall);
    c.cpu_system_s = Some(0.02 * wall);
    c.cpu_wait_s = Some(0.12 * wall);
    let v = judge(&c, 2);
    assert_eq!(
        v.headline,
        "CPU-bound on 1 of 2 cores for 82 % of its 41 min; 12 % waiting for a CPU behind other processes"
    );
    assert_eq!((v.cores, v.cores_busy, v.bound), (Some(2), Some(0.82), Some(ShareKind::Cpu)));
    assert_eq!(percent(&v, ShareKind::Cpu), Some(82.0));
    assert_eq!(percent(&v, ShareKind::CpuWait), Some(12.0));
    assert_eq!(percent(&v, ShareKind::Idle), Some(6.0));
    assert_eq!(v.shares.iter().map(|s| s.kind).collect::<Vec<_>>(), BAR.to_vec(), "in the bar's order");
    assert!(
        evidence(&v, ShareKind::Cpu)
            .starts_with("CPU 33 min user + 49.2 s system over 41 min: 0.82 of 2 cores")
    );
    assert!(
        evidence(&v, ShareKind::CpuWait).contains(
            "run-queue delay 4 min 55 s summed over its threads (schedstat), behind other processes"
        ),
        "{}",
        evidence(&v, ShareKind::CpuWait)
    );
    assert!(v.gpu_shares.is_empty(), "no GPU, no GPU shares");
    assert_whole(&v);
}

#[test]
fn a_run_busy_on_more_than_one_core_is_on_cpu_the_whole_time_and_its_queueing_overlaps() {
    let mut c = run(20.0, 32.0);
    c.cpu_wait_s = Some(6.0);
    let v = judge(&c, 2);
    assert_eq!(v.headline, "CPU-bound on 1.6 of 2 cores for 100 % of its 20 s");
    assert_eq!((percent(&v, ShareKind::Cpu), percent(&v, ShareKind::CpuWait)), (Some(100.0), Some(0.0)));
    assert!(evidence(&v, ShareKind::Cpu).contains("more than one core at once"));
    assert!(evidence(&v, ShareKind::CpuWait).contains("6.0 s of it fell in time already counted above"));
    assert_eq!(v.cores_busy, Some(1.6));
    assert_whole(&v);
}

#[test]
fn a_run_behind_two_burners_on_its_core_waits_for_a_cpu() {
    let mut c = run(30.0, 10.0);
    c.cpu_wait_s = Some(20.0);
    c.cpu_some_s = Some(20.0);
    let v = judge(&c, 2);
    assert_eq!(v.bound, Some(ShareKind::CpuWait));
    assert_eq!(v.headline, "Waiting for a CPU 67 % of its 30 s, behind other processes; 33 % on CPU");
    assert!(
        evidence(&v, ShareKind::CpuWait)
            .contains("some task waited for a CPU 67 % of the time (PSI cpu some)")
    );
    assert_whole(&v);
}

#[test]
fn waiting_behind_its_own_threads_starts_at_ninety_percent_of_the_cores_and_the_second_share_at_ten() {
    // One core, kept 90 % busy by the run: the 10 % it queued was behind itself.
    let mut c = run(100.0, 90.0);
    c.cpu_wait_s = Some(10.0);
    let v = judge(&c, 1);
    assert_eq!(
        v.headline,
        "CPU-bound on its 1 core for 90 % of its 1 min 40 s; 10 % waiting for a CPU behind its own threads"
    );
    let mut c = run(100.0, 89.9);
    c.cpu_wait_s = Some(10.1);
    assert!(judge(&c, 1).headline.ends_with("10 % waiting for a CPU behind other processes"));
    // A second share under 10 % is left out of the headline.
    let mut c = run(100.0, 90.1);
    c.cpu_wait_s = Some(9.9);
    assert_eq!(judge(&c, 1).headline, "CPU-bound on its 1 core for 90 % of its 1 min 40 s");
    // Exactly 90 % of 13 cores busy is its own threads (0.9 × 13 is a hair
    // over 11.7 in floating point).
    let mut thirteen = run(100.0, 1170.0);
    thirteen.cpu_wait_s = Some(500.0);
    let v = judge(&thirteen, 13);
    let e = evidence(&v, ShareKind::CpuWait);
    assert!(e.contains("behind its own threads"), "{e}");
    // 9.94 % that the bar shows as 10.0 % (its largest remainder) is named.
    let mut shown = run(100.0, 85.03);
    shown.cpu_wait_s = Some(9.94);
    let v = judge(&shown, 2);
    assert_eq!(percent(&v, ShareKind::CpuWait), Some(10.0), "{v:#?}");
    assert!(v.headline.contains("; 10 % waiting for a CPU behind other processes"), "{}", v.headline);
    // Cores unknown: said without them.
    let v = judge(&run(100.0, 90.0), 0);
    assert_eq!(
        (v.cores, v.headline.as_str()),
        (None, "CPU-bound on 1 core for 90 % of its 1 min 40 s; 10 % idle, waiting outside the machine")
    );
}

#[test]
fn an_fsync_loop_is_io_stalled_and_the_machine_wide_figure_is_named_as_such() {
    let mut c = run(60.0, 3.0);
    c.io_some_s = Some(48.0);
    c.io_full_s = Some(40.0);
    let v = judge(&c, 2);
    assert_eq!(v.bound, Some(ShareKind::Io));
    assert_eq!(v.headline, "IO-stalled 80 % of its 1 min; 15 % idle, waiting outside the machine");
    let e = evidence(&v, ShareKind::Io);
    assert!(e.contains("PSI io some, machine-wide, every task at once 40.0 s (io full)"), "{e}");
    assert!(e.contains("the run read 4.0 KiB and wrote 1.0 GiB to storage"), "{e}");
    assert_whole(&v);
}

#[test]
fn the_machines_io_stall_is_not_the_runs_when_it_did_no_io() {
    let mut c = run(60.0, 3.0);
    c.io_some_s = Some(48.0);
    c.read_bytes = Some(0);
    c.write_bytes = Some(0);
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::Io), Some(0.0), "measured: none of it the run's");
    assert_eq!(v.bound, Some(ShareKind::Idle));
    assert!(
        evidence(&v, ShareKind::Io).ends_with("but the run read and wrote nothing to storage: not its stall")
    );
    // Unknown bytes: the machine's stall is charged, and the evidence says so.
    c.read_bytes = None;
    c.not_measured.insert("read_bytes".into(), "EACCES".into());
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::Io), Some(80.0));
    assert!(evidence(&v, ShareKind::Io).contains("the run's storage bytes not measured (EACCES)"));
}

#[test]
fn memory_stall_comes_before_io_and_needs_faults_or_swap_to_be_the_runs() {
    let mut c = run(100.0, 10.0);
    c.memory_some_s = Some(50.0);
    c.io_some_s = Some(50.0);
    c.major_faults = Some(12_000);
    c.swap_in_pages = Some(3000);
    let v = judge(&c, 2);
    assert_eq!(v.bound, Some(ShareKind::Memory));
    assert_eq!(
        [ShareKind::Cpu, ShareKind::Memory, ShareKind::Io, ShareKind::Idle].map(|k| percent(&v, k)),
        [Some(10.0), Some(50.0), Some(40.0), Some(0.0)]
    );
    assert_eq!(v.headline, "Memory-stalled 50 % of its 1 min 40 s; 40 % stalled on IO");
    let e = evidence(&v, ShareKind::Memory);
    assert!(e.contains("the run had 12000 major faults; the machine swapped 3000 pages in and 0 out"), "{e}");
    assert!(evidence(&v, ShareKind::Io).contains("10.0 s of it fell in time already counted above"));
    assert_whole(&v);

    c.major_faults = Some(0);
    c.swap_in_pages = Some(0);
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::Memory), Some(0.0));
    assert!(evidence(&v, ShareKind::Memory).ends_with("not its stall"));
    assert_eq!(v.bound, Some(ShareKind::Io));

    // Nothing ties it, but a figure that might have was not measured: the
    // share is not measured either, neither 0 nor charged.
    for (faults, swap_in) in [(None, Some(0)), (Some(0), None)] {
        c.major_faults = faults;
        c.swap_in_pages = swap_in;
        c.not_measured.insert("major_faults".into(), "no /proc/PID/stat".into());
        c.not_measured.insert("swap_in_pages".into(), "no /proc/vmstat".into());
        let v = judge(&c, 2);
        assert_eq!(percent(&v, ShareKind::Memory), None, "{faults:?} {swap_in:?}: {v:#?}");
        assert_eq!(percent(&v, ShareKind::Io), Some(50.0), "IO takes its own stall");
        assert!(v.headline.contains("not measured: memory stall"), "{}", v.headline);
        let why = if faults.is_none() {
            "the run's major faults not read (no /proc/PID/stat)"
        } else {
            "the machine's pages swapped in not read (no /proc/vmstat)"
        };
        let e = evidence(&v, ShareKind::Idle);
        assert!(
            e.contains(&format!("may hold memory stall (not measured: {why}, so whose the machine's memory stall was cannot be told)")),
            "{e}"
        );
    }
    // A measured tie is enough, whatever else was not measured.
    c.major_faults = Some(5);
    c.swap_in_pages = None;
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::Memory), Some(50.0));
    assert!(evidence(&v, ShareKind::Memory).contains("swap not measured (no /proc/vmstat)"));
}

#[test]
fn a_sleeping_run_is_idle_waiting_outside_the_machine() {
    let mut c = run(720.0, 0.09 * 720.0);
    c.voluntary_switches = Some(4);
    let v = judge(&c, 2);
    assert_eq!(
        v.headline,
        "Idle 91 % of its 12 min: waiting outside the machine (an API, the network, a lock)"
    );
    assert!(evidence(&v, ShareKind::Idle).contains("4 voluntary context switches"));
    assert_whole(&v);
}

#[test]
fn figures_that_overlap_beyond_the_wall_time_are_clamped_in_order() {
    let mut c = run(100.0, 70.0);
    c.cpu_wait_s = Some(50.0);
    c.memory_some_s = Some(40.0);
    c.io_some_s = Some(90.0);
    let v = judge(&c, 4);
    assert_eq!(BAR.map(|k| percent(&v, k)), [Some(70.0), Some(30.0), Some(0.0), Some(0.0), Some(0.0)]);
    assert_whole(&v);
    // Negative figures count as none; NaN ones as not measured, never 0.
    let mut c = run(100.0, 50.0);
    c.cpu_wait_s = Some(-5.0);
    c.io_some_s = Some(f64::NAN);
    let v = judge(&c, 4);
    assert_eq!(percent(&v, ShareKind::CpuWait), Some(0.0));
    assert_eq!(percent(&v, ShareKind::Io), None);
    assert_whole(&v);
    // CPU past the wall time (a tree on several cores) is the whole bar.
    let v = judge(&run(100.0, 400.0), 4);
    assert_eq!(percent(&v, ShareKind::Cpu), Some(100.0));
    assert_eq!(v.cores_busy, Some(4.0));
    assert_whole(&v);
}

#[test]
fn thirds_add_up_to_exactly_one_hundred() {
    let mut c = run(30.0, 10.0);
    c.cpu_wait_s = Some(10.0);
    let v = judge(&c, 2);
    assert_eq!(BAR.map(|k| percent(&v, k)), [Some(33.4), Some(33.3), Some(0.0), Some(0.0), Some(33.3)]);
    assert_whole(&v);
}

#[test]
fn what_was_not_measured_is_left_out_and_said_never_zero() {
    let mut c = run(60.0, 30.0);
    c.cpu_wait_s = None;
    c.io_some_s = None;
    c.memory_some_s = None;
    c.not_measured.insert("cpu_wait_s".into(), "no schedstat (CONFIG_SCHED_INFO)".into());
    c.not_measured.insert("io_some_s".into(), "no /proc/pressure".into());
    let v = judge(&c, 2);
    assert!(v.judged);
    assert_eq!(v.shares.iter().map(|s| s.kind).collect::<Vec<_>>(), [ShareKind::Cpu, ShareKind::Idle]);
    assert_eq!(
        v.headline,
        "CPU-bound on 1 of 2 cores for 50 % of its 1 min; 50 % idle, waiting outside the machine; \
         not measured: waiting for a CPU, IO stall, memory stall"
    );
    let e = evidence(&v, ShareKind::Idle);
    assert!(e.contains("may hold waiting for a CPU (not measured: no schedstat (CONFIG_SCHED_INFO))"), "{e}");
    assert!(e.contains("may hold IO stall (not measured: no /proc/pressure)"), "{e}");
    assert!(e.contains("may hold memory stall (not measured: not read)"), "{e}");
    assert_whole(&v);
    let mut c = run(60.0, 30.0);
    c.involuntary_switches = None;
    c.not_measured.insert("involuntary_switches".into(), "no /proc/PID/status".into());
    let v = judge(&c, 2);
    assert!(
        evidence(&v, ShareKind::Cpu)
            .contains("involuntary context switches not measured (no /proc/PID/status)")
    );
}

#[test]
fn steal_at_ten_percent_of_the_machine_is_a_caveat_and_under_it_is_not() {
    // The meter integrates the machine-wide steal share: 10 s over 100 s is
    // 10 % of the machine's CPU, on any number of cores.
    let mut c = run(100.0, 90.0);
    c.machine_steal_s = Some(10.0);
    let v = judge(&c, 2);
    assert!(v.headline.ends_with("; 10 % of the machine's CPU stolen by the hypervisor"), "{}", v.headline);
    c.machine_steal_s = Some(9.9);
    assert!(!judge(&c, 2).headline.contains("stolen"));
    c.machine_steal_s = Some(40.0);
    for cores in [8, 0] {
        let v = judge(&c, cores);
        assert!(
            v.headline.ends_with("; 40 % of the machine's CPU stolen by the hypervisor"),
            "{}",
            v.headline
        );
    }
}

fn gpu_run(busy: f64, starved: f64) -> RunCounters {
    let mut c = run(100.0, 20.0);
    c.gpu_busy_s = Some(busy);
    c.gpu_idle_cpu_saturated_s = Some(starved);
    c.gpu_energy_j = Some(25_000.0);
    c.gpu_peak_memory_bytes = Some(8 << 30);
    c.not_measured.insert("gpu_process_percent".into(), "NVML per-process utilisation not supported".into());
    c
}

#[test]
fn a_gpu_busy_more_than_half_the_time_is_gpu_bound() {
    let v = judge(&gpu_run(50.0, 0.0), 2);
    assert_eq!(v.bound, Some(ShareKind::Idle), "exactly half is not more than half");
    let v = judge(&gpu_run(50.1, 0.0), 2);
    assert_eq!(v.bound, Some(ShareKind::GpuBusy));
    assert_eq!(
        v.headline,
        "GPU-bound: a GPU busy 50 % of its 1 min 40 s; 80 % idle, waiting outside the machine"
    );
    assert_eq!(
        v.gpu_shares.iter().map(|s| (s.kind, s.percent)).collect::<Vec<_>>(),
        [(ShareKind::GpuBusy, 50.1), (ShareKind::GpuStarved, 0.0), (ShareKind::GpuThrottled, 0.0)]
    );
    let e = evidence(&v, ShareKind::GpuBusy);
    assert!(e.contains("LowGPUUtilization"), "{e}");
    assert!(e.contains("not measured (NVML per-process utilisation not supported)"), "{e}");
    assert!(e.contains("25000 J, 250 W on average") && e.contains("8.0 GiB"), "{e}");
    assert!(evidence(&v, ShareKind::GpuThrottled).starts_with("no device the run used was throttled"));
    assert_eq!(percent(&v, ShareKind::GpuThrottled).map(f64::is_sign_positive), Some(true), "0, not -0");
    assert_eq!(percent_words(-0.0), "0 %");
    assert!(!evidence(&judge(&gpu_run(70.0, 0.0), 2), ShareKind::GpuBusy).contains("LowGPUUtilization"));
    assert_whole(&v);
}

#[test]
fn a_gpu_idle_under_a_saturated_cpu_more_than_half_the_time_is_input_bound() {
    let v = judge(&gpu_run(5.0, 50.0), 2);
    assert_ne!(v.bound, Some(ShareKind::GpuStarved), "exactly half is not more than half");
    let v = judge(&gpu_run(5.0, 50.1), 2);
    assert_eq!(v.bound, Some(ShareKind::GpuStarved));
    assert!(
        v.headline
            .starts_with("Input-bound: the GPU idle while the CPU was saturated 50 % of its 1 min 40 s")
    );
    assert!(evidence(&v, ShareKind::GpuStarved).contains("CPUBottleneck"));
}

#[test]
fn throttling_sums_its_reasons_up_to_the_wall_time_and_names_them() {
    let mut c = gpu_run(90.0, 0.0);
    c.gpu_throttled_s.insert("sw_power_cap".into(), 80.0);
    c.gpu_throttled_s.insert("hw_slowdown".into(), 40.0);
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::GpuThrottled), Some(100.0));
    assert!(v.headline.contains("; a GPU throttled 100 % (hw_slowdown, sw_power_cap)"), "{}", v.headline);
    let e = evidence(&v, ShareKind::GpuThrottled);
    assert!(
        e.contains("hw_slowdown 40.0 s + sw_power_cap 1 min 20 s") && e.contains("at least 1 min 20 s"),
        "{e}"
    );
    let mut c = gpu_run(90.0, 0.0);
    c.gpu_throttled_s.insert("sw_thermal_slowdown".into(), 10.0);
    assert!(judge(&c, 2).headline.contains("a GPU throttled 10 % (sw_thermal_slowdown)"));
    c.gpu_throttled_s.insert("sw_thermal_slowdown".into(), 9.9);
    assert!(!judge(&c, 2).headline.contains("throttled"));

    // Never throttled, as NVML answered: 0 %.
    let never = gpu_run(90.0, 0.0);
    assert_eq!(percent(&judge(&never, 2), ShareKind::GpuThrottled), Some(0.0));
    // No device answered its reasons: no share, not 0 %.
    let mut unanswered = gpu_run(90.0, 0.0);
    unanswered.not_measured.insert("gpu_throttled_s".into(), "NVML gives no clock-event reasons".into());
    assert_eq!(percent(&judge(&unanswered, 2), ShareKind::GpuThrottled), None);
    // Nor without the GPU's utilisation (a MIG device), whatever was held.
    let mut no_busy = gpu_run(90.0, 0.0);
    no_busy.gpu_busy_s = None;
    no_busy.gpu_throttled_s.insert("sw_power_cap".into(), 50.0);
    assert_eq!(percent(&judge(&no_busy, 2), ShareKind::GpuThrottled), None);
}

#[test]
fn a_run_counted_from_registration_says_so() {
    let mut c = run(60.0, 50.0);
    c.counted_from = CountedFrom::Registration;
    assert!(judge(&c, 2).headline.ends_with("; counted from its registration, not its start"));
}

#[test]
fn perf_counters_add_ipc_and_miss_ratios_with_perf_stats_colours_or_say_why_not() {
    let event = |value: f64| RunPerfEvent {
        available: true,
        value: Some(value),
        running_percent: Some(100.0),
        reason: None,
    };
    let mut perf = RunPerf { ipc: Some(1.25), ..RunPerf::default() };
    perf.events.insert("task-clock".into(), event(49_500.0));
    perf.events.insert("cache-references".into(), event(1000.0));
    perf.events.insert("cache-misses".into(), event(120.0));
    perf.events.insert("branches".into(), event(1000.0));
    perf.events.insert("branch-misses".into(), event(50.0));
    let mut c = run(60.0, 50.0);
    c.perf = Some(perf);
    let v = judge(&c, 2);
    let e = evidence(&v, ShareKind::Cpu);
    assert!(e.contains("perf stat task-clock 49.5 s; 1.25 instructions per cycle"), "{e}");
    assert!(
        e.contains("cache misses 12.0 % of cache-references (perf stat colours above 10 % magenta)"),
        "{e}"
    );
    assert!(
        e.contains("branch misses 5.0 % of branches") && !e.contains("above 5 %"),
        "5 % is not above 5 %: {e}"
    );

    let mut perf = RunPerf::default();
    let missing = RunPerfEvent {
        available: false,
        reason: Some("no PMU in this VM (ENOENT)".into()),
        ..RunPerfEvent::default()
    };
    perf.events.insert("cycles".into(), missing);
    c.perf = Some(perf);
    let e = judge(&c, 2).shares[0].evidence.clone();
    assert!(e.ends_with("; hardware counters not available (no PMU in this VM (ENOENT))"), "{e}");
}

#[test]
fn durations_read_as_words() {
    let cases = [
        (0.0, "0 s"),
        (4.0, "4 s"),
        (9.96, "9.9 s"),
        (10.0, "10 s"),
        (41.0, "41 s"),
        (180.0, "3 min"),
        (187.0, "3 min 7 s"),
        (599.6, "10 min"),
        (2460.0, "41 min"),
        (2489.0, "41 min"),
        (2490.0, "42 min"),
        (3569.0, "59 min"),
        (3570.0, "1 h"),
        (3599.0, "1 h"),
        (3600.0, "1 h"),
        (7500.0, "2 h 5 min"),
        (-3.0, "0 s"),
    ];
    for (seconds, words) in cases {
        assert_eq!(duration_words(seconds), words, "{seconds}");
    }
}

fn window(cpu_s: f64) -> RunCounters {
    run(30.0, cpu_s)
}

#[test]
fn a_live_window_gets_the_word_of_its_biggest_share() {
    assert_eq!(live_state(&window(29.0), 2), Some(LiveState::CpuBound));
    let mut c = window(5.0);
    c.cpu_wait_s = Some(20.0);
    assert_eq!(live_state(&c, 2), Some(LiveState::WaitingForCpu));
    let mut c = window(1.0);
    c.io_some_s = Some(25.0);
    assert_eq!(live_state(&c, 2), Some(LiveState::IoStalled));
    let mut c = window(1.0);
    c.memory_some_s = Some(25.0);
    assert_eq!(live_state(&c, 2), Some(LiveState::MemoryStalled));
    assert_eq!(live_state(&window(0.1), 2), Some(LiveState::Idle));
    let mut c = window(3.0);
    c.gpu_busy_s = Some(20.0);
    assert_eq!(live_state(&c, 2), Some(LiveState::GpuBound));
    let mut c = window(29.0);
    c.gpu_busy_s = Some(0.0);
    c.gpu_idle_cpu_saturated_s = Some(28.0);
    assert_eq!(live_state(&c, 2), Some(LiveState::CpuBound), "an input-bound loop waits on its CPU");
}

#[test]
fn a_live_window_too_short_or_without_cpu_time_has_no_word() {
    assert_eq!(live_state(&run(14.9, 14.0), 2), None);
    assert_eq!(live_state(&run(15.0, 14.0), 2), Some(LiveState::CpuBound));
    let mut c = window(29.0);
    c.cpu_user_s = None;
    assert_eq!(live_state(&c, 2), None);
}

fn verdict(shares: &[(ShareKind, f64)]) -> Verdict {
    let share = |&(kind, percent): &(ShareKind, f64)| Share { kind, percent, evidence: String::new() };
    Verdict {
        judged: true,
        shares: shares.iter().filter(|(k, _)| BAR.contains(k)).map(share).collect(),
        gpu_shares: shares.iter().filter(|(k, _)| !BAR.contains(k)).map(share).collect(),
        ..Verdict::default()
    }
}

#[test]
fn changes_name_shares_that_moved_five_points_or_more_biggest_first() {
    let before = verdict(&[
        (ShareKind::Cpu, 80.0),
        (ShareKind::Io, 4.0),
        (ShareKind::Memory, 4.1),
        (ShareKind::Idle, 11.9),
        (ShareKind::GpuBusy, 50.0),
    ]);
    let after = verdict(&[
        (ShareKind::Cpu, 49.0),
        (ShareKind::Io, 37.0),
        (ShareKind::Memory, 9.1),
        (ShareKind::Idle, 4.9),
        (ShareKind::GpuBusy, 54.9),
    ]);
    let moved = changes(&before, &after);
    let texts: Vec<&str> = moved.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "IO stall 4 % → 37 %",
            "On CPU 80 % → 49 %",
            "Idle (waiting outside) 12 % → 5 %",
            "Memory stall 4 % → 9 %"
        ]
    );
    assert_eq!((moved[0].kind, moved[0].before, moved[0].after), (ShareKind::Io, 4.0, 37.0));
    // 4.9 points (the GPU's) is not a change.
    assert!(moved.iter().all(|c| c.kind != ShareKind::GpuBusy));
}

#[test]
fn changes_need_two_judged_verdicts_and_skip_a_share_only_one_measured() {
    let before = verdict(&[(ShareKind::Cpu, 90.0), (ShareKind::Idle, 10.0)]);
    let after = verdict(&[(ShareKind::Cpu, 50.0), (ShareKind::Io, 40.0), (ShareKind::Idle, 10.0)]);
    assert_eq!(changes(&before, &after).iter().map(|c| c.kind).collect::<Vec<_>>(), [ShareKind::Cpu]);
    // Waiting for a CPU measured in the first run only: its 30 % is idle in
    // the second, which did not wait less, it could not tell. Idle is not
    // compared; on CPU (handed out first) still is.
    let waited = verdict(&[(ShareKind::Cpu, 60.0), (ShareKind::CpuWait, 30.0), (ShareKind::Idle, 10.0)]);
    let unknown = verdict(&[(ShareKind::Cpu, 50.0), (ShareKind::Idle, 50.0)]);
    assert_eq!(changes(&waited, &unknown).iter().map(|c| c.kind).collect::<Vec<_>>(), [ShareKind::Cpu]);
    // Memory measured in one run only: IO, handed out after it, is not compared.
    let with_memory = verdict(&[(ShareKind::Cpu, 20.0), (ShareKind::Memory, 30.0), (ShareKind::Io, 10.0)]);
    let without = verdict(&[(ShareKind::Cpu, 20.0), (ShareKind::Io, 40.0)]);
    assert!(changes(&with_memory, &without).is_empty());
    let unjudged = Verdict { judged: false, ..before.clone() };
    assert!(changes(&unjudged, &after).is_empty());
    assert!(changes(&after, &unjudged).is_empty());
    assert!(changes(&after, &after).is_empty(), "nothing moved");
    // Whole runs through judge: an IO stall that appeared.
    let calm = judge(&run(60.0, 57.0), 2);
    let mut c = run(60.0, 36.0);
    c.io_some_s = Some(22.0);
    let texts: Vec<String> = changes(&calm, &judge(&c, 2)).into_iter().map(|c| c.text).collect();
    assert_eq!(texts, ["IO stall 0 % → 37 %", "On CPU 95 % → 60 %"]);
}

#[test]
fn children_nobody_waited_for_are_on_cpu_by_the_task_clock() {
    // A parent ignoring SIGCHLD forked 42 burners: the kernel reaped them and
    // its totals kept 0.14 s; the inherited task-clock counted their 8.6 s.
    let clock = |ms: f64| RunPerf {
        events: [(
            "task-clock".to_owned(),
            RunPerfEvent { available: true, value: Some(ms), ..RunPerfEvent::default() },
        )]
        .into(),
        ..RunPerf::default()
    };
    let mut c = run(11.1, 0.08);
    c.cpu_system_s = Some(0.06);
    c.perf = Some(clock(8_577.7));
    let v = judge(&c, 2);
    assert_eq!(v.bound, Some(ShareKind::Cpu), "{v:#?}");
    assert_eq!(percent(&v, ShareKind::Cpu), Some(77.3), "{v:#?}");
    assert_eq!(v.cores_busy, Some(0.77));
    let e = evidence(&v, ShareKind::Cpu);
    assert!(
        e.starts_with(
            "CPU 8.6 s by perf's task-clock, which keeps the time of processes nobody waited for \
             (the kernel's totals, which lose it: 0.1 s user + 0.1 s system) over 11 s"
        ),
        "{e}"
    );

    // The clock a hair over the totals is the same time: the totals are said.
    c.perf = Some(clock(145.0));
    let e = evidence(&judge(&c, 2), ShareKind::Cpu).to_owned();
    assert!(e.starts_with("CPU 0.1 s user + 0.1 s system over 11 s"), "{e}");

    // Only the system time missing: its own reason is given.
    c.cpu_system_s = None;
    c.not_measured.insert("cpu_system_s".into(), "stime unreadable".into());
    let e = evidence(&judge(&c, 2), ShareKind::Cpu).to_owned();
    assert!(e.contains("(the kernel's totals not measured: stime unreadable)"), "{e}");

    // No totals at all: the clock alone, and why the totals are missing.
    c.perf = Some(clock(8_577.7));
    (c.cpu_user_s, c.cpu_system_s) = (None, None);
    c.not_measured.insert("cpu_user_s".into(), "getrusage(RUSAGE_CHILDREN) failed".into());
    let v = judge(&c, 2);
    assert_eq!(percent(&v, ShareKind::Cpu), Some(77.3), "{v:#?}");
    assert!(
        evidence(&v, ShareKind::Cpu).starts_with(
            "CPU 8.6 s by perf's task-clock (the kernel's totals not measured: getrusage(RUSAGE_CHILDREN) failed)"
        ),
        "{v:#?}"
    );
}
