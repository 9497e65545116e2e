//! A client that stops reading: once the kernel's buffers between it and the
//! server are full, its sends stall, the send timeout drops it, the other
//! clients keep their cadence, and the server's memory stays bounded. Runs the
//! real `perfmon` binary at a fast cadence, so the buffers fill in seconds.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use server::cli::client::Method;
use server::testkit::{Perfmon, call, connections, eventually};
use tokio_tungstenite::tungstenite::Message;

const CADENCE_MS: u64 = 20;
const READERS: usize = 3;

/// A client with a tiny receive buffer that never reads: the server's sends to it
/// fill the kernel's buffers after a few hundred KB and then stall.
async fn stalled_client(addr: std::net::SocketAddr, project: &str) -> server::testkit::Client {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("a small receive buffer");
    let stream = socket.connect(addr).await.expect("connect");
    let url = format!("ws://{addr}{}", shared::stream_path(project));
    tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
        .await
        .expect("upgrade")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_the_others_keep_their_cadence() {
    let cadence = CADENCE_MS.to_string();
    let perfmon = Perfmon::serve(
        Path::new(env!("CARGO_BIN_EXE_perfmon")),
        &["--live-interval-ms", &cadence, "--static-dir", "/nonexistent"],
    )
    .await;
    let mut run = Command::new("sleep").arg("300").spawn().expect("spawn a run");
    let body = serde_json::json!({ "pid": run.id() });
    call(&perfmon.api(), Method::POST, "/api/projects/slow/run", Some(body)).await.expect("register the run");

    let stalled = stalled_client(perfmon.addr, "slow").await;
    let done = tokio_util::sync::CancellationToken::new();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut ws = server::testkit::connect(perfmon.addr, "slow").await;
        let done = done.clone();
        readers.push(tokio::spawn(async move {
            // The seq of every sample received, until the test is done.
            let mut seqs = Vec::new();
            while let Some(Some(Ok(frame))) = done.run_until_cancelled(ws.next()).await {
                if let Message::Text(text) = frame
                    && let Ok(shared::ServerMsg::PerfMetrics(m)) = serde_json::from_str(text.as_str())
                {
                    seqs.push(m.seq);
                }
            }
            seqs
        }));
    }
    let api = perfmon.api();
    eventually(Duration::from_secs(10), "every client connected", || async {
        (connections(&api).await == READERS as u64 + 1).then_some(())
    })
    .await;
    let rss_before = perfmon.usage().1;

    // The stalled client is dropped: its buffers fill, its send times out (10 s).
    // Well before a silent client would be (60 s without a pong, checked at the
    // 20 s pings), so it is the send timeout that drops it.
    let stalled_at = std::time::Instant::now();
    eventually(Duration::from_secs(45), "the stalled client is dropped by the send timeout", || async {
        (connections(&api).await == READERS as u64).then_some(())
    })
    .await;
    let rss_after = perfmon.usage().1;
    eprintln!("dropped after {:?}; server RSS {rss_before} -> {rss_after} bytes", stalled_at.elapsed());
    done.cancel();

    for reader in readers {
        let seqs = reader.await.expect("reader");
        let (first, last) = (seqs.first().copied().unwrap_or(0), seqs.last().copied().unwrap_or(0));
        let span = last.saturating_sub(first) + 1;
        // A reader skips a sample only when it reads too slowly; on a loaded
        // machine some do, but nothing like the stalled client's fate.
        assert!(seqs.len() as u64 * 2 >= span, "a reader got {} of {span} samples", seqs.len());
        assert!(span >= 200, "a reader kept streaming: {span} samples");
    }
    // What the stall may hold is one frame being sent and the socket's capped
    // kernel buffer; a few MB of slack is the allocator's, not a queue.
    assert!(
        rss_after <= rss_before + 8_000_000,
        "server memory grew from {rss_before} to {rss_after} bytes while a client stalled"
    );
    drop(stalled);
    let _ = run.kill();
    let _ = run.wait();
}
