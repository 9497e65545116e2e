//! Delivery against real HTTP receivers on 127.0.0.1, port 0: plain threads
//! that read each request, report it on a channel, and answer as the test
//! says. Tests wait on those channels and on the deliverer's change signal,
//! never on fixed sleeps; every wait has a generous limit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::alerts::{ALERT_SCHEMA, AlertEvent, AlertState, DestinationStatus, Severity};

use super::payload::USER_AGENT;
use super::*;

/// Long enough for anything that should happen at once, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// What a receiver does with a request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Answers this status at once.
    Status(u16),
    /// Answers this status with this `Retry-After`.
    RetryAfter(u16, &'static str),
    /// Never answers (until the receiver is dropped).
    Hang,
    /// Answers this status once the test opens the gate.
    Gated(u16),
}

/// A request as received.
#[derive(Debug)]
struct Received {
    /// `POST /hook/…`.
    request_line: String,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    /// The body.
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A receiver on 127.0.0.1, port 0, running until the test ends.
struct Receiver {
    /// Its URL, with a path that stands for a secret.
    url: String,
    /// Each request, as it arrives (before it is answered).
    requests: mpsc::Receiver<Received>,
    /// Dropped to open the gate for [`Answer::Gated`].
    gate: Option<mpsc::Sender<()>>,
    /// Dropped (with the receiver) to let hanging connections go.
    _hold: mpsc::Sender<()>,
}

impl Receiver {
    /// Answers request `n` (from 0) as `answer(n)` says.
    fn start(answer: impl Fn(usize) -> Answer + Send + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let port = listener.local_addr().expect("local address").port();
        let (requests_tx, requests) = mpsc::channel();
        let (gate, gate_rx) = mpsc::channel::<()>();
        let (hold, hold_rx) = mpsc::channel::<()>();
        let (gate_rx, hold_rx) = (Arc::new(Mutex::new(gate_rx)), Arc::new(Mutex::new(hold_rx)));
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let (answer, requests_tx) = (answer(n), requests_tx.clone());
                let (gate_rx, hold_rx) = (Arc::clone(&gate_rx), Arc::clone(&hold_rx));
                std::thread::spawn(move || serve(stream, answer, &requests_tx, &gate_rx, &hold_rx));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook/s3cret"),
            requests,
            gate: Some(gate),
            _hold: hold,
        }
    }

    /// The next request, waiting for it.
    fn next(&self) -> Received {
        self.requests.recv_timeout(PATIENCE).expect("a request within the limit")
    }

    /// Lets every gated request be answered, now and later.
    fn open(&mut self) {
        self.gate = None;
    }
}

/// Reads one request, reports it, answers it, and closes the connection (so
/// every request comes on a connection of its own).
fn serve(
    stream: TcpStream,
    answer: Answer,
    requests: &mpsc::Sender<Received>,
    gate: &Mutex<mpsc::Receiver<()>>,
    hold: &Mutex<mpsc::Receiver<()>>,
) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok());
    let mut body = vec![0; length.unwrap_or(0)];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let _ = requests.send(Received { request_line: request_line.trim().to_owned(), headers, body });
    let (status, retry_after) = match answer {
        Answer::Status(status) => (status, None),
        Answer::RetryAfter(status, after) => (status, Some(after)),
        Answer::Hang => {
            // Until the test's receiver is dropped: the sender's recv fails then.
            let _ = hold.lock().map(|hold| hold.recv());
            return;
        }
        Answer::Gated(status) => {
            let _ = gate.lock().map(|gate| gate.recv());
            (status, None)
        }
    };
    let retry_after = retry_after.map(|after| format!("Retry-After: {after}\r\n")).unwrap_or_default();
    let _ = write!(
        writer,
        "HTTP/1.1 {status} Test\r\n{retry_after}Content-Length: 2\r\nConnection: close\r\n\r\nok"
    );
}

fn event(id: i64) -> AlertEvent {
    AlertEvent {
        perfmon_alert: ALERT_SCHEMA,
        id,
        state: AlertState::Firing,
        rule: "memory_low".into(),
        severity: Severity::Critical,
        title: format!("Memory low #{id}"),
        message: "3 % available".into(),
        project: None,
        run_id: None,
        series: Some("memory.available_percent".into()),
        value: Some(3.0),
        threshold: Some(5.0),
        fired_at: shared::Timestamp("2026-12-03T08:00:00.000Z".into()),
        resolved_at: None,
        silenced: false,
    }
}

