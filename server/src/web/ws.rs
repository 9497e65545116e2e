//! `GET /ws/projects/{project}`: the per-client socket; its upgrade checks and its
//! reader and writer also serve PerfWatch's stream ([`super::perfwatch`]).
//!
//! Before the upgrade (and after the guard's Host and Origin checks, 403): the
//! project name is checked (400) and a connection slot taken (503), each refused
//! in the one error shape. After it: a
//! missing or bad token closes with 4001 and an unlisted project with 4004, with
//! the reason, before any data. Then the socket is split in two halves joined in
//! one task: the **writer** sends the run's status (`agent_status`), replays the
//! history, sends the newest sample whole, then forwards the project's newest
//! frame on every publish (with `agent_status` first when the run's status
//! changed: AutoForge's panel takes its Live badge from that message alone),
//! sends the reader's replies and the server's pings, and drops a client that
//! goes silent or stops reading; the **reader** answers
//! `ping`, turns bad input into an `error` message, and closes an oversized frame
//! with 1009. Server shutdown closes with 1001.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use shared::{ClientMsg, ErrorCode, ErrorMsg, RunStatus, ServerMsg, close};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::error::ApiError;
use super::extract::Project;
use super::{AppState, ConnectionSlot, auth};
use crate::hub::project::ProjectName;
use crate::hub::{Frame, Subscription};

/// The largest client message accepted; clients only ever send tiny control
/// messages. Larger ones close the socket with 1009.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;
/// What the WebSocket layer buffers at most for one incoming message, so an
/// oversized one is still read whole enough to be answered with 1009.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Per-connection buffers. tungstenite's defaults (128 KiB to read, 128 KiB to
/// gather writes) would cost 128 MB of RSS per thousand clients for messages of
/// a few hundred bytes in and a few KiB out.
const READ_BUFFER_BYTES: usize = 4 * 1024;
const WRITE_BUFFER_BYTES: usize = 0;
/// Output queued for one client beyond what the kernel's socket buffer took.
/// Every send waits for its message to be flushed, so this holds at most the
/// message being sent (and a ping): it must fit the largest message the hub hands
/// out, or that message could never be sent and the client would be dropped.
const MAX_WRITE_BUFFER_BYTES: usize = crate::hub::MAX_MESSAGE_BYTES + 64 * 1024;

/// Checks what can be checked before the upgrade, then upgrades to the stream.
pub async fn handler(
    project: Result<Project, ApiError>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    // Taken as a `Result` so a bad project name is reported before upgrade problems.
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Project(project) = match project {
        Ok(project) => project,
        Err(err) => return err.into_response(),
    };
    let unlisted = !state.config.watches(&project);
    let refusal = unlisted.then(|| (close::UNKNOWN_PROJECT, "unknown project".to_owned()));
    upgrade(&state, ws, &headers, query.as_deref(), refusal, move |socket, state, slot| {
        serve(socket, project, state, slot)
    })
}

/// What every stream does before and at the upgrade: refuses a request that is
/// not an upgrade (400) or finds no free connection slot (503), in the one error
/// shape; then upgrades, and closes at once with the reason when the credential
/// is missing or bad (4001) or `refusal` says so, before any data; else hands
/// the socket to `serve`.
pub(super) fn upgrade<F, Fut>(
    state: &Arc<AppState>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: &HeaderMap,
    query: Option<&str>,
    refusal: Option<(u16, String)>,
    serve: F,
) -> Response
where
    F: FnOnce(WebSocket, Arc<AppState>, ConnectionSlot) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::new(rejection.status(), "not_a_websocket", rejection.body_text())
                .into_response();
        }
    };
    let Some(slot) = state.try_connect() else {
        let message = format!("too many connections (at most {})", state.config.max_connections);
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", message).into_response();
    };
    let refusal = match auth::check(&state.config.auth, headers, query) {
        Err(err) => Some((close::UNAUTHORIZED, err.to_string())),
        Ok(()) => refusal,
    };
    let state = state.clone();
    ws.protocols([shared::SUBPROTOCOL])
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            match refusal {
                Some((code, reason)) => close_with(socket, code, reason).await,
                None => serve(socket, state, slot).await,
            }
        })
}

