use std::path::Path;

use shared::api::RunOutcome;

use super::*;
use crate::collect::memory::MemoryReading;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
}

fn config(text: &str) -> Arc<AlertConfig> {
    Arc::new(AlertConfig::parse(Path::new("config.toml"), text).expect("config"))
}

fn sample(s: i64) -> HostSample {
    let mut sample = HostSample { taken_at: at(s), ..HostSample::default() };
    sample.cpu.per_core = vec![0.0; 2];
    sample
}

fn run(id: &str) -> RunSummary {
    RunSummary::started(id.into(), "demo".into(), Some("job".into()), 4242, at(0))
}

fn tick(
    engine: &mut Engine,
    s: i64,
    sample: HostSample,
    runs: Vec<(RunSummary, TreeReading)>,
) -> Vec<AlertEvent> {
    let mut sample = sample;
    sample.taken_at = at(s);
    engine.observe(&Record::Tick { sample: Arc::new(sample), runs }, at(s))
}

fn rules(events: &[AlertEvent]) -> Vec<(&str, AlertState)> {
    events.iter().map(|e| (e.rule.as_str(), e.state)).collect()
}

fn ended(
    mut s: RunSummary,
    at_s: i64,
    outcome: RunOutcome,
    exit: Option<i32>,
    signal: Option<i32>,
) -> RunSummary {
    s.end(at(at_s), outcome);
    (s.exit_code, s.signal) = (exit, signal);
    s
}

#[test]
fn a_run_that_exits_with_its_code_reported_finishes_once() {
    let mut engine = Engine::new(config(""), 1);
    assert!(engine.observe(&Record::Run(run("r1")), at(0)).is_empty());
    let end = ended(run("r1"), 10, RunOutcome::Exited, Some(0), None);
    // The exit report came first: it waits for a tick after the end (the OOM count).
    assert!(engine.observe(&Record::Run(end.clone()), at(10)).is_empty());
    let events = tick(&mut engine, 11, sample(11), vec![]);
    assert_eq!(rules(&events), vec![("run_finished", AlertState::Event)]);
    assert_eq!(events[0].title, "Run “job” finished");
    assert!(events[0].message.contains("exit 0 after 10 s"), "{}", events[0].message);
    assert_eq!((events[0].project.as_deref(), events[0].run_id.as_deref()), (Some("demo"), Some("r1")));
    // A later record of the same run (its tokens read once more) says nothing.
    assert!(engine.observe(&Record::Run(end), at(12)).is_empty());
    assert!(engine.due(at(30)).is_empty());
}

#[test]
fn an_end_the_tick_saw_first_waits_for_the_exit_report() {
    let mut engine = Engine::new(config(""), 1);
    engine.observe(&Record::Run(run("r1")), at(0));
    tick(&mut engine, 10, sample(10), vec![]);
    let noticed = ended(run("r1"), 10, RunOutcome::Exited, None, None);
    assert!(engine.observe(&Record::Run(noticed), at(10)).is_empty());
    let reported = ended(run("r1"), 10, RunOutcome::Exited, Some(2), None);
    let events = engine.observe(&Record::Run(reported), at(11));
    assert_eq!(rules(&events), vec![("run_failed", AlertState::Event)]);
    assert_eq!(events[0].title, "Run “job” failed: exit 2");
    assert_eq!(events[0].severity, Severity::Warning);
}

#[test]
fn without_an_exit_report_the_end_goes_out_after_the_grace() {
    let mut engine = Engine::new(config(""), 1);
    engine.observe(&Record::Run(run("r1")), at(0));
    let noticed = ended(run("r1"), 10, RunOutcome::Exited, None, None);
    assert!(engine.observe(&Record::Run(noticed), at(10)).is_empty());
    assert_eq!(engine.next_due(), Some(at(15)));
    assert!(engine.due(at(14)).is_empty());
    let events = engine.due(at(15));
    assert_eq!(rules(&events), vec![("run_finished", AlertState::Event)]);
    assert!(events[0].message.contains("exit code unknown"), "{}", events[0].message);
}

#[test]
fn sigkill_is_an_oom_kill_only_when_the_kernel_counted_one() {
    for (before, after, rule, words) in [
        (Some(3), Some(4), "run_oom", "OOM killer"),
        (Some(3), Some(3), "run_failed", "cause unknown: the kernel's OOM-kill count did not rise"),
        (None, None, "run_failed", "cannot be read"),
    ] {
        let mut engine = Engine::new(config(""), 1);
        let mut s = sample(0);
        s.depth.paging.oom_kills = before;
        tick(&mut engine, 0, s, vec![]);
        engine.observe(&Record::Run(run("r1")), at(0));
        let killed = ended(run("r1"), 10, RunOutcome::Killed, None, Some(9));
        engine.observe(&Record::Run(killed), at(10));
        let mut s = sample(11);
        s.depth.paging.oom_kills = after;
        let events = tick(&mut engine, 11, s, vec![]);
        assert_eq!(rules(&events), vec![(rule, AlertState::Event)], "{before:?} {after:?}");
        assert!(events[0].message.contains(words), "{}", events[0].message);
        assert!(events[0].message.contains("killed by SIGKILL"), "{}", events[0].message);
    }
}

