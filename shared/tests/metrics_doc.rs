//! `docs/metrics.md` against the contract, so the two cannot drift.
//!
//! The fixture `fixtures/full_perf_metrics.json` is a `perf_metrics` message with
//! every field of [`PerfMetrics`] present: no `null`, each list and map holding at
//! least one element, and the `skip_serializing_if` fields given a value so they
//! appear. Its values show the shape only; they need not describe one machine
//! (the benches decode it as a full sample, too).
//!
//! - The fixture decodes into [`PerfMetrics`] and encodes back to the same JSON:
//!   a field the contract has and the fixture lacks, or the other way round, fails.
//! - Every leaf path of the fixture (`cpu_detail.modes.user_percent`; lists as
//!   `[]`, `gpu.devices[].sm_clock_mhz`; the free keys of the maps in
//!   [`MAP_PATHS`] as `{name}`, `perf_events.events.{name}.per_s`) has a row in
//!   the doc: a table whose header starts `| field |`, the path backticked in its
//!   first column.
//! - Every row of those tables names a path of the fixture, once.
//! - Every field each struct of the contract declares is in the fixture: the
//!   round trip cannot see a `skip_serializing_if` field that is absent from
//!   both, so the declared names are read from serde itself ([`fields_of`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::Value;
use shared::depth::{cpu, disks, memory, network, perf, pressure};
use shared::{Cpu, Disk, Gpu, GpuDevice, LoadAverage, Memory, Monitor, Network, PerfMetrics};
use shared::{Run, RunProcess, ServerMsg, Tokens};

const FIXTURE: &str = include_str!("fixtures/full_perf_metrics.json");
const FIXTURE_FILE: &str = "shared/tests/fixtures/full_perf_metrics.json";
const DOC: &str = include_str!("../../docs/metrics.md");
const DOC_FILE: &str = "docs/metrics.md";

/// The objects of the contract whose keys are data (a `BTreeMap`), not field
/// names: their keys are written `{name}` in a path. A new map-valued field
/// joins this list.
const MAP_PATHS: &[&str] = &["perf_events.events"];

/// Each struct of the contract, by the path of its objects in the fixture, with
/// the fields it declares. An object of the fixture at a path not listed here
/// fails the test, so a new struct is listed when it is added.
fn structs() -> Vec<(&'static str, &'static str, &'static [&'static str])> {
    fn of<'de, T: Deserialize<'de>>(
        path: &'static str,
    ) -> (&'static str, &'static str, &'static [&'static str]) {
        (path, std::any::type_name::<T>(), fields_of::<T>())
    }
    vec![
        of::<PerfMetrics>(""),
        of::<Run>("run"),
        of::<RunProcess>("run.process"),
        of::<Tokens>("tokens"),
        of::<shared::TokenDetail>("tokens.run"),
        of::<shared::SessionTokens>("tokens.run.by_session[]"),
        of::<Cpu>("cpu"),
        of::<LoadAverage>("cpu.load_average"),
        of::<Memory>("memory"),
        of::<Gpu>("gpu"),
        of::<GpuDevice>("gpu.devices[]"),
        of::<Network>("network"),
        of::<Disk>("disk"),
        of::<Monitor>("monitor"),
        of::<cpu::CpuDetail>("cpu_detail"),
        of::<cpu::CpuModes>("cpu_detail.modes"),
        of::<cpu::CpuModes>("cpu_detail.per_core[]"),
        of::<cpu::CpuSensors>("cpu_detail.sensors"),
        of::<cpu::Temperatures>("cpu_detail.sensors.temperatures"),
        of::<cpu::Temperature>("cpu_detail.sensors.temperatures.sensors[]"),
        of::<cpu::ThrottleCounts>("cpu_detail.sensors.throttle"),
        of::<pressure::Pressure>("pressure"),
        of::<pressure::ResourcePressure>("pressure.cpu"),
        of::<pressure::ResourcePressure>("pressure.io"),
        of::<pressure::ResourcePressure>("pressure.memory"),
        of::<memory::MemoryDetail>("memory_detail"),
        of::<memory::Paging>("paging"),
        of::<disks::Disks>("disks"),
        of::<disks::DiskDevice>("disks.devices[]"),
        of::<disks::Filesystems>("filesystems"),
        of::<disks::Filesystem>("filesystems.filesystems[]"),
        of::<network::Interfaces>("interfaces"),
        of::<network::Interface>("interfaces.interfaces[]"),
        of::<network::Sockets>("sockets"),
        of::<perf::PerfEvents>("perf_events"),
        of::<perf::PerfEvent>("perf_events.events.{name}"),
    ]
}

/// The field names `T`'s derived `Deserialize` declares (serde hands them to
/// `deserialize_struct`), skipped-when-`None` fields included.
fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    match T::deserialize(probe::Probe) {
        Err(probe::Found::Fields(fields)) => fields,
        Err(probe::Found::Other(err)) => panic!("{} is no struct: {err}", std::any::type_name::<T>()),
        Ok(_) => unreachable!("the probe never yields a value"),
    }
}