/// Closes a socket the server refuses, with the reason, before any data.
async fn close_with(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame { code, reason: reason.into() };
    // The peer may already be gone; nothing more to do either way.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// What the reader asks the writer to send.
#[derive(Debug)]
enum Outgoing {
    /// A reply to a client message, encoded.
    Reply(Utf8Bytes),
    /// Close with this code and reason, then stop.
    Close(u16, &'static str),
}

/// When the client was last heard from, in milliseconds since the socket opened;
/// the reader writes it, the writer reads it to drop silent clients.
struct LastHeard {
    opened: Instant,
    millis: AtomicU64,
}

impl LastHeard {
    fn new() -> Self {
        LastHeard { opened: Instant::now(), millis: AtomicU64::new(0) }
    }

    fn now(&self) {
        self.millis.store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn silent_for(&self) -> std::time::Duration {
        let heard = std::time::Duration::from_millis(self.millis.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(heard)
    }
}

async fn serve(socket: WebSocket, project: ProjectName, state: Arc<AppState>, slot: ConnectionSlot) {
    let mut socket = socket;
    let Subscription { history, mut frames, status } = match state.hub.subscribe(&project) {
        Ok(subscription) => subscription,
        Err(err) => {
            let refusal = ServerMsg::Error(ErrorMsg { code: ErrorCode::Busy, message: err.to_string() });
            if let Some(text) = encode(&refusal) {
                let _ = socket.send(Message::Text(text)).await;
            }
            return close_with(socket, close::TOO_MANY_PROJECTS, "too many projects".to_owned()).await;
        }
    };
    // The newest sample is the history's last, without the machine in depth:
    // it follows whole, so a client that ignores `history` (AutoForge's) has
    // data at once rather than at the next publish, seconds later.
    let newest = frames.borrow_and_update().clone().filter(|frame| frame.status().is_some());
    let first = std::iter::once(agent_status(status)).chain(history).chain(newest).collect();
    stream(socket, first, frames, state, slot, project.as_str()).await
}

/// `{"type":"agent_status","status":…}` for `status`, carrying the status it
/// says, so the writer sends the next one only when a sample's differs.
fn agent_status(status: RunStatus) -> Frame {
    Frame::metrics(agent_status_text(status).to_owned(), status)
}

/// The `agent_status` message for each status, written once: a status change
/// reaches every client of a project, which must not serialise it each.
fn agent_status_text(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Stopped => r#"{"type":"agent_status","status":"stopped"}"#,
        RunStatus::Running => r#"{"type":"agent_status","status":"running"}"#,
        RunStatus::Paused => r#"{"type":"agent_status","status":"paused"}"#,
        RunStatus::Crashed => r#"{"type":"agent_status","status":"crashed"}"#,
    }
}

/// Serves one accepted socket until either side ends it: `first` (the run's
/// status, a history replay and the newest frame, or the newest frame), then
/// every newer frame of `frames`, with the reader's replies and the server's
/// pings in between. `who` names the stream in logs.
pub(super) async fn stream(
    socket: WebSocket,
    first: Vec<Frame>,
    frames: watch::Receiver<Option<Frame>>,
    state: Arc<AppState>,
    _slot: ConnectionSlot,
    who: &str,
) {
    let (sink, stream) = socket.split();
    let (outgoing, replies) = mpsc::channel(8);
    let last_heard = LastHeard::new();
    // Either half ending ends the other: the reader by dropping its sender, the
    // writer by cancelling `done`.
    let done = CancellationToken::new();
    let writer = async {
        write(sink, first, frames, replies, &state, &last_heard, who).await;
        done.cancel();
    };
    tokio::join!(read(stream, outgoing, &last_heard, &done), writer);
}

/// The writer half ([`write_frames`]), then the close: closing the sink
/// flushes a close the WebSocket layer holds (its answer to the client's own,
/// which it queues itself and after which it refuses any other frame), within
/// a second — a client that stopped reading is not waited for again.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    first: Vec<Frame>,
    frames: watch::Receiver<Option<Frame>>,
    replies: mpsc::Receiver<Outgoing>,
    state: &AppState,
    last_heard: &LastHeard,
    who: &str,
) {
    write_frames(&mut sink, first, frames, replies, state, last_heard, who).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), sink.close()).await;
}

