//! `GET /ws/projects/{project}`: the per-client socket task.
//!
//! Before the upgrade: the project name is checked (400), the Origin (403), and a
//! connection slot taken (503). After it: a missing or bad token closes with 4001
//! and an unlisted project with 4004, with the reason, before any data. Then one
//! task per socket replays the history, forwards the project's newest frame on
//! every publish, answers `ping`, turns bad input into an `error` message (an
//! oversized frame closes with 1009), pings the client and drops it when it goes
//! silent or stops reading, and closes with 1001 on server shutdown.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use shared::{ClientMsg, ErrorCode, ErrorMsg, ServerMsg};

use crate::auth::{self, AuthError};
use crate::hub::Subscription;
use crate::project::ProjectName;
use crate::{AppState, ConnectionSlot};

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
/// A client that stops reading can hold at most this much queued output before
/// its sends fail and it is dropped; the kernel's socket buffer comes first.
const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// Close codes of PerfMon's own refusals (4000–4999: no retry helps).
pub mod close {
    /// Missing, invalid or expired token.
    pub const UNAUTHORIZED: u16 = 4001;
    /// The project is not in the server's project list.
    pub const UNKNOWN_PROJECT: u16 = 4004;
    /// Too many projects are tracked.
    pub const TOO_MANY_PROJECTS: u16 = 4029;
}

fn refuse(status: StatusCode, code: ErrorCode, message: String) -> Response {
    (status, Json(ServerMsg::Error(ErrorMsg { code, message }))).into_response()
}

/// Checks what can be checked before the upgrade, then upgrades to the stream.
pub async fn handler(
    Path(project): Path<String>,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    // Taken as a `Result` so a bad project name is reported before upgrade problems.
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let project = match ProjectName::parse(&project) {
        Ok(project) => project,
        Err(err) => return refuse(StatusCode::BAD_REQUEST, ErrorCode::InvalidProject, err.to_string()),
    };
    if !auth::origin_allowed(&headers, &state.config.allowed_origins) {
        return refuse(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "this page's origin may not open the stream".into(),
        );
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    let Some(slot) = state.try_connect() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Busy,
            format!("too many connections (at most {})", state.config.max_connections),
        );
    };
    let authorized = state.config.auth.check(&headers, query.as_deref());
    ws.protocols([auth::PROTOCOL])
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let refusal = match authorized {
                Err(AuthError::Missing) => Some((close::UNAUTHORIZED, "authentication required")),
                Err(AuthError::Invalid) => Some((close::UNAUTHORIZED, "invalid or expired token")),
                Ok(()) if state.config.projects.as_ref().is_some_and(|p| !p.contains(&project)) => {
                    Some((close::UNKNOWN_PROJECT, "unknown project"))
                }
                Ok(()) => None,
            };
            match refusal {
                Some((code, reason)) => close_with(socket, code, reason).await,
                None => serve(socket, project, state, slot).await,
            }
        })
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    // The peer may already be gone; nothing more to do either way.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// Sends with the configured timeout: a client that stops reading fills its
/// buffers, and must not hold its task (and slot) forever.
async fn send(socket: &mut WebSocket, state: &AppState, message: Message) -> bool {
    matches!(tokio::time::timeout(state.config.send_timeout, socket.send(message)).await, Ok(Ok(())))
}

