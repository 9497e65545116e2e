//! The Grafana dashboard (`packaging/grafana/perfmon.json`) for the tests: its
//! queries as Prometheus gets them for one host (Grafana's variables
//! substituted), and the checks that need no Prometheus.
//!
//! Included by integration tests with
//! `#[path = "support/grafana.rs"] mod grafana;`.

// Each test that includes this module calls only some of it.
#![allow(dead_code)]

use std::collections::BTreeSet;

use serde_json::Value;

/// The dashboard, as shipped.
pub const DASHBOARD: &str = include_str!("../../../packaging/grafana/perfmon.json");

/// The families the dashboard has a row for: each is the start of a row's title.
pub const FAMILIES: [&str; 7] = ["CPU", "Memory", "Disks", "Network", "GPU", "Runs", "PerfMon"];

/// The datasource uid every panel and query names: the dashboard's
/// `datasource` variable, so that it imports and provisions unedited.
pub const DATASOURCE_UID: &str = "${datasource}";

/// The host filter every query carries.
pub const HOST_FILTER: &str = r#"host=~"$host""#;

/// The query of the `host` variable.
pub const HOST_VALUES: &str = "label_values(perfmon_cpu_usage_percent, host)";

/// The variables a query may use, longest first where one starts another,
/// with what [`queries`] puts in their place (`$host` aside).
const BUILTINS: [(&str, &str); 3] = [("$__rate_interval", "1m"), ("$__interval", "1m"), ("$__range", "1h")];

/// One query of one panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The title of the panel the query belongs to.
    pub panel: String,
    /// The Prometheus query, variables substituted.
    pub expr: String,
}

/// The dashboard parsed; panics when it is not JSON ([`check_structure`] says
/// so without panicking).
fn dashboard() -> Value {
    serde_json::from_str(DASHBOARD).expect("packaging/grafana/perfmon.json is valid JSON")
}

/// Every panel, rows and the panels nested in collapsed rows included, in the
/// order of the file.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    fn collect<'a>(panels: Option<&'a Value>, out: &mut Vec<&'a Value>) {
        for panel in panels.and_then(Value::as_array).into_iter().flatten() {
            out.push(panel);
            collect(panel.get("panels"), out);
        }
    }
    let mut out = Vec::new();
    collect(dashboard.get("panels"), &mut out);
    out
}