/// The first frame, newer frames, replies, pings, and the close.
async fn write_frames(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Vec<Frame>,
    mut frames: watch::Receiver<Option<Frame>>,
    mut replies: mpsc::Receiver<Outgoing>,
    state: &AppState,
    last_heard: &LastHeard,
    who: &str,
) {
    let timeout = state.config.send_timeout;
    // The recent samples first, so charts fill at once; they end with the current
    // frame, which the receiver counts as seen.
    let mut status = first.iter().find_map(Frame::status);
    for frame in &first {
        if !send(sink, timeout, Message::Text(text_of(frame))).await {
            return;
        }
    }
    let mut pings = tokio::time::interval(state.config.ping_interval);
    pings.reset();
    loop {
        let message = tokio::select! {
            _ = state.shutdown.cancelled() => {
                let close = CloseFrame { code: close::GOING_AWAY, reason: "server shutting down".into() };
                let _ = send(sink, timeout, Message::Close(Some(close))).await;
                return;
            }
            changed = frames.changed() => {
                if changed.is_err() {
                    return; // The hub dropped the channel: the server is going away.
                }
                let frame = frames.borrow_and_update().clone();
                let Some(frame) = frame else { continue };
                if let Some(now) = frame.status()
                    && status != Some(now)
                {
                    status = Some(now);
                    let text = Utf8Bytes::from_static(agent_status_text(now));
                    if !send(sink, timeout, Message::Text(text)).await {
                        return;
                    }
                }
                Message::Text(text_of(&frame))
            }
            _ = pings.tick() => {
                if last_heard.silent_for() > state.config.client_timeout {
                    tracing::debug!("dropping a silent client of {who}");
                    return;
                }
                Message::Ping(Default::default())
            }
            reply = replies.recv() => match reply {
                Some(Outgoing::Reply(text)) => Message::Text(text),
                Some(Outgoing::Close(code, reason)) => {
                    let close = CloseFrame { code, reason: reason.into() };
                    // After the client's own close the WebSocket layer has
                    // queued the answer itself and refuses this one: `write`
                    // closes the sink, which flushes whichever it holds.
                    let _ = send(sink, timeout, Message::Close(Some(close))).await;
                    return;
                }
                None => return, // The reader ended: the client is gone.
            },
        };
        if !send(sink, timeout, message).await {
            return;
        }
    }
}

/// Sends within `timeout`: a client that stops reading fills its buffers, and a
/// send that does not finish in time drops it rather than hold its task (and
/// slot) forever.
async fn send(
    sink: &mut SplitSink<WebSocket, Message>,
    timeout: std::time::Duration,
    message: Message,
) -> bool {
    matches!(tokio::time::timeout(timeout, sink.send(message)).await, Ok(Ok(())))
}

/// A close with nothing wrong (RFC 6455's 1000), answering a client's close
/// that gave no code.
const NORMAL_CLOSURE: u16 = 1000;