/// A deserializer that yields nothing but the field list of the struct asked for.
mod probe {
    use serde::de::{self, Visitor};

    pub struct Probe;

    #[derive(Debug)]
    pub enum Found {
        Fields(&'static [&'static str]),
        Other(String),
    }

    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{self:?}")
        }
    }

    impl std::error::Error for Found {}

    impl de::Error for Found {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Found::Other(msg.to_string())
        }
    }

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found::Other("not a struct".into()))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found::Fields(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
}

/// The keys of every (non-map) object of the fixture, by path.
fn objects(value: &Value, path: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| objects(item, &format!("{path}[]"), out)),
        Value::Object(fields) => {
            let map = MAP_PATHS.contains(&path);
            if !map {
                out.entry(path.to_owned()).or_default().extend(fields.keys().cloned());
            }
            for (key, item) in fields {
                objects(item, &join(path, if map { "{name}" } else { key }), out);
            }
        }
        _ => {}
    }
}

/// The fixture without its message tag: the fields of a [`PerfMetrics`].
fn fixture() -> Value {
    let mut message: Value = serde_json::from_str(FIXTURE).expect("the fixture is JSON");
    let object = message.as_object_mut().expect("the fixture is a JSON object");
    assert_eq!(
        object.remove("type"),
        Some(Value::from("perf_metrics")),
        "{FIXTURE_FILE} is a perf_metrics message"
    );
    message
}

/// `parent` and `key` as one path.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

/// The leaf paths under `value` (at `path`) into `paths`; what hides a path (a
/// `null`, an empty list or map) into `gaps`.
fn leaves(value: &Value, path: &str, paths: &mut BTreeSet<String>, gaps: &mut Vec<String>) {
    match value {
        Value::Null => gaps.push(format!("`{path}` is null: give it a value")),
        Value::Array(items) if items.is_empty() => {
            gaps.push(format!("`{path}` is an empty list: give it one element"))
        }
        Value::Array(items) => {
            for item in items {
                leaves(item, &format!("{path}[]"), paths, gaps);
            }
        }
        Value::Object(fields) if fields.is_empty() => {
            gaps.push(format!("`{path}` is an empty object: give it its fields (or one key, for a map)"))
        }
        Value::Object(fields) => {
            let map = MAP_PATHS.contains(&path);
            for (key, item) in fields {
                leaves(item, &join(path, if map { "{name}" } else { key }), paths, gaps);
            }
        }
        _ => {
            paths.insert(path.to_owned());
        }
    }
}

/// Every leaf path of the fixture, or the list of what hides some.
fn fixture_paths() -> BTreeSet<String> {
    let (mut paths, mut gaps) = (BTreeSet::new(), Vec::new());
    leaves(&fixture(), "", &mut paths, &mut gaps);
    assert!(
        gaps.is_empty(),
        "{FIXTURE_FILE} must hold every field with a value, so each appears as a path; edit it:\n  {}",
        gaps.join("\n  ")
    );
    paths
}

/// One row of a field table: its line in the doc and its path.
#[derive(Debug)]
struct Row {
    line: usize,
    path: String,
}

/// The cells of a table line (`| a | b |`), trimmed.
fn cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

/// The rows of the doc's field tables (header `| field | unit | source | null when |`),
/// or the list of malformed rows.
fn documented() -> Vec<Row> {
    let (mut rows, mut malformed) = (Vec::new(), Vec::new());
    let mut in_table = false;
    for (index, line) in DOC.lines().enumerate() {
        let number = index + 1;
        if !line.trim_start().starts_with('|') {
            in_table = false;
            continue;
        }
        let row = cells(line);
        if row.first() == Some(&"field") {
            if row != ["field", "unit", "source", "null when"] {
                malformed
                    .push(format!("line {number}: the header is `| field | unit | source | null when |`"));
            }
            in_table = true;
            continue;
        }
        if !in_table || row.iter().all(|cell| cell.chars().all(|c| matches!(c, '-' | ':'))) {
            continue;
        }
        let path = row[0].strip_prefix('`').and_then(|p| p.strip_suffix('`')).filter(|p| !p.contains('`'));
        match path {
            Some(path) if row.len() == 4 && row.iter().all(|cell| !cell.is_empty()) => {
                rows.push(Row { line: number, path: path.to_owned() })
            }
            Some(_) => malformed.push(format!("line {number}: a row has four non-empty cells")),
            None => malformed.push(format!("line {number}: the first cell is one backticked path")),
        }
    }
    assert!(malformed.is_empty(), "{DOC_FILE} has malformed field tables:\n  {}", malformed.join("\n  "));
    rows
}

