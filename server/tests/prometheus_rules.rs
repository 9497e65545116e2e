//! The Prometheus packaging (`packaging/prometheus/`): the alerting rules pass
//! `promtool check rules` and their unit tests (`promtool test rules`), every
//! alert has a unit test, the Alertmanager example passes `amtool check-config`
//! and routes each severity to its receiver, and the rules name only what a
//! real PerfMon serves: every `perfmon_` name in their expressions is on its
//! `/metrics`, and the unit tests' series carry the labels PerfMon gives them.
//! The server runs on fake GPUs (the `fake-nvml` crate) with a run holding
//! memory on one, so the GPU and run families are there as on a GPU machine.
//!
//! The tools are Debian's (promtool 2.42, amtool 0.25), unpacked without their
//! services by scripts/setup.sh into `$TOOLS_DIR/debian/usr/bin`; a missing
//! tool fails the test, saying to run setup.sh.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fake_nvml::{Config, Device, FakeGpus, GIB};
use serde_json::json;
use server::cli::client::Method;
use server::testkit::{Perfmon, Sleeper, call};

#[path = "support/engines.rs"]
mod engines;
use engines::tool;

const PERFMON: &str = env!("CARGO_BIN_EXE_perfmon");
const RULES: &str = "packaging/prometheus/perfmon-rules.yml";
const RULES_TEST: &str = "packaging/prometheus/perfmon-rules.test.yml";
const ALERTMANAGER: &str = "packaging/prometheus/alertmanager.yml";

/// The workspace root, where the packaging paths start.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// Runs `name args` in the workspace root; fails the test with what it said
/// unless it succeeds. Returns its standard output.
fn run(name: &str, args: &[&str]) -> String {
    let program = tool(name);
    // unsandboxed: promtool or amtool, not perfmon.
    let out = Command::new(&program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|err| panic!("{} does not run: {err}", program.display()));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "{} {}: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        program.display(),
        args.join(" "),
        out.status
    );
    stdout.into_owned()
}

#[test]
fn the_rules_pass_promtool_check_rules() {
    let said = run("promtool", &["check", "rules", RULES]);
    assert!(said.contains("SUCCESS"), "{said}");
}

#[test]
fn the_rules_unit_tests_pass_and_test_every_alert() {
    run("promtool", &["test", "rules", RULES_TEST]);
    let alerts = values_of(&read(RULES), "- alert:");
    let tested = values_of(&read(RULES_TEST), "alertname:");
    assert!(alerts.len() >= 6, "the scan found the alerts: {alerts:?}");
    let untested: Vec<&String> = alerts.difference(&tested).collect();
    assert!(untested.is_empty(), "alerts without a unit test in {RULES_TEST}: {untested:?}");
}

#[test]
fn the_alertmanager_example_passes_amtool_and_routes_each_severity_to_its_receiver() {
    run("amtool", &["check-config", ALERTMANAGER]);
    let config = format!("--config.file={ALERTMANAGER}");
    for severity in ["critical", "warning", "info"] {
        let receiver = format!("--verify.receivers=perfmon-{severity}");
        let label = format!("severity={severity}");
        run("amtool", &["config", "routes", "test", &config, &receiver, "alertname=PerfMonTest", &label]);
    }
}