/// The reader half: every client message gets its answer through the writer.
async fn read(
    mut stream: SplitStream<WebSocket>,
    outgoing: mpsc::Sender<Outgoing>,
    last_heard: &LastHeard,
    done: &CancellationToken,
) {
    loop {
        let incoming = tokio::select! {
            _ = done.cancelled() => return,
            incoming = stream.next() => incoming,
        };
        let Some(Ok(message)) = incoming else { return };
        last_heard.now();
        let size = match &message {
            Message::Text(text) => text.len(),
            Message::Binary(bytes) => bytes.len(),
            _ => 0,
        };
        let reply = if size > MAX_CLIENT_MESSAGE_BYTES {
            Outgoing::Close(close::MESSAGE_TOO_BIG, "message too big")
        } else {
            let reply = match message {
                Message::Text(text) => reply_to(text.as_str()),
                Message::Binary(_) => {
                    error(ErrorCode::BinaryNotSupported, "binary frames are not supported; send JSON text")
                }
                // The closing handshake: the close is answered (with the
                // client's code) before the socket is dropped.
                Message::Close(frame) => {
                    let code = frame.map_or(NORMAL_CLOSURE, |f| f.code);
                    let _ = outgoing.send(Outgoing::Close(code, "")).await;
                    return;
                }
                // Protocol-level ping/pong are answered by the WebSocket layer; a
                // pong is what keeps `last_heard` fresh.
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            match encode(&reply) {
                Some(text) => Outgoing::Reply(text),
                None => continue,
            }
        };
        let closing = matches!(reply, Outgoing::Close(..));
        if outgoing.send(reply).await.is_err() || closing {
            return;
        }
    }
}

/// What the server answers to one text frame from a client.
pub fn reply_to(text: &str) -> ServerMsg {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(ClientMsg::Ping) => ServerMsg::Pong,
        Err(err) if err.is_data() => {
            error(ErrorCode::UnsupportedMessage, "unsupported message: expected {\"type\":\"ping\"}")
        }
        Err(err) => error(ErrorCode::InvalidJson, &format!("invalid JSON: {err}")),
    }
}

fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error(ErrorMsg { code, message: message.to_owned() })
}

fn encode(msg: &ServerMsg) -> Option<Utf8Bytes> {
    serde_json::to_string(msg)
        .map(Utf8Bytes::from)
        .map_err(|err| tracing::error!("could not serialise a reply: {err}"))
        .ok()
}

/// A hub frame as WebSocket text: its shared bytes, checked once as UTF-8.
fn text_of(frame: &Frame) -> Utf8Bytes {
    Utf8Bytes::try_from(frame.bytes()).unwrap_or_else(|_| Utf8Bytes::from_static("{}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn each_agent_status_text_is_the_message_serde_writes() {
        for status in [RunStatus::Stopped, RunStatus::Running, RunStatus::Paused, RunStatus::Crashed] {
            let msg = ServerMsg::AgentStatus(shared::AgentStatusMsg { status });
            assert_eq!(agent_status_text(status), serde_json::to_string(&msg).expect("serialises"));
        }
    }

    #[test]
    fn ping_gets_pong() {
        assert_eq!(reply_to(r#"{"type":"ping"}"#), ServerMsg::Pong);
    }

    #[test]
    fn malformed_json_gets_invalid_json() {
        let ServerMsg::Error(err) = reply_to("{not json") else { panic!("expected an error") };
        assert_eq!(err.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn unknown_types_get_unsupported_message() {
        for text in [r#"{"type":"subscribe"}"#, r#"{"kind":"ping"}"#, "42", "[]"] {
            let ServerMsg::Error(err) = reply_to(text) else { panic!("expected an error for {text}") };
            assert_eq!(err.code, ErrorCode::UnsupportedMessage, "{text}");
        }
    }

    proptest! {
        /// Whatever a client sends, the decoder answers (pong or a typed error) and
        /// never panics.
        #[test]
        fn any_text_gets_a_reply_and_never_a_panic(text in ".{0,512}") {
            let reply = reply_to(&text);
            prop_assert!(matches!(reply, ServerMsg::Pong | ServerMsg::Error(_)));
        }

        /// JSON-shaped input too, where the interesting cases are.
        #[test]
        fn json_shaped_text_is_pong_only_for_a_ping(kind in "[a-z_]{0,12}", extra in "[a-z0-9]{0,8}") {
            let text = format!(r#"{{"type":"{kind}","x":"{extra}"}}"#);
            let reply = reply_to(&text);
            if kind == "ping" {
                prop_assert_eq!(reply, ServerMsg::Pong);
            } else {
                let is_unsupported = matches!(&reply, ServerMsg::Error(e) if e.code == ErrorCode::UnsupportedMessage);
                prop_assert!(is_unsupported);
            }
        }
    }
}