#[test]
fn an_end_first_heard_of_at_a_start_is_alerted_and_says_so() {
    // The store hands a start the ends the alerts never saw: the run ended
    // while PerfMon was down, its exit known (a report kept by `perfmon run`)
    // or not (marked interrupted).
    for (outcome, exit, signal, rule, words) in [
        (RunOutcome::Exited, Some(0), None, "run_finished", "exit 0 after 10 s"),
        (RunOutcome::Interrupted, None, None, "run_failed", "PerfMon stopped while it ran"),
        (RunOutcome::Killed, None, Some(9), "run_failed", "killed by SIGKILL while PerfMon was not watching"),
    ] {
        let mut engine = Engine::new(config(""), 1);
        let mut s = sample(100);
        s.depth.paging.oom_kills = Some(3);
        tick(&mut engine, 100, s, vec![]);
        let late = ended(run("r1"), 10, outcome, exit, signal);
        let mut events = engine.observe_late(&late, at(101));
        if exit.is_none() && signal.is_none() {
            // No exit to wait for beyond the grace.
            assert!(events.is_empty());
            events = engine.due(at(106));
        }
        assert_eq!(rules(&events), vec![(rule, AlertState::Event)], "{outcome:?}");
        let message = &events[0].message;
        assert!(message.contains(words), "{message}");
        assert!(message.contains("It ended while PerfMon was not running"), "{message}");
        assert_eq!(engine.take_ended(), vec!["r1".to_owned()], "the store is told it went through");
        assert!(engine.reported("r1"));
        assert!(
            engine.observe_late(&ended(run("r1"), 10, outcome, exit, signal), at(120)).is_empty(),
            "once"
        );
    }
    // A live run's end seen first in its ended record (a resumed run that dies
    // before its first tick) is no late one.
    let mut engine = Engine::new(config(""), 1);
    tick(&mut engine, 100, sample(100), vec![]);
    let events =
        engine.observe(&Record::Run(ended(run("r2"), 100, RunOutcome::Exited, Some(0), None)), at(100));
    let events = if events.is_empty() { tick(&mut engine, 101, sample(101), vec![]) } else { events };
    assert_eq!(rules(&events), vec![("run_finished", AlertState::Event)]);
    assert!(!events[0].message.contains("not running"), "{}", events[0].message);
}

#[test]
fn a_run_first_heard_of_in_a_tick_still_counts_an_oom_kill() {
    // A restarted server follows a live run again without a new record: the
    // engine first hears of it in a tick, the kill rising in that tick or later.
    for first_count in [Some(4), Some(3)] {
        let mut engine = Engine::new(config(""), 1);
        let mut s = sample(0);
        s.depth.paging.oom_kills = Some(3);
        tick(&mut engine, 0, s, vec![]);
        let mut s = sample(1);
        s.depth.paging.oom_kills = first_count;
        tick(&mut engine, 1, s, vec![(run("r1"), TreeReading::default())]);
        let killed = ended(run("r1"), 10, RunOutcome::Killed, None, Some(9));
        engine.observe(&Record::Run(killed), at(10));
        let mut s = sample(11);
        s.depth.paging.oom_kills = Some(4);
        let events = tick(&mut engine, 11, s, vec![]);
        assert_eq!(rules(&events), vec![("run_oom", AlertState::Event)], "{first_count:?}");
    }
}

#[test]
fn a_tick_that_still_lists_an_ended_run_does_not_bring_it_back() {
    let mut engine = Engine::new(config(""), 1);
    engine.observe(&Record::Run(run("r1")), at(0));
    let end = ended(run("r1"), 10, RunOutcome::Exited, Some(0), None);
    engine.observe(&Record::Run(end), at(10));
    assert_eq!(rules(&tick(&mut engine, 11, sample(11), vec![])), vec![("run_finished", AlertState::Event)]);
    tick(&mut engine, 12, sample(12), vec![(run("r1"), TreeReading::default())]);
    assert_eq!(engine.next_due(), None);
    assert!(engine.runs.is_empty(), "{:?}", engine.runs.keys());
}

