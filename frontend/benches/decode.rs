//! The frontend's per-sample cost, natively: decode one `perf_metrics` frame and
//! turn it into what the panel shows (the same code the wasm build runs).
//!
//! `cargo bench -p frontend` (see BENCHMARKS.md).

use std::hint::black_box;
use std::rc::Rc;

use criterion::{Criterion, criterion_group, criterion_main};
use frontend::state::PerfState;
use frontend::stream::Event;
use frontend::view::panel::PanelView;
use shared::ServerMsg;
use yew::Reducible;

const FULL: &str = include_str!("../../shared/tests/fixtures/full_perf_metrics.json");

fn decode(c: &mut Criterion) {
    c.bench_function("decode one perf_metrics (the tag first, as the socket does)", |b| {
        b.iter(|| black_box(frontend::stream::decode::decode(black_box(FULL)).expect("decodes")))
    });
    c.bench_function("decode one perf_metrics (serde's derive: the whole message buffered first)", |b| {
        b.iter(|| black_box(serde_json::from_str::<ServerMsg>(black_box(FULL)).expect("decodes")))
    });
    let ServerMsg::PerfMetrics(m) = serde_json::from_str::<ServerMsg>(FULL).expect("decodes") else {
        unreachable!("the fixture is perf_metrics")
    };
    c.bench_function("panel view of one sample", |b| {
        b.iter(|| black_box(PanelView::new(Some(black_box(&m)))))
    });
    c.bench_function("decode + reduce one frame (the hook's whole path)", |b| {
        let mut state = Rc::new(PerfState::default());
        let mut seq = 0u64;
        b.iter(|| {
            let ServerMsg::PerfMetrics(mut m) = frontend::stream::decode::decode(FULL).expect("decodes")
            else {
                unreachable!("the fixture is perf_metrics")
            };
            seq += 1;
            m.seq = seq;
            state = state.clone().reduce(Event::Message(ServerMsg::PerfMetrics(m), seq as f64));
            black_box(&state);
        })
    });
}

criterion_group!(benches, decode);
criterion_main!(benches);