/// The annotation queries' definitions (not the built-in one).
fn annotations(dashboard: &Value) -> Vec<&Value> {
    dashboard
        .pointer("/annotations/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|annotation| annotation_expr(annotation).is_some())
        .collect()
}

/// An annotation's query: `expr`, or `target.expr` as Grafana writes it once
/// the annotation is edited.
fn annotation_expr(annotation: &Value) -> Option<&str> {
    annotation.get("expr").or_else(|| annotation.pointer("/target/expr")).and_then(Value::as_str)
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn is_row(panel: &Value) -> bool {
    str_at(panel, "/type") == Some("row")
}

/// `host` as a Prometheus regex matching only itself, written as the inside of
/// a double-quoted Prometheus string (what `$host` stands for in `host=~"$host"`).
pub fn escape_host(host: &str) -> String {
    let mut regex = String::with_capacity(host.len());
    for c in host.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            regex.push('\\');
        }
        regex.push(c);
    }
    regex.replace('\\', r"\\").replace('"', r#"\""#)
}

/// `expr` with Grafana's variables replaced: `$host` by the escaped `host`,
/// `$__rate_interval` and `$__interval` by `1m`, `$__range` by `1h`.
pub fn substitute(expr: &str, host: &str) -> String {
    // The built-ins first: an escaped host may hold what looks like one.
    let expr = BUILTINS.iter().fold(expr.to_owned(), |expr, &(name, value)| expr.replace(name, value));
    expr.replace("$host", &escape_host(host))
}

/// Every query of every panel (collapsed rows' panels included), in the order
/// of the file, as Prometheus gets it for `host`.
pub fn queries(host: &str) -> Vec<Query> {
    let dashboard = dashboard();
    let mut out = Vec::new();
    for panel in all_panels(&dashboard) {
        let title = str_at(panel, "/title").unwrap_or_default();
        for target in panel.get("targets").and_then(Value::as_array).into_iter().flatten() {
            if let Some(expr) = str_at(target, "/expr") {
                out.push(Query { panel: title.to_owned(), expr: substitute(expr, host) });
            }
        }
    }
    out
}

/// The annotation queries, as Prometheus gets them for `host`.
pub fn annotation_queries(host: &str) -> Vec<String> {
    let dashboard = dashboard();
    annotations(&dashboard)
        .into_iter()
        .filter_map(annotation_expr)
        .map(|expr| substitute(expr, host))
        .collect()
}

/// Where `expr` uses a variable other than `$host`, `$__rate_interval`,
/// `$__interval` and `$__range` (or `${...}`), the variable; else `None`.
fn unknown_variable(expr: &str) -> Option<String> {
    let known = ["$host"].into_iter().chain(BUILTINS.iter().map(|&(name, _)| name));
    let known: Vec<&str> = known.collect();
    for (at, _) in expr.match_indices('$') {
        let rest = &expr[at..];
        let name_len = known.iter().filter(|name| rest.starts_with(**name)).map(|name| name.len()).max();
        let ends_there =
            |len: usize| !rest[len..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        match name_len {
            Some(len) if ends_there(len) => {}
            _ => {
                let end = rest[1..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '{' || c == '}'))
                    .map_or(rest.len(), |end| end + 1);
                return Some(rest[..end].to_owned());
            }
        }
    }
    None
}

/// The checks that need no Prometheus: the dashboard is JSON, has no
/// `__inputs`/`__requires` (file provisioning never fills them), has a
/// `datasource` variable of type datasource and a multi-select `host` variable;
/// every panel and query names the datasource `${datasource}`; every query
/// filters on `host=~"$host"` and uses no other variables than `$host`,
/// `$__rate_interval`, `$__interval` and `$__range`; panel ids are unique;
/// there is a row per family ([`FAMILIES`]); the runs are an annotation on
/// `perfmon_run_info` (and no panel queries it: it exists only while a run is
/// live). Every problem found, one a line.
pub fn check_structure() -> Result<(), String> {
    check_dashboard(DASHBOARD)
}

/// [`check_structure`] of any dashboard JSON (to show that a check catches
/// what it should).
pub fn check_dashboard(json: &str) -> Result<(), String> {
    let dashboard: Value = serde_json::from_str(json).map_err(|err| format!("not JSON: {err}"))?;
    if !dashboard.is_object() {
        return Err("not a JSON object".to_owned());
    }
    let mut problems = Vec::new();
    if str_at(&dashboard, "/uid") != Some("perfmon") {
        problems.push(r#"the dashboard's uid is not "perfmon""#.to_owned());
    }
    if str_at(&dashboard, "/title") != Some("PerfMon") {
        problems.push(r#"the dashboard's title is not "PerfMon""#.to_owned());
    }
    for key in ["__inputs", "__requires"] {
        if dashboard.get(key).is_some() {
            problems.push(format!("{key} is there: file provisioning never resolves it"));
        }
    }
    check_variables(&dashboard, &mut problems);
    let panels = all_panels(&dashboard);
    check_ids(&panels, &mut problems);
    for panel in &panels {
        check_panel(panel, &mut problems);
    }
    for family in FAMILIES {
        let has_row = panels
            .iter()
            .any(|p| is_row(p) && str_at(p, "/title").is_some_and(|title| title.starts_with(family)));
        if !has_row {
            problems.push(format!("no row for {family}"));
        }
    }
    check_annotations(&dashboard, &mut problems);
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// The `datasource` and `host` variables.
fn check_variables(dashboard: &Value, problems: &mut Vec<String>) {
    let variables: Vec<&Value> =
        dashboard.pointer("/templating/list").and_then(Value::as_array).into_iter().flatten().collect();
    let variable = |name: &str| variables.iter().copied().find(|v| str_at(v, "/name") == Some(name));
    match variable("datasource") {
        None => problems.push("no `datasource` variable".to_owned()),
        Some(v) => {
            if str_at(v, "/type") != Some("datasource") || str_at(v, "/query") != Some("prometheus") {
                problems
                    .push("the `datasource` variable is not of type datasource, query prometheus".to_owned());
            }
        }
    }
    let Some(v) = variable("host") else {
        problems.push("no `host` variable".to_owned());
        return;
    };
    // Grafana 10 and 11 write the query as an object; older ones as a string.
    let query = str_at(v, "/query").or_else(|| str_at(v, "/query/query")).unwrap_or_default();
    if str_at(v, "/type") != Some("query") || query != HOST_VALUES {
        problems.push(format!("the `host` variable is not a query of {HOST_VALUES}"));
    }
    if str_at(v, "/datasource/uid") != Some(DATASOURCE_UID) {
        problems.push(format!("the `host` variable's datasource uid is not {DATASOURCE_UID}"));
    }
    let flag = |key: &str| v.get(key).and_then(Value::as_bool) == Some(true);
    if !flag("multi") || !flag("includeAll") || str_at(v, "/allValue") != Some(".*") {
        problems.push("the `host` variable is not multi-select with All (allValue .*)".to_owned());
    }
    if v.get("refresh").and_then(Value::as_u64) != Some(2) {
        problems.push("the `host` variable is not refreshed on time range change (refresh 2)".to_owned());
    }
}

/// Every panel (rows and nested panels included) has its own numeric id.
fn check_ids(panels: &[&Value], problems: &mut Vec<String>) {
    let mut ids = BTreeSet::new();
    for panel in panels {
        let title = str_at(panel, "/title").unwrap_or("(untitled)");
        match panel.get("id").and_then(Value::as_u64) {
            None => problems.push(format!("panel {title:?} has no numeric id")),
            Some(id) => {
                if !ids.insert(id) {
                    problems.push(format!("panel {title:?}: id {id} is not unique"));
                }
            }
        }
    }
}

/// One panel: its datasource and its queries (a row: only what it holds).
fn check_panel(panel: &Value, problems: &mut Vec<String>) {
    let title = str_at(panel, "/title").unwrap_or("(untitled)");
    if is_row(panel) {
        let collapsed = panel.get("collapsed").and_then(Value::as_bool) == Some(true);
        let nested = panel.get("panels").and_then(Value::as_array).is_some_and(|p| !p.is_empty());
        if nested && !collapsed {
            problems.push(format!(
                "row {title:?} is open but holds panels (Grafana shows only a collapsed row's)"
            ));
        }
        if panel.get("datasource").is_some() && str_at(panel, "/datasource/uid") != Some(DATASOURCE_UID) {
            problems.push(format!("row {title:?}: datasource uid is not {DATASOURCE_UID}"));
        }
        return;
    }
    if str_at(panel, "/datasource/uid") != Some(DATASOURCE_UID)
        || str_at(panel, "/datasource/type") != Some("prometheus")
    {
        problems.push(format!("panel {title:?}: datasource is not prometheus {DATASOURCE_UID}"));
    }
    let targets: Vec<&Value> = panel.get("targets").and_then(Value::as_array).into_iter().flatten().collect();
    if targets.is_empty() {
        problems.push(format!("panel {title:?} has no queries"));
    }
    for target in targets {
        let ref_id = str_at(target, "/refId").unwrap_or("?");
        let at = format!("panel {title:?} query {ref_id}");
        if str_at(target, "/datasource/uid") != Some(DATASOURCE_UID) {
            problems.push(format!("{at}: datasource uid is not {DATASOURCE_UID}"));
        }
        let expr = str_at(target, "/expr").unwrap_or_default();
        if expr.trim().is_empty() {
            problems.push(format!("{at}: no expr"));
            continue;
        }
        if !expr.contains(HOST_FILTER) {
            problems.push(format!("{at}: no {HOST_FILTER} in {expr}"));
        }
        if let Some(name) = unknown_variable(expr) {
            problems.push(format!("{at}: variable {name} in {expr}"));
        }
        if expr.contains("perfmon_run_info") {
            problems.push(format!("{at}: perfmon_run_info (live runs only) is the annotation's"));
        }
    }
}

/// The runs annotation, and the variables of every annotation query.
fn check_annotations(dashboard: &Value, problems: &mut Vec<String>) {
    let queries = annotations(dashboard);
    let runs = queries.iter().find(|a| {
        annotation_expr(a).is_some_and(|expr| expr.contains("perfmon_run_info") && expr.contains(HOST_FILTER))
    });
    match runs {
        None => problems.push(format!("no annotation on perfmon_run_info{{{HOST_FILTER}}}")),
        Some(a) => {
            if str_at(a, "/datasource/uid") != Some(DATASOURCE_UID) {
                problems.push(format!("the runs annotation's datasource uid is not {DATASOURCE_UID}"));
            }
        }
    }
    for a in queries {
        if let Some(name) = annotation_expr(a).and_then(unknown_variable) {
            problems
                .push(format!("annotation {:?}: variable {name}", str_at(a, "/name").unwrap_or_default()));
        }
    }
}
