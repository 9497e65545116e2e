//! `use_perf_metrics`: the project's live `perf_metrics` stream.
//!
//! Opens a WebSocket to the page's own host (`wss://` under `https://`), decodes
//! every frame as a [`shared::ServerMsg`], and reconnects with exponential backoff
//! (1 s doubling to 30 s) when the socket drops. The socket is closed when the
//! component unmounts or the project changes.

use std::rc::Rc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::oneshot;
use futures::future::select;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use shared::{PerfMetrics, ServerMsg};
use yew::prelude::*;

/// The first wait before reconnecting.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between reconnects.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where the socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Opening the socket (first time or after a drop).
    #[default]
    Connecting,
    /// Frames are arriving.
    Open,
    /// The socket dropped; a reconnect is scheduled.
    Reconnecting,
}

/// What the hook hands to components.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerfMetricsHandle {
    /// The newest sample; `None` until the first one arrives.
    pub metrics: Option<Rc<PerfMetrics>>,
    /// The socket's state.
    pub connection: Connection,
    /// The last error the server reported, for display.
    pub server_error: Option<String>,
}

/// Changes to the handle, applied by the socket task.
// One action at a time, consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum PerfAction {
    /// A socket is being opened.
    Connecting,
    /// A message arrived.
    Received(ServerMsg),
    /// The socket closed or failed.
    Dropped,
}

impl Reducible for PerfMetricsHandle {
    type Action = PerfAction;

    fn reduce(self: Rc<Self>, action: PerfAction) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            PerfAction::Connecting => {
                if next.connection == Connection::Open {
                    next.connection = Connection::Reconnecting;
                }
            }
            PerfAction::Received(ServerMsg::PerfMetrics(metrics)) => {
                next.connection = Connection::Open;
                next.metrics = Some(Rc::new(metrics));
            }
            PerfAction::Received(ServerMsg::History(history)) => {
                next.connection = Connection::Open;
                match history.samples.into_iter().last() {
                    Some(newest) => next.metrics = Some(Rc::new(newest)),
                    None => return self,
                }
            }
            PerfAction::Received(ServerMsg::Pong) => return self,
            PerfAction::Received(ServerMsg::Error(err)) => next.server_error = Some(err.message),
            PerfAction::Dropped => next.connection = Connection::Reconnecting,
        }
        Rc::new(next)
    }
}

/// The WebSocket URL of `project` on the server that served `location`.
pub fn stream_url(protocol: &str, host: &str, project: &str) -> String {
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    format!(
        "{scheme}://{host}/ws/projects/{}",
        js_sys::encode_uri_component(project)
    )
}

/// The next backoff after `current`: doubled, at most [`MAX_BACKOFF`].
pub fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

/// Subscribes to `project`'s metrics for as long as the component is mounted.
#[hook]
pub fn use_perf_metrics(project: &str) -> PerfMetricsHandle {
    let state = use_reducer(PerfMetricsHandle::default);
    {
        let dispatcher = state.dispatcher();
        use_effect_with(project.to_owned(), move |project| {
            let url = page_stream_url(project);
            // Dropping `cancel` (on unmount) ends the task and closes its socket.
            let (cancel, cancelled) = oneshot::channel::<()>();
            if let Some(url) = url {
                yew::platform::spawn_local(async move {
                    let task = Box::pin(stream(url, dispatcher));
                    let _ = select(task, cancelled).await;
                });
            }
            move || drop(cancel)
        });
    }
    (*state).clone()
}

fn page_stream_url(project: &str) -> Option<String> {
    let location = web_sys::window()?.location();
    Some(stream_url(
        &location.protocol().ok()?,
        &location.host().ok()?,
        project,
    ))
}

async fn stream(url: String, dispatch: UseReducerDispatcher<PerfMetricsHandle>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        dispatch.dispatch(PerfAction::Connecting);
        if let Ok(socket) = WebSocket::open(&url) {
            let (_sink, mut frames) = socket.split();
            while let Some(frame) = frames.next().await {
                let text = match frame {
                    Ok(Message::Text(text)) => text,
                    Ok(Message::Bytes(_)) => continue,
                    Err(_) => break,
                };
                match serde_json::from_str::<ServerMsg>(&text) {
                    Ok(msg) => {
                        backoff = FIRST_BACKOFF;
                        dispatch.dispatch(PerfAction::Received(msg));
                    }
                    // A newer server may send messages this build does not know.
                    Err(err) => web_sys::console::warn_1(
                        &format!("PerfMon: undecodable message: {err}").into(),
                    ),
                }
            }
        }
        dispatch.dispatch(PerfAction::Dropped);
        yew::platform::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        let mut b = FIRST_BACKOFF;
        let mut seen = vec![b.as_secs()];
        for _ in 0..7 {
            b = next_backoff(b);
            seen.push(b.as_secs());
        }
        assert_eq!(seen, [1, 2, 4, 8, 16, 30, 30, 30]);
    }
}
