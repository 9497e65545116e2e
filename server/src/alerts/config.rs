//! The configuration file (`$XDG_CONFIG_HOME/perfmon/config.toml`, or
//! `--config FILE`): the alert rules' settings, the user's own rules and the
//! destinations. Read once at start; anything wrong refuses the start with
//! the line named, and unknown keys are refused (a typo must not silently
//! turn a rule off).
//!
//! ```toml
//! [alerts.defaults.memory_low]
//! threshold = 5        # % available
//! for = "1m"
//!
//! [[alerts.rule]]
//! name = "hot-gpu"
//! series = "gpu.0.temperature_c"
//! above = 85
//! clear = 80
//! for = "2m"
//! repeat = "30m"
//!
//! [[alerts.destination]]
//! name = "phone"
//! url = "https://ntfy.sh/my-topic"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use shared::alerts::Severity;
use toml::Spanned;

use super::deliver::{Destination, Kind};
use super::series::Series;
use super::threshold::{Op, Threshold};

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// The line at fault, when one is.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// The default rules, by name, in the order they are listed.
pub const DEFAULT_RULES: [&str; 7] =
    ["run_finished", "run_failed", "run_oom", "run_stalled", "memory_low", "filesystem_full", "gpu_idle"];

/// One default rule's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultRule {
    /// Whether it is on.
    pub enabled: bool,
    /// Its numbers, for the defaults that watch a figure (`None` for the
    /// run's end rules, which fire once per run).
    pub threshold: Option<Threshold>,
}

/// A rule of the user's own, over a recorded series.
#[derive(Debug, Clone)]
pub struct CustomRule {
    /// Its name (unique; never a default's).
    pub name: String,
    /// The series' name, as charts and `/api/history` name it.
    pub series_name: String,
    /// Where the series is in a tick.
    pub series: Series,
    /// Its numbers.
    pub threshold: Threshold,
    /// How much it matters.
    pub severity: Severity,
    /// Only this project's runs (or, for a machine series, only while that
    /// project has a live run); `None`: machine-wide.
    pub project: Option<String>,
}

/// Everything the alerts are configured with.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// The default rules' settings, in [`DEFAULT_RULES`]' order.
    pub defaults: Vec<(&'static str, DefaultRule)>,
    /// The user's rules.
    pub rules: Vec<CustomRule>,
    /// Where alerts are delivered.
    pub destinations: Vec<Destination>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            file: None,
            defaults: DEFAULT_RULES.iter().map(|name| (*name, builtin(name))).collect(),
            rules: Vec::new(),
            destinations: Vec::new(),
        }
    }
}

/// A default rule as shipped.
fn builtin(name: &str) -> DefaultRule {
    let threshold = |op, trigger, clear, hold| Threshold { op, trigger, clear, hold, repeat: None };
    let threshold = match name {
        // % of memory available; back above 10 % resolves it.
        "memory_low" => Some(threshold(Op::Below, 5.0, 10.0, Duration::from_secs(60))),
        // % of a filesystem used; back to 93 % resolves it.
        "filesystem_full" => Some(threshold(Op::Above, 95.0, 93.0, Duration::ZERO)),
        // Minutes with no CPU and no IO; any activity resolves it.
        "run_stalled" => Some(threshold(Op::Above, 0.5, 0.5, Duration::from_secs(600))),
        // % GPU utilisation while the run holds GPU memory; 5 % resolves it.
        "gpu_idle" => Some(threshold(Op::Below, 1.0, 5.0, Duration::from_secs(600))),
        _ => None,
    };
    DefaultRule { enabled: true, threshold }
}

impl AlertConfig {
    /// A default rule's settings.
    pub fn default_rule(&self, name: &str) -> Option<&DefaultRule> {
        self.defaults.iter().find(|(n, _)| *n == name).map(|(_, r)| r).filter(|r| r.enabled)
    }

    /// The level at which `rule` (a default or the user's, enabled) resolves.
    pub fn clear_level(&self, rule: &str) -> Option<f64> {
        let default = self.default_rule(rule).and_then(|r| r.threshold);
        default.or_else(|| self.rules.iter().find(|r| r.name == rule).map(|r| r.threshold)).map(|t| t.clear)
    }

