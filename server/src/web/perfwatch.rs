//! `GET /api/ws/metrics`: PerfWatch's stream, so a PerfWatch client can use
//! PerfMon as its back end: every five seconds `{"type":"metrics",…}` (the
//! hub's [`crate::hub::perfwatch`] feed), and `{"type":"pong"}` for a `ping`.
//!
//! It is held to the same rules as the project streams: the guard's Host and
//! Origin checks, a connection slot, the token or JWT (PerfWatch passes its JWT
//! as `?token=`; a forged or expired one closes with 4001 and the reason), the
//! reader's limits and the writer's timeouts — the same upgrade and the same
//! two halves.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::AppState;
use super::ws::{stream, upgrade};

/// Upgrades to PerfWatch's stream.
pub async fn handler(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    upgrade(&state, ws, &headers, query.as_deref(), None, |socket, state, slot| async move {
        // Subscribed before `first` is built: when there is no sample yet, the
        // feed publishes the first one to every listener, this one included.
        let frames = state.hub.perfwatch().subscribe();
        // The newest sample at once, so a client has data before the next tick;
        // not the feed's last frame, which is as old as its last listener.
        let first = crate::hub::perfwatch::newest(&state.hub);
        stream(socket, first.into_iter().collect(), frames, state, slot, "the PerfWatch stream").await
    })
}