async fn serve(mut socket: WebSocket, project: ProjectName, state: Arc<AppState>, _slot: ConnectionSlot) {
    let Subscription { history, mut frames } = match state.hub.subscribe(&project) {
        Ok(subscription) => subscription,
        Err(err) => {
            let _ = send_msg(&mut socket, &state, &error(ErrorCode::Busy, &err.to_string())).await;
            return close_with(socket, close::TOO_MANY_PROJECTS, "too many projects").await;
        }
    };
    // The recent samples first, so charts fill at once; they end with the current
    // frame, which the receiver counts as seen.
    if let Some(history) = history
        && !send(&mut socket, &state, Message::Text(history)).await
    {
        return;
    }
    let mut pings = tokio::time::interval(state.config.ping_interval);
    pings.reset();
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                let close = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
                let _ = send(&mut socket, &state, Message::Close(Some(close))).await;
                return;
            }
            changed = frames.changed() => {
                if changed.is_err() {
                    return; // The hub dropped the project: the server is going away.
                }
                let frame = frames.borrow_and_update().clone();
                if let Some(frame) = frame
                    && !send(&mut socket, &state, Message::Text(frame)).await
                {
                    return;
                }
            }
            _ = pings.tick() => {
                if last_heard.elapsed() > state.config.client_timeout {
                    tracing::debug!("dropping a silent client of {project}");
                    return;
                }
                if !send(&mut socket, &state, Message::Ping(Default::default())).await {
                    return;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                last_heard = Instant::now();
                let size = match &message {
                    Message::Text(text) => text.len(),
                    Message::Binary(bytes) => bytes.len(),
                    _ => 0,
                };
                if size > MAX_CLIENT_MESSAGE_BYTES {
                    let close = CloseFrame { code: close_code::SIZE, reason: "message too big".into() };
                    let _ = send(&mut socket, &state, Message::Close(Some(close))).await;
                    return;
                }
                let reply = match message {
                    Message::Text(text) => reply_to(text.as_str()),
                    Message::Binary(_) => Some(error(ErrorCode::BinaryNotSupported, "binary frames are not supported; send JSON text")),
                    Message::Close(_) => return,
                    // Protocol-level ping/pong are answered by the WebSocket layer;
                    // a pong is what keeps `last_heard` fresh.
                    Message::Ping(_) | Message::Pong(_) => None,
                };
                if let Some(reply) = reply
                    && !send_msg(&mut socket, &state, &reply).await
                {
                    return;
                }
            }
        }
    }
}

/// What the server answers to one text frame from a client.
pub fn reply_to(text: &str) -> Option<ServerMsg> {
    match serde_json::from_str::<ClientMsg>(text) {
        Ok(ClientMsg::Ping) => Some(ServerMsg::Pong),
        Err(err) if err.is_data() => {
            Some(error(ErrorCode::UnsupportedMessage, "unsupported message: expected {\"type\":\"ping\"}"))
        }
        Err(err) => Some(error(ErrorCode::InvalidJson, &format!("invalid JSON: {err}"))),
    }
}

fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error(ErrorMsg { code, message: message.to_owned() })
}

async fn send_msg(socket: &mut WebSocket, state: &AppState, msg: &ServerMsg) -> bool {
    match serde_json::to_string(msg) {
        Ok(text) => send(socket, state, Message::Text(text.into())).await,
        Err(err) => {
            tracing::error!("could not serialise a reply: {err}");
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ping_gets_pong() {
        assert_eq!(reply_to(r#"{"type":"ping"}"#), Some(ServerMsg::Pong));
    }

    #[test]
    fn malformed_json_gets_invalid_json() {
        let Some(ServerMsg::Error(err)) = reply_to("{not json") else { panic!("expected an error") };
        assert_eq!(err.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn unknown_types_get_unsupported_message() {
        for text in [r#"{"type":"subscribe"}"#, r#"{"kind":"ping"}"#, "42", "[]"] {
            let Some(ServerMsg::Error(err)) = reply_to(text) else { panic!("expected an error for {text}") };
            assert_eq!(err.code, ErrorCode::UnsupportedMessage, "{text}");
        }
    }

    proptest! {
        /// Whatever a client sends, the decoder answers (pong or a typed error) and
        /// never panics.
        #[test]
        fn any_text_gets_a_reply_and_never_a_panic(text in ".{0,512}") {
            let reply = reply_to(&text);
            prop_assert!(matches!(reply, Some(ServerMsg::Pong) | Some(ServerMsg::Error(_))));
        }

        /// JSON-shaped input too, where the interesting cases are.
        #[test]
        fn json_shaped_text_is_pong_only_for_a_ping(kind in "[a-z_]{0,12}", extra in "[a-z0-9]{0,8}") {
            let text = format!(r#"{{"type":"{kind}","x":"{extra}"}}"#);
            let reply = reply_to(&text);
            if kind == "ping" {
                prop_assert_eq!(reply, Some(ServerMsg::Pong));
            } else {
                let is_unsupported = matches!(&reply, Some(ServerMsg::Error(e)) if e.code == ErrorCode::UnsupportedMessage);
                prop_assert!(is_unsupported);
            }
        }
    }
}