    /// Where the file is looked for when no `--config` is given:
    /// `$XDG_CONFIG_HOME/perfmon/config.toml`, else `~/.config/perfmon/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()).map(PathBuf::from).or_else(
            || std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")),
        )?;
        Some(base.join("perfmon").join("config.toml"))
    }

    /// Reads `path`. Blocking.
    pub fn load(path: &Path) -> Result<AlertConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            path: path.to_owned(),
            line: None,
            message: format!("cannot read it: {err}"),
        })?;
        AlertConfig::parse(path, &text)
    }

    /// Parses the text of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<AlertConfig, ConfigError> {
        let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let error = |offset: Option<usize>, message: String| ConfigError {
            path: path.to_owned(),
            line: offset.map(line_of),
            message,
        };
        let file: File = toml::from_str(text)
            .map_err(|err| error(err.span().map(|s| s.start), err.message().trim().to_owned()))?;
        let mut config = AlertConfig { file: Some(path.to_owned()), ..AlertConfig::default() };
        let alerts = file.alerts.unwrap_or_default();
        for (name, settings) in alerts.defaults.into_iter().flatten() {
            let at = settings.span().start;
            let Some((_, rule)) = config.defaults.iter_mut().find(|(n, _)| *n == name) else {
                return Err(error(
                    Some(at),
                    format!("no default rule is called {name:?}: they are {}", DEFAULT_RULES.join(", ")),
                ));
            };
            let s = settings.into_inner();
            rule.enabled = s.enabled.unwrap_or(true);
            match &mut rule.threshold {
                None if s.threshold.is_some()
                    || s.r#for.is_some()
                    || s.clear.is_some()
                    || s.repeat.is_some() =>
                {
                    return Err(error(
                        Some(at),
                        format!("{name} fires once per run: it takes only `enabled`"),
                    ));
                }
                None => {}
                Some(t) => {
                    if let Some(v) = s.threshold {
                        if name == "run_stalled" {
                            return Err(error(Some(at), "run_stalled takes `for`, not a threshold".into()));
                        }
                        t.trigger = v;
                        t.clear = match t.op {
                            Op::Above => t.clear.min(v),
                            Op::Below => t.clear.max(v),
                        };
                    }
                    if let Some(v) = s.clear {
                        t.clear = v;
                    }
                    if let Some(d) = &s.r#for {
                        t.hold = duration(d).map_err(|m| error(Some(at), format!("{name}: for: {m}")))?;
                    }
                    if let Some(d) = &s.repeat {
                        t.repeat =
                            Some(repeat(d).map_err(|m| error(Some(at), format!("{name}: repeat: {m}")))?);
                    }
                    check_clear(t).map_err(|m| error(Some(at), format!("{name}: {m}")))?;
                }
            }
        }
        for rule in alerts.rule {
            let at = rule.span().start;
            let r = rule.into_inner();
            let custom = custom_rule(r).map_err(|m| error(Some(at), m))?;
            if DEFAULT_RULES.contains(&custom.name.as_str())
                || config.rules.iter().any(|c| c.name == custom.name)
            {
                return Err(error(Some(at), format!("a rule called {:?} exists already", custom.name)));
            }
            config.rules.push(custom);
        }
        for destination in alerts.destination {
            let at = destination.span().start;
            let d = destination.into_inner();
            let made = d.build().map_err(|m| error(Some(at), m))?;
            if config.destinations.iter().any(|c| c.name == made.name) {
                return Err(error(Some(at), format!("a destination called {:?} exists already", made.name)));
            }
            config.destinations.push(made);
        }
        Ok(config)
    }
}

/// A configured duration (`"90s"`, `"10m"`, `"1h 30m"`).
fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|err| format!("{text:?} is not a duration like \"90s\" or \"10m\" ({err})"))
}

/// How often a firing alert is sent again: never zero, which would send it
/// at every tick (leaving `repeat` out sends it once).
fn repeat(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        Duration::ZERO => {
            Err(format!("{text:?} would send it again at every tick; leave `repeat` out to send it once"))
        }
        every => Ok(every),
    }
}

/// A clear threshold on the wrong side of the trigger would resolve a firing
/// at once, or never.
fn check_clear(t: &Threshold) -> Result<(), String> {
    let wrong = match t.op {
        Op::Above => t.clear > t.trigger,
        Op::Below => t.clear < t.trigger,
    };
    if wrong || !t.trigger.is_finite() || !t.clear.is_finite() {
        let side = match t.op {
            Op::Above => "at or below",
            Op::Below => "at or above",
        };
        return Err(format!("clear ({}) must be {side} the threshold ({})", t.clear, t.trigger));
    }
    Ok(())
}