/// Retries in milliseconds, so the tests do not wait on backoffs.
fn quick(attempts: u32) -> Retry {
    Retry {
        attempts,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timeout: PATIENCE,
    }
}

fn webhook(name: &str, receiver: &Receiver) -> Destination {
    Destination::new(name, Kind::Webhook, &receiver.url).expect("a valid URL")
}

fn one(deliverer: &Deliverer) -> DestinationStatus {
    let mut status = deliverer.status();
    assert_eq!(status.len(), 1, "{status:?}");
    status.remove(0)
}

/// Waits until the only destination has finished `count` events.
fn wait_finished(deliverer: &Deliverer, count: u64) -> DestinationStatus {
    let done = deliverer.wait_for(PATIENCE, |s| s.len() == 1 && s[0].delivered + s[0].failed >= count);
    assert!(done, "{:?}", deliverer.status());
    one(deliverer)
}

#[test]
fn one_post_per_event_when_the_receiver_answers_200() {
    let receiver = Receiver::start(|_| Answer::Status(200));
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(5));
    deliverer.send(&event(1));
    let got = receiver.next();
    assert_eq!(got.request_line, "POST /hook/s3cret HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("user-agent"), Some(USER_AGENT));
    let sent: AlertEvent = serde_json::from_slice(&got.body).expect("the event as JSON");
    assert_eq!(sent, event(1));
    let status = wait_finished(&deliverer, 1);
    let port = receiver.url.split(':').nth(2).and_then(|p| p.split('/').next()).expect("a port");
    assert_eq!(
        status,
        DestinationStatus {
            name: "hook".into(),
            kind: "webhook".into(),
            target: format!("http://127.0.0.1:{port}/…"),
            delivered: 1,
            ..DestinationStatus::default()
        }
    );
    assert!(receiver.requests.try_recv().is_err(), "one event, one request");
    assert!(!format!("{:?} {deliverer:?}", deliverer.status()).contains("s3cret"));
}

#[test]
fn a_5xx_is_retried_until_delivered() {
    let receiver = Receiver::start(|n| Answer::Status(if n < 2 { 500 } else { 200 }));
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(5));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!((status.delivered, status.failed, status.last_error), (1, 0, None));
    for _ in 0..3 {
        receiver.next();
    }
    assert!(receiver.requests.try_recv().is_err(), "delivered on the third attempt");
}

#[test]
fn a_receiver_failing_every_attempt_is_given_up_with_the_last_reason() {
    let receiver = Receiver::start(|_| Answer::Status(502));
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(3));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!((status.delivered, status.failed, status.queued), (0, 1, 0));
    assert_eq!(status.last_error.as_deref(), Some("HTTP 502 after 3 attempts"));
    for _ in 0..3 {
        receiver.next();
    }
    assert!(receiver.requests.try_recv().is_err());
}

#[test]
fn a_4xx_is_refused_after_one_attempt() {
    let receiver = Receiver::start(|_| Answer::Status(400));
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(5));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!((status.delivered, status.failed), (0, 1));
    assert_eq!(status.last_error.as_deref(), Some("HTTP 400: refused, not retried"));
    let at = status.last_error_at.expect("when").0;
    assert!(chrono::DateTime::parse_from_rfc3339(&at).is_ok() && at.ends_with('Z') && at.len() == 24, "{at}");
    receiver.next();
    assert!(receiver.requests.try_recv().is_err(), "not retried");
}

#[test]
fn retry_after_is_honoured_up_to_the_longest_backoff() {
    // An hour asked for, 50 ms allowed: delivered well within the test's limit.
    let receiver =
        Receiver::start(|n| if n == 0 { Answer::RetryAfter(429, "3600") } else { Answer::Status(200) });
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(2));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!((status.delivered, status.failed), (1, 0));
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let destination = Destination::new("gone", Kind::Webhook, &format!("http://127.0.0.1:{port}/s3cret"))
        .expect("a valid URL");
    let deliverer = Deliverer::start(vec![destination], quick(2));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!(status.failed, 1);
    assert_eq!(status.last_error.as_deref(), Some("connection refused after 2 attempts"));
}

