//! A live run's one word for its last 30 s: the same rules as the verdict,
//! on the counters' deltas over the window.

use shared::why::{LiveState, RunCounters, ShareKind};

use super::rules;

/// The state of a live run over `window` (the counters' deltas over the last
/// [`shared::why::LIVE_WINDOW_S`], `wall_s` about 30), on a machine of `cores`
/// logical cores. `None` when the window is shorter than
/// [`rules::MIN_LIVE_S`] or the run's CPU time was not measured in it.
///
/// The word is the bound of [`super::judge`] on the window: the GPU busy more
/// than half of it is GPU-bound; the GPU idle under a saturated CPU is
/// CPU-bound (the CPU is what the loop waits for); else the bar's biggest
/// share. `cores` only words the verdict; the state does not depend on it.
pub fn live_state(window: &RunCounters, _cores: u32) -> Option<LiveState> {
    let bar = rules::bar(window, rules::MIN_LIVE_S).ok()?;
    let gpu = rules::gpu(window, bar.wall_s);
    Some(match rules::bound(&bar, &gpu) {
        ShareKind::Cpu | ShareKind::GpuStarved => LiveState::CpuBound,
        ShareKind::CpuWait => LiveState::WaitingForCpu,
        ShareKind::Io => LiveState::IoStalled,
        ShareKind::Memory => LiveState::MemoryStalled,
        ShareKind::GpuBusy | ShareKind::GpuThrottled => LiveState::GpuBound,
        ShareKind::Idle => LiveState::Idle,
    })
}