/// A rule's or destination's name: what is listed, and what `perfmon alerts`
/// shows.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(format!("name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'")) }
}

fn custom_rule(r: RuleFile) -> Result<CustomRule, String> {
    check_name(&r.name)?;
    let series = Series::parse(&r.series).ok_or_else(|| {
        format!(
            "rule {:?}: no recorded series is called {:?} (the names are those of GET /api/history: \
             cpu.percent, memory.used_gb, gpu.0.temperature_c, run.rss_mb, …; docs/metrics.md lists them)",
            r.name, r.series
        )
    })?;
    let (op, trigger) = match (r.above, r.below) {
        (Some(v), None) => (Op::Above, v),
        (None, Some(v)) => (Op::Below, v),
        _ => return Err(format!("rule {:?}: give exactly one of `above` and `below`", r.name)),
    };
    let hold =
        r.r#for.as_deref().map(duration).transpose().map_err(|m| format!("rule {:?}: for: {m}", r.name))?;
    let repeat =
        r.repeat.as_deref().map(repeat).transpose().map_err(|m| format!("rule {:?}: repeat: {m}", r.name))?;
    let threshold =
        Threshold { op, trigger, clear: r.clear.unwrap_or(trigger), hold: hold.unwrap_or_default(), repeat };
    check_clear(&threshold).map_err(|m| format!("rule {:?}: {m}", r.name))?;
    let severity = match r.severity.as_deref() {
        None => Severity::Warning,
        Some(s) => Severity::from_key(s)
            .ok_or_else(|| format!("rule {:?}: severity {s:?}: use info, warning or critical", r.name))?,
    };
    if let Some(project) = &r.project {
        crate::hub::project::ProjectName::parse(project)
            .map_err(|err| format!("rule {:?}: project: {err}", r.name))?;
    }
    Ok(CustomRule { name: r.name, series_name: r.series, series, threshold, severity, project: r.project })
}

