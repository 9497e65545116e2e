//! The verdict on a run: where its wall time went, from its integrated
//! counters ([`shared::why::RunCounters`]), with the evidence for each share,
//! one headline sentence, the live run's one word, and what moved since the
//! run before. Pure functions of the counters: no IO, no clock, no state; it
//! uses only `shared`, so the hub, the store and the CLI can all call it.
//!
//! The rules and every threshold, with their sources, are in
//! `docs/verdict.md`; the constants are in [`rules`].
//!
//! # Layout
//! - [`rules`]: the run's wall time handed out in seconds (on CPU, waiting for
//!   a CPU, memory stall, IO stall, idle the rest), the GPUs' seconds beside
//!   it, the share the run is bound by, and the thresholds.
//! - `words`: the headline, each share's evidence, durations in words.
//! - `live`: [`live_state`], the panel's word for the last 30 s.
//! - `compare`: [`changes`], "IO stall 4 % → 37 %".
//!
//! [`judge`] puts them together.

mod compare;
mod live;
pub mod rules;
mod words;

use shared::why::{MIN_JUDGED_S, RunCounters, Share, ShareKind, Verdict};

pub use compare::{CHANGE_POINTS, changes};
pub use live::live_state;
pub use rules::BAR;
pub use words::{duration_words, percent_words};

/// The verdict on a run's `counters`, on a machine of `cores` logical cores
/// (0 when unknown). Not judged (`judged: false`, the headline says why, no
/// shares) when the run is shorter than [`MIN_JUDGED_S`] or its CPU time was
/// not measured. Otherwise `shares` hold every share of the bar that could be
/// told, adding up to 100 (a share that could not be told is left out, and the
/// headline and idle's evidence say so), and `gpu_shares` the GPUs' where a
/// GPU was measured.
pub fn judge(counters: &RunCounters, cores: u32) -> Verdict {
    let cores = (cores > 0).then_some(cores);
    let cores_busy = match (counters.cpu_s().filter(|s| s.is_finite()), counters.wall_s) {
        (Some(cpu_s), wall_s) if wall_s > 0.0 => Some((cpu_s.max(0.0) / wall_s * 100.0).round() / 100.0),
        _ => None,
    };
    let bar = match rules::bar(counters, MIN_JUDGED_S) {
        Ok(bar) => bar,
        Err(why) => {
            return Verdict {
                judged: false,
                headline: words::not_judged(&why),
                cores,
                cores_busy,
                ..Verdict::default()
            };
        }
    };
    let gpu = rules::gpu(counters, bar.wall_s);
    let facts = words::Facts { c: counters, bar: &bar, gpu: &gpu, cores };
    let bound = rules::bound(&bar, &gpu);
    let shares = rules::percents(&bar)
        .into_iter()
        .map(|(kind, percent)| Share { kind, percent, evidence: words::evidence(&facts, kind) })
        .collect();
    let gpu_shares = [
        (ShareKind::GpuBusy, gpu.busy),
        (ShareKind::GpuStarved, gpu.starved),
        (ShareKind::GpuThrottled, gpu.throttled),
    ]
    .into_iter()
    .filter_map(|(kind, seconds)| {
        let percent = rules::tenth(bar.percent(seconds?));
        Some(Share { kind, percent, evidence: words::evidence(&facts, kind) })
    })
    .collect();
    Verdict {
        judged: true,
        headline: words::headline(&facts, bound),
        bound: Some(bound),
        cores_busy,
        cores,
        shares,
        gpu_shares,
    }
}

#[cfg(test)]
mod tests;
