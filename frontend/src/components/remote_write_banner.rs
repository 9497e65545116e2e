//! A banner across the page while the push to a remote-write receiver
//! (`perfmon serve --remote-write`) is not keeping up: the receiver is down or
//! refusing, or PerfMon is still sending what it missed. The page itself is
//! fine, so nothing else would say that the fleet's dashboards are behind —
//! and the user should know that no sample is lost meanwhile (the push is
//! sent from the store, which keeps PerfMon's place).

use shared::api::{Health, RemoteWriteHealth};
use yew::prelude::*;

/// A receiver this far behind is announced even while live: three of the
/// default 5 s remote-write interval (the interval is not in the health answer).
pub const BEHIND_MS: u64 = 15_000;

/// Props of [`RemoteWriteBanner`].
#[derive(Properties, PartialEq)]
pub struct RemoteWriteBannerProps {
    /// The server's health answer, once it came.
    pub server: Option<Health>,
}

/// The banner, one line per receiver that is retrying, catching up or behind;
/// nothing while every receiver keeps up, when nothing is pushed, or before
/// the health answer came.
#[function_component(RemoteWriteBanner)]
pub fn remote_write_banner(props: &RemoteWriteBannerProps) -> Html {
    let lines: Vec<String> =
        props.server.as_ref().map(|h| h.remote_write.iter().filter_map(line).collect()).unwrap_or_default();
    if lines.is_empty() {
        return html! {};
    }
    html! {
        <div class="remote-write-banner" role="status" data-testid="remote-write-banner">
            { for lines.into_iter().map(|text| html! {
                <p class="remote-write-banner__line" data-testid="remote-write-line">{ text }</p>
            }) }
        </div>
    }
}

/// What the banner says of one receiver; `None` while it keeps up.
pub fn line(receiver: &RemoteWriteHealth) -> Option<String> {
    let url = &receiver.receiver;
    let behind = receiver.lag_ms.map(lag_words);
    match (receiver.state.as_str(), behind) {
        ("catching_up", Some(behind)) => {
            Some(format!("Catching up with {url}: {behind} behind, sending what it missed, oldest first."))
        }
        ("catching_up", None) => {
            Some(format!("Catching up with {url}: sending what it missed, oldest first."))
        }
        ("retrying", behind) => {
            let how =
                behind.map_or_else(|| "has not got through yet".to_owned(), |b| format!("is {b} behind"));
            let why = match receiver.last_error.as_deref().map(sentence) {
                Some(error) if !error.is_empty() => format!(": {error}."),
                _ => ".".to_owned(),
            };
            Some(format!("Pushing to {url} {how}{why} {KEEPS} when the receiver answers."))
        }
        (_, Some(behind)) if receiver.lag_ms.is_some_and(|ms| ms > BEHIND_MS) => {
            Some(format!("Pushing to {url} is {behind} behind. {KEEPS}, oldest first."))
        }
        _ => None,
    }
}

/// Why a late push is no loss: it is sent from the store, after the
/// receiver's last accepted sample.
const KEEPS: &str = "PerfMon keeps every sample and sends what it missed";

/// A failure's words, ready to end in a full stop of the banner's own.
fn sentence(error: &str) -> &str {
    error.trim().trim_end_matches('.').trim_end()
}

/// A lag as it reads best, rounded down: `45 s`, `12 min`, `3 h` or `3 h 20 min`.
pub fn lag_words(ms: u64) -> String {
    let s = ms / 1000;
    match (s / 3600, (s % 3600) / 60) {
        (0, 0) => format!("{s} s"),
        (0, min) => format!("{min} min"),
        (h, 0) => format!("{h} h"),
        (h, min) => format!("{h} h {min} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(state: &str, lag_ms: Option<u64>, last_error: Option<&str>) -> RemoteWriteHealth {
        RemoteWriteHealth {
            receiver: "http://prom:9090".into(),
            state: state.into(),
            lag_ms,
            last_sent_ms: None,
            last_error: last_error.map(str::to_owned),
            last_error_ms: None,
            samples_sent: 0,
            batches_skipped: 0,
        }
    }

    #[test]
    fn lags_read_in_seconds_minutes_and_hours() {
        assert_eq!(lag_words(0), "0 s");
        assert_eq!(lag_words(45_900), "45 s");
        assert_eq!(lag_words(60_000), "1 min");
        assert_eq!(lag_words(12 * 60_000 + 59_000), "12 min");
        assert_eq!(lag_words(3 * 3_600_000), "3 h");
        assert_eq!(lag_words(3 * 3_600_000 + 20 * 60_000), "3 h 20 min");
    }

    #[test]
    fn a_retrying_receiver_says_how_far_behind_and_why() {
        let r = receiver("retrying", Some(120_000), Some("HTTP 503 Service Unavailable"));
        assert_eq!(
            line(&r).as_deref(),
            Some(
                "Pushing to http://prom:9090 is 2 min behind: HTTP 503 Service Unavailable. PerfMon keeps \
                 every sample and sends what it missed when the receiver answers."
            )
        );
        let never = receiver("retrying", None, Some("connection refused."));
        let text = line(&never).unwrap_or_default();
        assert!(
            text.starts_with("Pushing to http://prom:9090 has not got through yet: connection refused. "),
            "{text}"
        );
    }

    #[test]
    fn catching_up_is_announced_and_keeping_up_is_not() {
        let mut r = receiver("catching_up", Some(12 * 60_000), None);
        r.receiver = "http://vm:8428".into();
        assert_eq!(
            line(&r).as_deref(),
            Some("Catching up with http://vm:8428: 12 min behind, sending what it missed, oldest first.")
        );
        assert_eq!(line(&receiver("live", Some(BEHIND_MS), None)), None);
        assert_eq!(line(&receiver("live", None, None)), None);
        assert_eq!(line(&receiver("starting", None, None)), None);
        let slow = line(&receiver("live", Some(BEHIND_MS + 1_000), None)).unwrap_or_default();
        assert!(slow.starts_with("Pushing to http://prom:9090 is 16 s behind."), "{slow}");
    }
}
