//! `GET /ws/projects/{project}`: the per-client socket task.
//!
//! One task per socket forwards the project's newest frame whenever the sampler
//! publishes one, answers `ping` with `pong`, turns bad input into an `error`
//! message (the socket stays open), and closes with 1001 on server shutdown.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use shared::{ClientMsg, ErrorCode, ErrorMsg, ServerMsg};

use crate::AppState;
use crate::hub::Subscription;
use crate::project::ProjectName;

/// WebSocket close code 1013, "try again later".
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;

/// The largest client frame accepted; clients only ever send tiny control messages.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4 * 1024;

/// Validates the project name, then upgrades to the stream.
pub async fn handler(
    Path(project): Path<String>,
    State(state): State<Arc<AppState>>,
    // Taken as a `Result` so a bad project name is reported before upgrade problems.
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let project = match ProjectName::parse(&project) {
        Ok(project) => project,
        Err(err) => {
            let body = ErrorMsg {
                code: ErrorCode::InvalidProject,
                message: err.to_string(),
            };
            return (StatusCode::BAD_REQUEST, Json(ServerMsg::Error(body))).into_response();
        }
    };
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    ws.max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(socket, project, state))
}

async fn serve(mut socket: WebSocket, project: ProjectName, state: Arc<AppState>) {
    let Subscription {
        history,
        mut frames,
    } = match state.hub.subscribe(&project) {
        Ok(subscription) => subscription,
        Err(err) => {
            let _ = send_msg(&mut socket, &error(ErrorCode::Busy, &err.to_string())).await;
            let close = CloseFrame {
                code: CLOSE_TRY_AGAIN_LATER,
                reason: "too many projects".into(),
            };
            let _ = socket.send(Message::Close(Some(close))).await;
            return;
        }
    };
    // The recent samples first, so charts fill at once; they end with the current
    // frame, which the receiver counts as seen.
    if let Some(history) = history
        && socket.send(Message::Text(history)).await.is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            _ = state.shutdown.cancelled() => {
                let close = CloseFrame { code: close_code::AWAY, reason: "server shutting down".into() };
                // The peer may already be gone; nothing more to do either way.
                let _ = socket.send(Message::Close(Some(close))).await;
                return;
            }
            changed = frames.changed() => {
                if changed.is_err() {
                    return; // The hub dropped the project: the server is going away.
                }
                let frame = frames.borrow_and_update().clone();
                if let Some(frame) = frame
                    && socket.send(Message::Text(frame)).await.is_err()
                {
                    return;
                }
            }
            incoming = socket.recv() => {
                let Some(Ok(message)) = incoming else { return };
                let reply = match message {
                    Message::Text(text) => reply_to(text.as_str()),
                    Message::Binary(_) => Some(error(ErrorCode::BinaryNotSupported, "binary frames are not supported; send JSON text")),
                    Message::Close(_) => return,
                    // Protocol-level ping/pong are answered by the WebSocket layer.
                    Message::Ping(_) | Message::Pong(_) => None,
                };
                if let Some(reply) = reply
                    && send_msg(&mut socket, &reply).await.is_err()
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
        Err(err) if err.is_data() => Some(error(
            ErrorCode::UnsupportedMessage,
            "unsupported message: expected {\"type\":\"ping\"}",
        )),
        Err(err) => Some(error(
            ErrorCode::InvalidJson,
            &format!("invalid JSON: {err}"),
        )),
    }
}

fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error(ErrorMsg {
        code,
        message: message.to_owned(),
    })
}

async fn send_msg(socket: &mut WebSocket, msg: &ServerMsg) -> Result<(), axum::Error> {
    match serde_json::to_string(msg) {
        Ok(text) => socket.send(Message::Text(text.into())).await,
        Err(err) => {
            tracing::error!("could not serialise a reply: {err}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_gets_pong() {
        assert_eq!(reply_to(r#"{"type":"ping"}"#), Some(ServerMsg::Pong));
    }

    #[test]
    fn malformed_json_gets_invalid_json() {
        let Some(ServerMsg::Error(err)) = reply_to("{not json") else {
            panic!("expected an error")
        };
        assert_eq!(err.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn unknown_types_get_unsupported_message() {
        for text in [r#"{"type":"subscribe"}"#, r#"{"kind":"ping"}"#, "42", "[]"] {
            let Some(ServerMsg::Error(err)) = reply_to(text) else {
                panic!("expected an error for {text}")
            };
            assert_eq!(err.code, ErrorCode::UnsupportedMessage, "{text}");
        }
    }
}