#[test]
fn a_hanging_receiver_times_out_without_holding_up_another_destination() {
    let timeout = Duration::from_secs(3);
    let hanging = Receiver::start(|_| Answer::Hang);
    let prompt = Receiver::start(|_| Answer::Status(200));
    let retry = Retry { timeout, ..quick(2) };
    let deliverer = Deliverer::start(vec![webhook("hangs", &hanging), webhook("prompt", &prompt)], retry);
    let sent = Instant::now();
    deliverer.send(&event(1));
    hanging.next();
    prompt.requests.recv_timeout(timeout).expect("the prompt receiver is not held up");
    deliverer.send(&event(2));
    prompt.requests.recv_timeout(timeout).expect("nor is its next event");
    assert!(sent.elapsed() < timeout, "both delivered within the hanging one's first timeout");
    let done = deliverer.wait_for(PATIENCE, |s| s.len() == 2 && s[0].failed >= 1 && s[1].delivered == 2);
    let status = deliverer.status();
    assert!(done, "{status:?}");
    assert_eq!(status[0].last_error.as_deref(), Some("timed out after 2 attempts"));
    assert_eq!((status[1].failed, status[1].last_error.as_deref()), (0, None));
}

#[test]
fn a_full_queue_drops_the_event_and_counts_it_failed() {
    let mut receiver = Receiver::start(|_| Answer::Gated(200));
    let deliverer = Deliverer::start(vec![webhook("slow", &receiver)], quick(1));
    deliverer.send(&event(0));
    receiver.next(); // The worker is now held on it; its queue is empty.
    for id in 1..=QUEUE_BOUND as i64 {
        deliverer.send(&event(id));
    }
    let started = Instant::now();
    deliverer.send(&event(999));
    assert!(started.elapsed() < Duration::from_secs(5), "send never blocks");
    let status = one(&deliverer);
    assert_eq!((status.queued, status.failed, status.delivered), (QUEUE_BOUND as u64 + 1, 1, 0));
    assert_eq!(status.last_error.as_deref(), Some("dropped: 64 alerts were already waiting"));
    receiver.open();
    let status = wait_finished(&deliverer, QUEUE_BOUND as u64 + 2);
    assert_eq!((status.delivered, status.failed, status.queued), (QUEUE_BOUND as u64 + 1, 1, 0));
}

#[test]
fn send_reaches_configured_destinations_and_send_to_only_its_own() {
    let configured = Receiver::start(|_| Answer::Status(200));
    let one_off = Receiver::start(|_| Answer::Status(200));
    let deliverer = Deliverer::start(vec![webhook("configured", &configured)], quick(1));
    let id = deliverer.add(webhook("--notify", &one_off));
    deliverer.send(&event(1));
    deliverer.send_to(id, &event(2));
    let from = |received: Received| serde_json::from_slice::<AlertEvent>(&received.body).expect("JSON").id;
    assert_eq!(from(configured.next()), 1);
    assert_eq!(from(one_off.next()), 2);
    let done = deliverer.wait_for(PATIENCE, |s| s.iter().map(|d| d.delivered).sum::<u64>() == 2);
    assert!(done, "{:?}", deliverer.status());
    let names: Vec<String> = deliverer.status().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["configured", "--notify"]);
    assert!(configured.requests.try_recv().is_err() && one_off.requests.try_recv().is_err());
}

#[test]
fn a_removed_destination_drains_its_queue_then_disappears() {
    let mut receiver = Receiver::start(|_| Answer::Gated(200));
    let deliverer = Deliverer::start(Vec::new(), quick(1));
    let id = deliverer.add(webhook("--notify", &receiver));
    for n in 1..=3 {
        deliverer.send_to(id, &event(n));
    }
    receiver.next();
    deliverer.remove(id);
    deliverer.send_to(id, &event(4)); // Taken by nobody, counted nowhere.
    assert_eq!(one(&deliverer).queued, 3);
    receiver.open();
    let ids: Vec<i64> = (0..2)
        .map(|_| serde_json::from_slice::<AlertEvent>(&receiver.next().body).expect("JSON").id)
        .collect();
    assert_eq!(ids, [2, 3]);
    assert!(deliverer.wait_for(PATIENCE, <[_]>::is_empty), "{:?}", deliverer.status());
    assert!(receiver.requests.try_recv().is_err(), "nothing after the removal was sent");
}

#[test]
fn shutdown_waits_for_the_queues_to_drain() {
    let mut receiver = Receiver::start(|_| Answer::Gated(200));
    let deliverer = Deliverer::start(vec![webhook("hook", &receiver)], quick(1));
    for n in 1..=3 {
        deliverer.send(&event(n));
    }
    receiver.next();
    // Opened while shutdown waits, from another thread.
    let gate = receiver.gate.take();
    let opener = std::thread::spawn(move || drop(gate));
    deliverer.shutdown(PATIENCE);
    assert!(deliverer.status().is_empty(), "every worker has ended");
    receiver.next();
    receiver.next();
    let _ = opener.join();
    deliverer.send(&event(4));
    assert!(receiver.requests.try_recv().is_err(), "nothing is taken after shutdown");
    receiver.open();
}

