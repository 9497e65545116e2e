//! The server's per-tick costs: one sampler tick, one serialisation, and one
//! publish to N subscribers (which must stay flat in N: frames are serialised once
//! and shared, never per client).
//!
//! `cargo bench -p server` (see BENCHMARKS.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use server::sampling::HostSampler;
use server::{Hub, ProjectName};
use shared::ServerMsg;

const FULL: &str = include_str!("../../shared/tests/fixtures/full_perf_metrics.json");

fn full_message() -> ServerMsg {
    serde_json::from_str(FULL).expect("fixture decodes")
}

fn sampler_tick(c: &mut Criterion) {
    let mut sampler = HostSampler::new();
    c.bench_function("sampler tick (all host metrics, no run)", |b| {
        b.iter(|| black_box(sampler.sample(&[])))
    });
    let me = std::process::id();
    c.bench_function("sampler tick (with a run: process-tree scan)", |b| {
        b.iter(|| black_box(sampler.sample(&[me])))
    });
}

fn serialise(c: &mut Criterion) {
    let msg = full_message();
    c.bench_function("serialise one perf_metrics", |b| {
        b.iter(|| black_box(serde_json::to_string(black_box(&msg)).expect("serialises")))
    });
}

fn publish(c: &mut Criterion) {
    // A real reading of this machine, published again and again.
    let sample = HostSampler::new().sample(&[]);
    let mut group = c.benchmark_group("publish one tick to N subscribers");
    for n in [1usize, 100, 1_000, 10_000] {
        let hub = Hub::new(Duration::from_secs(1), Duration::from_secs(1), Duration::from_secs(600));
        let project = ProjectName::parse("bench").expect("name");
        let receivers: Vec<_> = (0..n).map(|_| hub.subscribe(&project).expect("subscribe").frames).collect();
        // A live run, so every publish pushes a frame (idle projects skip ticks).
        hub.start_run(&project, std::process::id()).expect("start a run");
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| hub.publish(sample.clone()))
        });
        drop(receivers);
    }
    group.finish();
}

criterion_group!(benches, sampler_tick, serialise, publish);
criterion_main!(benches);