/// The file's shape.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// `[alerts]`.
    alerts: Option<AlertsFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsFile {
    /// `[alerts.defaults.NAME]`.
    defaults: Option<std::collections::BTreeMap<String, Spanned<DefaultFile>>>,
    /// `[[alerts.rule]]`.
    #[serde(default)]
    rule: Vec<Spanned<RuleFile>>,
    /// `[[alerts.destination]]`.
    #[serde(default)]
    destination: Vec<Spanned<DestinationFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultFile {
    enabled: Option<bool>,
    threshold: Option<f64>,
    clear: Option<f64>,
    r#for: Option<String>,
    repeat: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    name: String,
    series: String,
    above: Option<f64>,
    below: Option<f64>,
    clear: Option<f64>,
    r#for: Option<String>,
    repeat: Option<String>,
    severity: Option<String>,
    project: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationFile {
    name: String,
    kind: Option<String>,
    url: Option<String>,
    url_file: Option<PathBuf>,
    url_env: Option<String>,
    priority: Option<u8>,
    #[serde(default)]
    tags: Vec<String>,
}

impl DestinationFile {
    /// The destination, its URL read from where the file says.
    fn build(self) -> Result<Destination, String> {
        check_name(&self.name)?;
        let name = &self.name;
        let url = match (&self.url, &self.url_file, &self.url_env) {
            (Some(url), None, None) => url.clone(),
            (None, Some(file), None) => std::fs::read_to_string(file)
                .map(|t| t.trim().to_owned())
                .map_err(|err| format!("destination {name:?}: url_file {}: {err}", file.display()))?,
            (None, None, Some(var)) => std::env::var(var)
                .map(|t| t.trim().to_owned())
                .map_err(|_| format!("destination {name:?}: url_env: ${var} is not set"))?,
            _ => return Err(format!("destination {name:?}: give exactly one of url, url_file and url_env")),
        };
        let kind = match &self.kind {
            Some(k) => Some(k.parse::<Kind>().map_err(|_| {
                format!("destination {name:?}: kind {k:?}: use webhook, ntfy, slack or discord")
            })?),
            None => None,
        };
        if (self.priority.is_some() || !self.tags.is_empty()) && kind.is_some_and(|k| k != Kind::Ntfy) {
            return Err(format!("destination {name:?}: priority and tags are ntfy's"));
        }
        if self.priority.is_some_and(|p| !(1..=5).contains(&p)) {
            return Err(format!("destination {name:?}: priority is 1 to 5"));
        }
        let destination = match kind {
            Some(kind) => Destination::new(name, kind, &url),
            None => Destination::parse_spec(name, &url),
        }
        .map_err(|err| format!("destination {name:?}: {err}"))?;
        Ok(destination.with_ntfy(self.priority, self.tags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AlertConfig, ConfigError> {
        AlertConfig::parse(Path::new("config.toml"), text)
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = parse("").expect("parses");
        assert_eq!(config.defaults.len(), DEFAULT_RULES.len());
        assert!(config.defaults.iter().all(|(_, r)| r.enabled));
        assert!(config.rules.is_empty() && config.destinations.is_empty());
    }

    #[test]
    fn rules_defaults_and_destinations_are_read() {
        let config = parse(
            r#"
[alerts.defaults.memory_low]
threshold = 3
for = "30s"

[alerts.defaults.run_finished]
enabled = false

[[alerts.rule]]
name = "busy"
series = "run.process_count"
above = 4
clear = 2
for = "2s"
repeat = "1h"
severity = "critical"
project = "demo"

[[alerts.destination]]
name = "hook"
url = "http://127.0.0.1:9/secret"
"#,
        )
        .expect("parses");
        let memory = config.default_rule("memory_low").and_then(|r| r.threshold).expect("memory_low");
        assert_eq!((memory.trigger, memory.clear, memory.hold), (3.0, 10.0, Duration::from_secs(30)));
        assert!(config.default_rule("run_finished").is_none());
        let rule = &config.rules[0];
        assert!(rule.series.is_run());
        assert_eq!((rule.threshold.trigger, rule.threshold.clear), (4.0, 2.0));
        assert_eq!(rule.threshold.repeat, Some(Duration::from_secs(3600)));
        assert_eq!((rule.severity, rule.project.as_deref()), (Severity::Critical, Some("demo")));
        assert_eq!(config.destinations.len(), 1);
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        let cases = [
            ("[alerts]\nrules = []\n", 2, "unknown field"),
            ("[alerts.defaults.memory]\nfor = \"1m\"\n", 1, "no default rule"),
            (
                "\n[[alerts.rule]]\nname = \"x\"\nseries = \"cpu.percentage\"\nabove = 1\n",
                2,
                "no recorded series",
            ),
            ("[[alerts.rule]]\nname = \"x\"\nseries = \"cpu.percent\"\n", 1, "exactly one of"),
            (
                "[[alerts.rule]]\nname = \"x\"\nseries = \"cpu.percent\"\nabove = 9\nclear = 10\n",
                1,
                "clear (10)",
            ),
            (
                "[[alerts.rule]]\nname = \"x\"\nseries = \"cpu.percent\"\nabove = 9\nfor = \"soon\"\n",
                1,
                "not a duration",
            ),
            (
                "[[alerts.rule]]\nname = \"x\"\nseries = \"cpu.percent\"\nabove = 9\nrepeat = \"0s\"\n",
                1,
                "at every tick",
            ),
            ("[alerts.defaults.memory_low]\nrepeat = \"0m\"\n", 1, "leave `repeat` out"),
            ("[alerts.defaults.run_failed]\nfor = \"1m\"\n", 1, "only `enabled`"),
            ("[[alerts.destination]]\nname = \"d\"\nurl = \"ftp://x\"\n", 1, "destination \"d\""),
            ("[alerts\n", 1, ""),
        ];
        for (text, line, words) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.line, Some(line), "{text}: {err}");
            assert!(err.to_string().contains(words), "{text}: {err}");
            assert!(err.to_string().starts_with(&format!("config.toml:{line}: ")), "{err}");
        }
    }

    #[test]
    fn a_destination_url_never_appears_in_an_error() {
        let err = parse("[[alerts.destination]]\nname = \"d\"\nurl = \"gopher://h/secret-token\"\n")
            .expect_err("refused");
        assert!(!err.to_string().contains("secret-token"), "{err}");
    }
}