#[test]
fn shutdown_returns_within_its_limit_despite_a_hanging_receiver() {
    let receiver = Receiver::start(|_| Answer::Hang);
    let deliverer = Deliverer::start(vec![webhook("hangs", &receiver)], quick(5));
    deliverer.send(&event(1));
    deliverer.send(&event(2));
    receiver.next();
    let started = Instant::now();
    deliverer.shutdown(Duration::from_millis(200));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(200) && took < Duration::from_secs(20), "{took:?}");
    deliverer.send(&event(3));
    assert_eq!(one(&deliverer).queued, 2, "the hung request and the one behind it");
}

#[test]
fn credentials_in_the_url_become_basic_auth_and_ntfy_headers_arrive() {
    let receiver = Receiver::start(|_| Answer::Status(200));
    let url = receiver.url.replacen("http://", "http://alice:pa%40ss@", 1);
    let destination = Destination::new("phone", Kind::Ntfy, &url).expect("a valid URL");
    assert!(!format!("{destination:?}").contains("alice"));
    let deliverer = Deliverer::start(vec![destination], quick(1));
    deliverer.send(&event(7));
    let got = receiver.next();
    assert_eq!(got.request_line, "POST /hook/s3cret HTTP/1.1");
    // base64("alice:pa@ss")
    assert_eq!(got.header("authorization"), Some("Basic YWxpY2U6cGFAc3M="));
    assert!(got.header("host").is_some_and(|host| !host.contains("alice")));
    assert_eq!(got.header("x-title"), Some("Memory low #7"));
    assert_eq!(got.header("x-priority"), Some("5"));
    assert_eq!(got.header("x-tags"), Some("rotating_light"));
    assert_eq!(got.body, b"3 % available");
    assert_eq!(wait_finished(&deliverer, 1).delivered, 1);
}

