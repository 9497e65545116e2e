//! The server's per-tick costs besides sampling (see `tick.rs` for the tick
//! itself): one serialisation, and one publish until every subscriber has woken
//! and read the frame — which grows with N, since each receiver is a task the
//! runtime must wake, even though the frame is serialised once and shared.
//!
//! `cargo bench -p server --bench server` (see BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use server::sampling::HostSampler;
use server::{Hub, ProjectName};
use shared::ServerMsg;
use tokio::sync::Notify;

const FULL: &str = include_str!("../../shared/tests/fixtures/full_perf_metrics.json");

fn serialise(c: &mut Criterion) {
    let msg: ServerMsg = serde_json::from_str(FULL).expect("fixture decodes");
    c.bench_function("serialise one perf_metrics", |b| {
        b.iter(|| black_box(serde_json::to_string(black_box(&msg)).expect("serialises")))
    });
}

fn publish(c: &mut Criterion) {
    // A multi-threaded runtime on this machine's cores, as the server ran when
    // BENCHMARKS.md's publishing figures were taken; the server now runs one
    // async thread (BENCHMARKS.md, sixteenth session), whose sends to many
    // subscribers the load tool measures.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a runtime");
    // A real reading of this machine, published again and again.
    let sample = HostSampler::new().sample(&[]);
    let mut group = c.benchmark_group("publish one tick until N subscribers have read it");
    for n in [0usize, 1, 100, 1_000, 10_000] {
        let hub =
            Arc::new(Hub::new(Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(600)));
        let project = ProjectName::parse("bench").expect("name");
        // A live run, so every publish pushes a frame (idle projects skip ticks).
        hub.start_run(&project, std::process::id(), None).expect("start a run");
        let read = Arc::new(AtomicUsize::new(0));
        let all_read = Arc::new(Notify::new());
        let receivers: Vec<_> = (0..n)
            .map(|_| {
                let mut frames = hub.subscribe(&project).expect("subscribe").frames;
                let (read, all_read) = (read.clone(), all_read.clone());
                runtime.spawn(async move {
                    while frames.changed().await.is_ok() {
                        black_box(frames.borrow_and_update().clone());
                        if read.fetch_add(1, Ordering::AcqRel) + 1 == n {
                            all_read.notify_one();
                        }
                    }
                })
            })
            .collect();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        read.store(0, Ordering::Release);
                        let t0 = Instant::now();
                        hub.publish(sample.clone());
                        if n > 0 {
                            all_read.notified().await;
                        }
                        total += t0.elapsed();
                    }
                    total
                })
            })
        });
        for receiver in receivers {
            receiver.abort();
        }
    }
    group.finish();
}

criterion_group!(benches, serialise, publish);
criterion_main!(benches);
