//! Helpers shared by the server's integration tests: the real server on port 0,
//! WebSocket clients, and a tiny HTTP client.
#![allow(dead_code)] // Each test file uses its own subset.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::Method;
use futures_util::StreamExt;
use server::Config;
use server::client::{ApiClient, ClientError};
use shared::{PerfMetrics, ServerMsg};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A fast cadence so tests see several ticks quickly.
pub fn fast_config() -> Config {
    Config {
        live_interval: Duration::from_millis(300),
        idle_interval: Duration::from_millis(400),
        ..Config::default()
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub stop: oneshot::Sender<()>,
    pub task: JoinHandle<Result<(), server::ServeError>>,
}

impl Running {
    pub fn api(&self) -> ApiClient {
        ApiClient::new(self.addr)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.task.await.expect("join").expect("server ran");
    }
}

pub async fn start(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, config, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task }
}

pub async fn connect(addr: SocketAddr, project: &str) -> Client {
    let (client, _) =
        connect_async(format!("ws://{addr}/ws/projects/{project}")).await.expect("websocket connects");
    client
}

/// The next server message, skipping protocol frames; fails the test after `limit`.
pub async fn next_msg_within(client: &mut Client, limit: Duration) -> ServerMsg {
    loop {
        let frame = tokio::time::timeout(limit, client.next())
            .await
            .expect("a message in time")
            .expect("stream open")
            .expect("no socket error");
        match frame {
            Message::Text(text) => {
                return serde_json::from_str(text.as_str()).expect("server sends valid ServerMsg JSON");
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub async fn next_msg(client: &mut Client) -> ServerMsg {
    next_msg_within(client, Duration::from_secs(5)).await
}

/// The next live `perf_metrics`, skipping history and other messages.
pub async fn next_metrics(client: &mut Client) -> PerfMetrics {
    loop {
        if let ServerMsg::PerfMetrics(m) = next_msg(client).await {
            return m;
        }
    }
}

/// Reads live samples until one satisfies `pred`; fails after `limit` samples.
pub async fn metrics_until(
    client: &mut Client,
    limit: usize,
    pred: impl Fn(&PerfMetrics) -> bool,
) -> PerfMetrics {
    for _ in 0..limit {
        let m = next_metrics(client).await;
        if pred(&m) {
            return m;
        }
    }
    panic!("no sample within {limit} samples satisfied the condition");
}

/// The close code a socket ends with within `limit`, skipping other frames;
/// `None` if it ends without a close frame. Fails the test past `limit`.
pub async fn close_code_within(client: &mut Client, limit: Duration) -> Option<CloseCode> {
    tokio::time::timeout(limit, async {
        while let Some(frame) = client.next().await {
            if let Ok(Message::Close(close)) = frame {
                return close.map(|c| c.code);
            }
        }
        None
    })
    .await
    .unwrap_or_else(|_| panic!("the socket was not closed within {limit:?}"))
}

/// `method path` with a JSON body; `Ok(body)` on 2xx, `Err((status, body))` otherwise.
pub async fn call(
    api: &ApiClient,
    method: Method,
    path: &str,
    json: Option<serde_json::Value>,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    match api.call(method, path, json.map(|j| j.to_string())).await {
        Ok(body) => Ok(serde_json::from_str(&body).expect("JSON body")),
        Err(ClientError::Refused { status, body }) => {
            Err((status.as_u16(), serde_json::from_str(&body).expect("JSON error body")))
        }
        Err(err) => panic!("server unreachable: {err}"),
    }
}