/// The real server's `/metrics`, on fake GPUs, with a run (a `sleep`) that
/// holds GPU memory, once every family the rules use has a series (at most
/// 30 s: filesystems are read every 5 s, rates need a second reading). Fails
/// the test naming the families still missing.
#[tokio::test]
async fn every_perfmon_name_in_the_rules_is_served_with_the_labels_the_unit_tests_give_it() {
    let names = perfmon_names(&expressions(&read(RULES)));
    assert!(names.len() >= 8, "the scan found the rules' names: {names:?}");

    let run = Sleeper::start();
    let pid = run.0.id();
    let config = Config {
        devices: vec![Device::h100(0, 10)],
        processes: vec![(pid, 0, 3 * GIB)],
        ..Config::default()
    };
    let dir = std::env::temp_dir().join(format!("perfmon-prometheus-rules-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let fake = FakeGpus::new(&dir, &config);
    let env: Vec<(String, String)> = fake.env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let args = ["--no-store", "--live-interval-ms", "200", "--idle-interval-ms", "200"];
    let perfmon = Perfmon::serve_with(Path::new(PERFMON), &args, &env).await;
    let api = perfmon.api();
    call(&api, Method::POST, "/api/projects/rules/run", Some(json!({ "pid": pid })))
        .await
        .expect("registered");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (text, families) = loop {
        let text = api.call(Method::GET, "/metrics", None).await.expect("scrape");
        let families = families(&text);
        let missing: Vec<&String> = names.iter().filter(|n| !families.contains_key(*n)).collect();
        if missing.is_empty() {
            break (text, families);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{RULES} uses names PerfMon does not serve on /metrics: {missing:?}\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    drop(perfmon);
    drop(run);
    let _ = std::fs::remove_dir_all(&dir);

    // The unit tests' series: each family's labels as PerfMon writes them, plus
    // the job and instance a scrape adds (or the host remote write adds).
    let tests = read(RULES_TEST);
    let series = values_of(&tests, "- series:");
    assert!(series.len() >= 20, "the scan found the tests' series: {series:?}");
    for quoted in &series {
        let (name, mut labels) = labelled(quoted.trim_matches('\''));
        // A scraped series has job and instance; a pushed one, host instead.
        let scraped = labels.remove("job") && labels.remove("instance");
        assert!(
            scraped || labels.remove("host"),
            "{quoted}: a scraped series has job and instance, a pushed one host"
        );
        let served =
            families.get(&name).unwrap_or_else(|| panic!("{RULES_TEST}: {name} is not on /metrics\n{text}"));
        assert_eq!(&labels, served, "{RULES_TEST}: {quoted} has other labels than /metrics gives {name}");
    }
}

/// The values after `key` on the lines that start with it (indentation aside).
fn values_of(text: &str, key: &str) -> BTreeSet<String> {
    text.lines().filter_map(|l| l.trim_start().strip_prefix(key)).map(|v| v.trim().to_owned()).collect()
}

/// The text of every `expr:` in a rules file, one line or a block (`|`).
fn expressions(rules: &str) -> Vec<String> {
    let indent = |line: &str| line.len() - line.trim_start().len();
    let lines: Vec<&str> = rules.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("expr:") else { continue };
        let rest = rest.trim();
        if rest.starts_with('|') || rest.starts_with('>') {
            let block = lines[i + 1..].iter().take_while(|l| l.trim().is_empty() || indent(l) > indent(line));
            found.push(block.copied().collect::<Vec<_>>().join("\n"));
        } else {
            found.push(rest.to_owned());
        }
    }
    found
}

/// Every identifier that starts with `perfmon_` in `expressions`.
fn perfmon_names(expressions: &[String]) -> BTreeSet<String> {
    expressions
        .iter()
        .flat_map(|e| e.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')))
        .filter(|word| word.starts_with("perfmon_"))
        .map(str::to_owned)
        .collect()
}

/// Each family on `/metrics` and its series' label names.
fn families(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| labelled(l.rsplit_once(' ').map_or(l, |(series, _)| series)))
        .collect()
}

/// `name{a="x",b="y"}` as its name and label names; a quoted value may hold
/// anything, escaped quotes included.
fn labelled(series: &str) -> (String, BTreeSet<String>) {
    let Some((name, mut rest)) = series.split_once('{') else { return (series.to_owned(), BTreeSet::new()) };
    let mut labels = BTreeSet::new();
    while let Some((label, value)) = rest.split_once("=\"") {
        labels.insert(label.trim_start_matches(',').trim().to_owned());
        let mut escaped = false;
        let end = value
            .char_indices()
            .find(|&(_, c)| {
                let close = c == '"' && !escaped;
                escaped = c == '\\' && !escaped;
                close
            })
            .map_or(value.len(), |(i, _)| i + 1);
        rest = &value[end..];
    }
    (name.to_owned(), labels)
}
