//! `perfmon alerts`: what fired lately and what fires now, and
//! `perfmon alerts silence 2h`: hold deliveries back for a while.

use std::process::ExitCode;

use shared::alerts::{AlertEvent, AlertState, Alerts};

use super::ConnectArgs;
use super::client::{ClientError, Method};

/// What `perfmon alerts` does.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AlertsCommand {
    /// Hold every delivery back for SPAN (`2h`, `30m`); `off` lifts the
    /// silence. Alerts are still kept and listed meanwhile.
    Silence {
        /// How long (`2h`), or `off`.
        span: String,
    },
}

/// `perfmon alerts [silence SPAN]`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    /// Silence deliveries instead of listing.
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Only this project's alerts (and the machine's).
    #[arg(long, short)]
    pub project: Option<String>,
    /// How many recent alerts to list.
    #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where PerfMon is, and its token if it has one.
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Lists alerts, or silences them.
pub async fn alerts(args: AlertsArgs) -> ExitCode {
    let call = match &args.command {
        Some(AlertsCommand::Silence { span }) => {
            // A silence is a write: it needs the token or the control secret.
            let api = match args.connect.client() {
                Ok(api) => api,
                Err(err) => {
                    eprintln!("perfmon: {err}");
                    return ExitCode::from(2);
                }
            };
            let seconds = match span.as_str() {
                "off" | "0" => 0,
                text => match humantime::parse_duration(text) {
                    Ok(d) if d.as_secs() > 0 => d.as_secs(),
                    _ => {
                        eprintln!("perfmon: {text:?} is not a span like 2h or 30m (or `off`)");
                        return ExitCode::from(2);
                    }
                },
            };
            let body = serde_json::json!({ "seconds": seconds }).to_string();
            api.call(Method::POST, "/api/alerts/silence", Some(body)).await
        }
        None => {
            if let Some(project) = &args.project
                && let Err(err) = crate::hub::project::ProjectName::parse(project)
            {
                eprintln!("perfmon: --project: {err}");
                return ExitCode::from(2);
            }
            let project = args.project.as_ref().map(|p| format!("&project={p}")).unwrap_or_default();
            // Listing is a read, open on loopback: no control secret needed.
            let api = args.connect.reader();
            api.call(Method::GET, &format!("/api/alerts?limit={}{project}", args.limit), None).await
        }
    };
    let answer = match call {
        Ok(answer) => answer,
        Err(ClientError::Refused { status, body }) => {
            eprintln!("perfmon: {status}: {}", super::client::readable(&body));
            return ExitCode::FAILURE;
        }
        Err(err @ ClientError::Unreachable(_)) => {
            eprintln!("perfmon: {err}");
            return ExitCode::from(3);
        }
    };
    if args.json {
        println!("{answer}");
        return ExitCode::SUCCESS;
    }
    let Ok(alerts) = serde_json::from_str::<Alerts>(&answer) else {
        eprintln!("perfmon: the server's answer is not a list of alerts: {answer}");
        return ExitCode::FAILURE;
    };
    if args.command.is_some() {
        match &alerts.silenced_until {
            Some(until) => println!("alerts silenced until {}", until.as_str()),
            None => println!("alerts are not silenced"),
        }
    } else {
        print!("{}", text(&alerts));
    }
    ExitCode::SUCCESS
}

/// The listing in words: the silence, what fires now, then what happened.
pub fn text(alerts: &Alerts) -> String {
    let mut out = String::new();
    if let Some(until) = &alerts.silenced_until {
        out.push_str(&format!("Silenced until {} (alerts are kept, not delivered)\n", until.as_str()));
    }
    if alerts.active.is_empty() {
        out.push_str("Nothing is firing.\n");
    } else {
        out.push_str("Firing now:\n");
        for a in &alerts.active {
            out.push_str(&line(a));
        }
    }
    if !alerts.recent.is_empty() {
        out.push_str("Recent:\n");
        for a in &alerts.recent {
            out.push_str(&line(a));
        }
    }
    for d in alerts.destinations.iter().filter(|d| d.last_error.is_some() || d.queued > 0) {
        out.push_str(&format!(
            "Destination {} ({} {}): {} delivered, {} failed, {} queued{}\n",
            d.name,
            d.kind,
            d.target,
            d.delivered,
            d.failed,
            d.queued,
            d.last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
        ));
    }
    out
}

fn line(a: &AlertEvent) -> String {
    let when = match (a.state, &a.resolved_at) {
        (AlertState::Resolved, Some(at)) => format!("{} → {}", a.fired_at.as_str(), at.as_str()),
        _ => a.fired_at.as_str().to_owned(),
    };
    let silenced = if a.silenced { " (silenced)" } else { "" };
    format!("  {when}  {:<8} {:<8} {}{silenced}\n", a.severity.key(), a.state.key(), a.title)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::alerts::{ALERT_SCHEMA, Severity};

    #[test]
    fn the_listing_says_what_fires_then_what_happened() {
        let event = |id, state, title: &str| AlertEvent {
            perfmon_alert: ALERT_SCHEMA,
            id,
            state,
            rule: "r".into(),
            severity: Severity::Warning,
            title: title.into(),
            message: String::new(),
            project: None,
            run_id: None,
            series: None,
            value: None,
            threshold: None,
            fired_at: shared::Timestamp("2026-12-03T10:00:00.000Z".into()),
            resolved_at: None,
            silenced: false,
        };
        let alerts = Alerts {
            active: vec![event(2, AlertState::Firing, "hot")],
            recent: vec![
                event(2, AlertState::Firing, "hot"),
                event(1, AlertState::Event, "Run “x” finished"),
            ],
            ..Alerts::default()
        };
        let text = text(&alerts);
        assert!(
            text.starts_with("Firing now:\n  2026-12-03T10:00:00.000Z  warning  firing   hot\n"),
            "{text}"
        );
        assert!(text.contains("Recent:\n") && text.contains("event    Run “x” finished"), "{text}");
        assert_eq!(super::text(&Alerts::default()), "Nothing is firing.\n");
    }
}