#[test]
fn a_flapping_run_series_fires_once_and_resolves_once_with_one_id() {
    let rule = "[[alerts.rule]]\nname = \"busy\"\nseries = \"run.process_count\"\nabove = 4\nclear = 2\nfor = \"2s\"\n";
    let mut engine = Engine::new(config(rule), 7);
    let tree = |n| TreeReading { process_count: n, ..TreeReading::default() };
    let mut events = Vec::new();
    for (s, n) in [1, 5, 6, 5, 3, 5, 3, 5, 1].into_iter().enumerate() {
        events.extend(tick(&mut engine, s as i64, sample(s as i64), vec![(run("r1"), tree(n))]));
    }
    assert_eq!(rules(&events), vec![("busy", AlertState::Firing), ("busy", AlertState::Resolved)]);
    assert_eq!((events[0].id, events[1].id), (7, 7));
    assert_eq!(events[0].title, "busy: run.process_count above 4 (5)");
    assert_eq!((events[0].value, events[0].threshold), (Some(5.0), Some(4.0)));
    assert_eq!((events[1].value, events[1].threshold), (Some(1.0), Some(2.0)));
    assert_eq!(
        events[1].resolved_at.as_ref().map(|t| t.as_str().to_owned()),
        Some(crate::sampling::timestamp_millis(at(8)).0)
    );
    assert_eq!(events[0].run_id.as_deref(), Some("r1"));
}

#[test]
fn low_memory_fires_after_its_minute_names_a_process_and_resolves_above_the_clear_level() {
    let mut engine = Engine::new(config(""), 1);
    let memory = |available_percent: u64| MemoryReading {
        total_bytes: 100 << 30,
        used_bytes: (100 - available_percent) << 30,
        ..MemoryReading::default()
    };
    let with = |s, m| HostSample { memory: Some(m), ..sample(s) };
    assert!(tick(&mut engine, 0, with(0, memory(4)), vec![]).is_empty());
    assert!(tick(&mut engine, 59, with(59, memory(3)), vec![]).is_empty());
    let fired = tick(&mut engine, 60, with(60, memory(3)), vec![]);
    assert_eq!(rules(&fired), vec![("memory_low", AlertState::Firing)]);
    assert_eq!(fired[0].severity, Severity::Critical);
    assert!(fired[0].message.contains("3.0 GB of 100.0 GB available"), "{}", fired[0].message);
    assert!(fired[0].message.contains("biggest process:"), "{}", fired[0].message);
    assert!(tick(&mut engine, 61, with(61, memory(8)), vec![]).is_empty());
    assert_eq!(
        rules(&tick(&mut engine, 62, with(62, memory(12)), vec![])),
        vec![("memory_low", AlertState::Resolved)]
    );
}

#[test]
fn a_still_run_stalls_and_its_alert_resolves_when_it_ends() {
    let mut engine = Engine::new(config("[alerts.defaults.run_stalled]\nfor = \"3s\"\n"), 1);
    engine.observe(&Record::Run(run("r1")), at(0));
    let still = |io| TreeReading {
        cpu_percent: Some(0.0),
        counters: Some(crate::sampling::TreeCounters {
            read_bytes: Some(io),
            write_bytes: Some(0),
            ..Default::default()
        }),
        ..TreeReading::default()
    };
    let mut events = Vec::new();
    // A tree's first reading has no CPU rate: it starts no hold.
    let first = TreeReading { cpu_percent: None, ..still(100) };
    for s in 0..5 {
        events.extend(tick(&mut engine, s, sample(s), vec![(run("r1"), first.clone())]));
    }
    assert_eq!(rules(&events), vec![]);
    for s in 0..5 {
        events.extend(tick(&mut engine, s, sample(s), vec![(run("r1"), still(100))]));
    }
    assert_eq!(rules(&events), vec![("run_stalled", AlertState::Firing)]);
    // IO resets nothing once firing until it is seen: any activity resolves it.
    let active = tick(&mut engine, 5, sample(5), vec![(run("r1"), still(200))]);
    assert_eq!(rules(&active), vec![("run_stalled", AlertState::Resolved)]);
    for s in 6..10 {
        events.extend(tick(&mut engine, s, sample(s), vec![(run("r1"), still(200))]));
    }
    engine.observe(&Record::Run(ended(run("r1"), 10, RunOutcome::Exited, Some(0), None)), at(10));
    let end = tick(&mut engine, 11, sample(11), vec![]);
    assert_eq!(rules(&end), vec![("run_stalled", AlertState::Resolved), ("run_finished", AlertState::Event)]);
    assert!(end[0].message.contains("The run ended"), "{}", end[0].message);
}

