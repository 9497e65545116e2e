//! The accept loop: hyper's HTTP/1 server over the router, as `axum::serve`
//! runs it, with what that leaves out — a deadline for a request's headers.
//!
//! `axum::serve` gives hyper no timer, so a connection that never finishes its
//! headers (or never sends a byte) was kept for ever: enough of them used up
//! the process's file descriptors and new connections were refused. Here every
//! connection must finish a request's headers within a deadline
//! ([`HEADER_READ_TIMEOUT`] unless configured) of waiting for one — a new
//! connection, and a kept-alive one between requests — or it is closed. A WebSocket, once upgraded, is the stream's to
//! keep alive (its pings). HTTP/1 only, hyper's own connection: PerfMon's
//! clients are browsers and tools on HTTP/1.1, and hyper-util's
//! protocol-detecting builder (what `axum::serve` uses) waits for a first
//! 24 bytes with no deadline at all.
//!
//! The connection handling is hyper's, with hyper-util's timer and tower
//! adapter, the pieces `axum::serve` is made of; the loop and its graceful
//! shutdown are `axum::serve`'s.

use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long a connection may take to send a request's headers once it is
/// waited for: far over any real client's (they send them at once), short
/// enough that idle sockets cannot pile up.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long to wait before accepting again when the process is out of file
/// descriptors (or the kernel of memory): accepting at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` until `shutdown` is cancelled, each accepted
/// socket first given to `tune`, each closed if its headers take longer than
/// `header_read_timeout`; then waits for the requests under way (not the
/// WebSockets: they end with the token themselves).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    header_read_timeout: Duration,
    tune: impl Fn(&TcpStream),
) {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    // Each connection's task holds a receiver: when all are dropped, every
    // connection has ended.
    let (ended, connections) = tokio::sync::watch::channel(());
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) if is_connection_error(&err) => continue,
                Err(err) => {
                    tracing::error!("cannot accept connections: {err}; trying again in {ACCEPT_BACKOFF:?}");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        tune(&stream);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let (shutdown, held) = (shutdown.clone(), connections.clone());
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                () = shutdown.cancelled() => {
                    // Ends the request under way, then the connection.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(err) = ended {
                tracing::trace!("a connection ended: {err}");
            }
            drop(held);
        });
    }
    drop((listener, connections));
    ended.closed().await;
}

/// An error of one connection (gone before it was accepted), not of the
/// listener: the next accept is tried at once.
fn is_connection_error(err: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(err.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}