#[test]
fn a_tls_failure_is_reported_not_panicked() {
    // Answers a TLS handshake with plain HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let destination = Destination::new("tls", Kind::Webhook, &format!("https://127.0.0.1:{port}/s3cret"))
        .expect("a valid URL");
    let deliverer = Deliverer::start(vec![destination], quick(2));
    deliverer.send(&event(1));
    let status = wait_finished(&deliverer, 1);
    assert_eq!((status.delivered, status.failed), (0, 1));
    let error = status.last_error.expect("a reason");
    // rustls's words ("received corrupt message …"), tried once.
    assert!(error.starts_with("TLS: ") && error.ends_with(", not retried"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

/// A deliverer to one webhook called "hook", its alerts kept in `dir`.
fn kept_by(receiver: &Receiver, retry: Retry, dir: &std::path::Path) -> Deliverer {
    Deliverer::start_kept(vec![webhook("hook", receiver)], retry, Some(Outbox::open(dir).expect("an outbox")))
}

/// The `.json` and other files in an outbox folder, by name.
fn outbox_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the outbox folder")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A receiver down when the server stops: the alerts still queued stay in the
/// outbox, and the next start sends them, in order, to the destination of the
/// same name, then forgets them.
#[test]
fn alerts_still_queued_at_shutdown_are_kept_and_sent_at_the_next_start() {
    let scratch = crate::testkit::Scratch::new("outbox-restart");
    let dir = scratch.join(outbox::DIR);
    let down = Receiver::start(|_| Answer::Status(503));
    // Retries far apart: only the shutdown ends them.
    let patient = Retry { attempts: 20, first_backoff: Duration::from_secs(600), ..quick(20) };
    let first = kept_by(&down, patient, &dir);
    first.send(&event(1));
    first.send(&event(2));
    down.next();
    assert_eq!(outbox_files(&dir).len(), 2, "kept before they are sent");
    first.shutdown(Duration::from_millis(100));
    assert!(first.wait_for(PATIENCE, |s| s.is_empty()), "the worker ended: {:?}", first.status());
    assert_eq!(outbox_files(&dir), ["000000000001.json", "000000000002.json"]);

    let up = Receiver::start(|_| Answer::Status(204));
    let second = kept_by(&up, quick(3), &dir);
    for id in [1, 2] {
        let sent: AlertEvent = serde_json::from_slice(&up.next().body).expect("the event as JSON");
        assert_eq!(sent, event(id));
    }
    let status = wait_finished(&second, 2);
    assert_eq!((status.delivered, status.failed), (2, 0), "{status:?}");
    assert!(outbox_files(&dir).is_empty(), "delivered, forgotten: {:?}", outbox_files(&dir));
}

/// However many a shutdown left (a full queue and one in flight), the next
/// start sends them all: none is dropped for a queue that is full at start.
#[test]
fn more_kept_alerts_than_a_queue_holds_are_all_sent_at_the_next_start() {
    let scratch = crate::testkit::Scratch::new("outbox-many");
    let dir = scratch.join(outbox::DIR);
    let outbox = Outbox::open(&dir).expect("an outbox");
    let many = QUEUE_BOUND as i64 + 1;
    for id in 1..=many {
        assert!(outbox.keep("hook", &event(id)).is_some());
    }
    drop(outbox);
    let up = Receiver::start(|_| Answer::Status(204));
    let deliverer = kept_by(&up, quick(3), &dir);
    for id in 1..=many {
        let sent: AlertEvent = serde_json::from_slice(&up.next().body).expect("the event as JSON");
        assert_eq!(sent.id, id, "in the order they were kept");
    }
    let status = wait_finished(&deliverer, many as u64);
    assert_eq!((status.delivered, status.failed), (many as u64, 0), "{status:?}");
    assert!(outbox_files(&dir).is_empty());
}

/// An alert the receiver refuses while the server shuts down is given up for
/// good, not kept: only retries the shutdown stopped are kept.
#[test]
fn an_alert_refused_during_shutdown_is_not_kept() {
    let scratch = crate::testkit::Scratch::new("outbox-refused");
    let dir = scratch.join(outbox::DIR);
    let mut refusing = Receiver::start(|_| Answer::Gated(400));
    let deliverer = kept_by(&refusing, quick(3), &dir);
    deliverer.send(&event(1));
    refusing.next();
    deliverer.shutdown(Duration::from_millis(100));
    refusing.open();
    assert!(deliverer.wait_for(PATIENCE, |s| s.is_empty()), "the worker ended: {:?}", deliverer.status());
    assert!(outbox_files(&dir).is_empty(), "{:?}", outbox_files(&dir));
}

/// A kept alert whose destination is no longer configured is dropped, one
/// that cannot be read is set aside (never sent, never deleted), an alert
/// given up on is forgotten, and a run's own destination keeps nothing.
#[test]
fn kept_alerts_for_a_gone_destination_are_dropped_and_an_unreadable_one_is_set_aside() {
    let scratch = crate::testkit::Scratch::new("outbox-gone");
    let dir = scratch.join(outbox::DIR);
    let before = Outbox::open(&dir).expect("an outbox");
    assert!(before.keep("gone", &event(7)).is_some());
    std::fs::write(dir.join("000000000005.json"), b"{not json").expect("a broken file");
    std::fs::write(dir.join("000000000009.partial"), b"{\"destination\":").expect("a cut write");
    drop(before);

    let refusing = Receiver::start(|_| Answer::Status(400));
    let deliverer = kept_by(&refusing, quick(3), &dir);
    assert_eq!(outbox_files(&dir), ["000000000005.unreadable"]);
    deliverer.send(&event(8));
    let sent: AlertEvent = serde_json::from_slice(&refusing.next().body).expect("the event as JSON");
    assert_eq!(sent, event(8), "the gone destination's alert is not sent here");
    let status = wait_finished(&deliverer, 1);
    assert_eq!(status.failed, 1, "{status:?}");
    assert_eq!(outbox_files(&dir), ["000000000005.unreadable"], "given up, forgotten");

    // Held by its receiver, a kept alert would still be on disk.
    let mut run_receiver = Receiver::start(|_| Answer::Gated(204));
    let id = deliverer.add(webhook("run", &run_receiver));
    deliverer.send_to(id, &event(9));
    run_receiver.next();
    assert_eq!(outbox_files(&dir), ["000000000005.unreadable"], "a run's destination keeps nothing");
    run_receiver.open();
    // A new file is never numbered as one set aside.
    let path = Outbox::open(&dir).expect("an outbox").keep("hook", &event(10)).expect("kept");
    assert_eq!(path.file_name().and_then(|n| n.to_str()), Some("000000000006.json"));
}