/// Where `expected` (the fixture) and `actual` (its round trip) differ, by path.
fn differences(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                match a.get(key) {
                    Some(other) => differences(value, other, &join(path, key), out),
                    None => out.push(format!(
                        "`{}` is in the fixture but not in the contract (or is dropped on encoding): \
                         remove it from {FIXTURE_FILE} and {DOC_FILE}",
                        join(path, key)
                    )),
                }
            }
            for key in a.keys().filter(|key| !e.contains_key(*key)) {
                out.push(format!(
                    "`{}` is in the contract but not in the fixture: add it to {FIXTURE_FILE} \
                     (with a value) and a row to {DOC_FILE}",
                    join(path, key)
                ));
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (e, a) in e.iter().zip(a) {
                differences(e, a, &format!("{path}[]"), out);
            }
        }
        (e, a) if e != a => out.push(format!(
            "`{path}`: the fixture has {e}, the contract encodes it as {a} (write a float with a \
             decimal point, an integer without)"
        )),
        _ => {}
    }
}

#[test]
fn the_fixture_is_every_field_of_the_contract_and_no_other() {
    let expected = fixture();
    let decoded: PerfMetrics = serde_json::from_value(expected.clone())
        .unwrap_or_else(|err| panic!("{FIXTURE_FILE} does not decode into PerfMetrics: {err}"));
    let encoded = serde_json::to_value(&decoded).expect("PerfMetrics encodes");
    let mut found = Vec::new();
    differences(&expected, &encoded, "", &mut found);
    assert!(found.is_empty(), "{FIXTURE_FILE} and PerfMetrics differ:\n  {}", found.join("\n  "));
    assert_eq!(expected, encoded);
    // The benches decode it as the stream sends it.
    let message: ServerMsg = serde_json::from_str(FIXTURE).expect("the fixture is a ServerMsg");
    assert_eq!(message, ServerMsg::PerfMetrics(decoded));
}

#[test]
fn every_field_each_struct_declares_is_in_the_fixture() {
    let mut found = BTreeMap::new();
    objects(&fixture(), "", &mut found);
    let structs = structs();
    let mut wrong = Vec::new();
    for (path, type_name, fields) in &structs {
        let Some(keys) = found.get(*path) else {
            wrong.push(format!("no object at `{path}` ({type_name}) in {FIXTURE_FILE}: add it"));
            continue;
        };
        for field in fields.iter().filter(|field| !keys.contains(**field)) {
            wrong.push(format!(
                "`{}` ({type_name} declares it) is missing from {FIXTURE_FILE}: add it with a value \
                 (a skip_serializing_if field too) and a row to {DOC_FILE}",
                join(path, field)
            ));
        }
    }
    for path in found.keys().filter(|path| !structs.iter().any(|(p, _, _)| p == path)) {
        wrong.push(format!(
            "{FIXTURE_FILE} has an object at `{path}` whose type this test does not list: add it to \
             `structs()` in shared/tests/metrics_doc.rs (or to MAP_PATHS if its keys are data)"
        ));
    }
    assert!(wrong.is_empty(), "the contract's structs and the fixture differ:\n  {}", wrong.join("\n  "));
}

#[test]
fn every_field_of_the_contract_has_a_row_in_the_doc() {
    let rows: BTreeSet<String> = documented().into_iter().map(|row| row.path).collect();
    let missing: Vec<String> = fixture_paths().into_iter().filter(|path| !rows.contains(path)).collect();
    assert!(
        missing.is_empty(),
        "{DOC_FILE} has no row for these fields of perf_metrics; add each to the table of its \
         section (`| field | unit | source | null when |`):\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_row_of_the_doc_is_a_field_of_the_contract_once() {
    let paths = fixture_paths();
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for row in documented() {
        if !paths.contains(&row.path) {
            wrong.push(format!(
                "line {}: `{}` is no field of perf_metrics (as {FIXTURE_FILE} has them)",
                row.line, row.path
            ));
        } else if !seen.insert(row.path.clone()) {
            wrong.push(format!("line {}: `{}` has a row already", row.line, row.path));
        }
    }
    assert!(
        wrong.is_empty(),
        "{DOC_FILE} documents what the contract does not have; fix or remove these rows:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn the_path_rules_name_lists_and_maps() {
    let value: Value = serde_json::json!({
        "a": {"b": 1, "c": [1.5]},
        "d": [{"e": true}],
        "perf_events": {"events": {"cycles": {"per_s": 1.0}, "instructions": {"per_s": 2.0}}},
    });
    let (mut paths, mut gaps) = (BTreeSet::new(), Vec::new());
    leaves(&value, "", &mut paths, &mut gaps);
    assert!(gaps.is_empty(), "{gaps:?}");
    let expected = ["a.b", "a.c[]", "d[].e", "perf_events.events.{name}.per_s"];
    assert_eq!(paths, expected.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>());
    leaves(&serde_json::json!({"x": null, "y": [], "z": {}}), "", &mut paths, &mut gaps);
    assert_eq!(gaps.len(), 3, "a null, an empty list and an empty object each hide paths: {gaps:?}");
}