#[test]
fn a_full_filesystem_fires_per_mount_and_a_disabled_rule_never_does() {
    let full = |s| {
        let mut sample = sample(s);
        sample.depth.filesystems.filesystems = vec![shared::depth::disks::Filesystem {
            device: "/dev/vda1".into(),
            mount_point: Some("/".into()),
            used_percent: Some(97.0),
            free_gb: Some(1.5),
            ..Default::default()
        }];
        sample
    };
    let mut engine = Engine::new(config(""), 1);
    let events = tick(&mut engine, 0, full(0), vec![]);
    assert_eq!(rules(&events), vec![("filesystem_full", AlertState::Firing)]);
    assert_eq!(events[0].title, "Filesystem / is 97.0 % full");
    let mut quiet = Engine::new(config("[alerts.defaults.filesystem_full]\nenabled = false\n"), 1);
    assert!(tick(&mut quiet, 0, full(0), vec![]).is_empty());
}

#[test]
fn a_full_filesystem_that_is_unmounted_resolves_but_not_when_the_list_is_unread() {
    let mounts = |s, mounts: &[&str], available| {
        let mut sample = sample(s);
        sample.depth.filesystems.available = available;
        sample.depth.filesystems.filesystems = mounts
            .iter()
            .map(|m| shared::depth::disks::Filesystem {
                device: format!("dev{m}"),
                mount_point: Some((*m).into()),
                used_percent: Some(97.0),
                ..Default::default()
            })
            .collect();
        sample
    };
    let mut engine = Engine::new(config(""), 1);
    let events = tick(&mut engine, 0, mounts(0, &["/", "/mnt/backup"], true), vec![]);
    assert_eq!(rules(&events).len(), 2);
    // The mount table could not be read: nothing is known to be gone.
    assert!(tick(&mut engine, 1, mounts(1, &[], false), vec![]).is_empty());
    let events = tick(&mut engine, 2, mounts(2, &["/"], true), vec![]);
    assert_eq!(rules(&events), vec![("filesystem_full", AlertState::Resolved)]);
    assert_eq!(events[0].title, "Resolved: Filesystem /mnt/backup is 97.0 % full");
    assert!(events[0].message.contains("no longer mounted"), "{}", events[0].message);
    assert!(tick(&mut engine, 3, mounts(3, &["/"], true), vec![]).is_empty());
}

#[test]
fn the_oom_kill_line_of_a_cgroup_file_is_read() {
    assert_eq!(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), Some(2));
    assert_eq!(parse_oom_kill("low 0\nhigh 0\nmax 1\noom 1\noom_kill 1\n"), Some(1));
    assert_eq!(parse_oom_kill("oom_kill_disable 0\n"), None);
}

#[test]
fn a_run_holding_memory_on_an_idle_gpu_fires_and_freeing_it_resolves() {
    let mut engine = Engine::new(config("[alerts.defaults.gpu_idle]\nfor = \"2s\"\n"), 1);
    let holding = |bytes: u64, busy: f64| TreeReading {
        gpu_memory_bytes: Some(bytes),
        gpu_percent: Some(busy),
        ..TreeReading::default()
    };
    let mut events = Vec::new();
    for s in 0..3 {
        events.extend(tick(&mut engine, s, sample(s), vec![(run("r1"), holding(8 << 30, 0.0))]));
    }
    assert_eq!(rules(&events), vec![("gpu_idle", AlertState::Firing)]);
    assert!(events[0].message.contains("holds 8.0 GB of GPU memory"), "{}", events[0].message);
    // Busy at 3 % is not clear (5 %); freeing the memory is.
    assert!(tick(&mut engine, 3, sample(3), vec![(run("r1"), holding(8 << 30, 3.0))]).is_empty());
    let freed = tick(&mut engine, 4, sample(4), vec![(run("r1"), holding(0, 0.0))]);
    assert_eq!(rules(&freed), vec![("gpu_idle", AlertState::Resolved)]);
    // A GPU whose use cannot be told never fires it.
    let unknown = TreeReading { gpu_memory_bytes: Some(1 << 30), ..TreeReading::default() };
    let mut quiet = Engine::new(config("[alerts.defaults.gpu_idle]\nfor = \"0s\"\n"), 1);
    assert!(tick(&mut quiet, 0, sample(0), vec![(run("r2"), unknown)]).is_empty());
}

#[test]
fn a_rule_that_repeats_sends_its_firing_again_with_the_same_id() {
    let rule = "[[alerts.rule]]\nname = \"hot\"\nseries = \"cpu.percent\"\nabove = 90\nrepeat = \"2s\"\n";
    let mut engine = Engine::new(config(rule), 1);
    let hot = |s| {
        let mut sample = sample(s);
        sample.cpu.percent = Some(95.0);
        sample
    };
    let mut events = Vec::new();
    for s in 0..5 {
        events.extend(tick(&mut engine, s, hot(s), vec![]));
    }
    assert_eq!(rules(&events), vec![("hot", AlertState::Firing); 3]);
    assert!(events.iter().all(|e| e.id == 1 && e.project.is_none()));
}
