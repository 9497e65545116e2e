//! What moved from one run's verdict to the next: "IO stall 4 % → 37 %".

use shared::why::{Change, Share, ShareKind, Verdict};

use super::rules::ATTRIBUTION_ORDER;
use super::words::percent_words;

/// A share moved when its percent changed by at least this many percentage
/// points (PerfMon's own choice, in `docs/verdict.md`): a smaller move is not
/// named, so the list shows what changed rather than noise.
pub const CHANGE_POINTS: f64 = 5.0;

/// The shares (the bar's and the GPUs') that moved by at least
/// [`CHANGE_POINTS`] from `before` to `after`, biggest move first (ties in the
/// bar's order). Empty when either run is not judged; a share only one of them
/// measured is not compared (a figure that was not measured is not 0), nor a
/// share of the bar that a kind measured in only one run could have taken time
/// from (see [`comparable`]).
pub fn changes(before: &Verdict, after: &Verdict) -> Vec<Change> {
    if !(before.judged && after.judged) {
        return Vec::new();
    }
    let all = |v: &'_ Verdict| v.shares.iter().chain(&v.gpu_shares).cloned().collect::<Vec<Share>>();
    let earlier = all(before);
    let mut moved: Vec<Change> = all(after)
        .into_iter()
        .filter_map(|now| {
            let was = earlier.iter().find(|s| s.kind == now.kind)?;
            if !comparable(now.kind, before, after) {
                return None;
            }
            // A hair under, so 4.1 → 9.1 (4.999… in floating point) counts as 5.
            ((now.percent - was.percent).abs() >= CHANGE_POINTS - 1e-9).then(|| Change {
                kind: now.kind,
                before: was.percent,
                after: now.percent,
                text: format!(
                    "{} {} → {}",
                    now.kind.label(),
                    percent_words(was.percent),
                    percent_words(now.percent)
                ),
            })
        })
        .collect();
    let size = |c: &Change| (c.after - c.before).abs();
    moved.sort_by(|a, b| size(b).total_cmp(&size(a)).then(a.kind.cmp(&b.kind)));
    moved
}

/// Whether `kind`'s share means the same in both verdicts. The bar hands wall
/// time out in [`ATTRIBUTION_ORDER`], and idle is what is left: a kind that
/// one run measured and the other did not leaves its time, in the other, to
/// the kinds after it and to idle. So a bar share compares only where every
/// kind handed time before it was measured in both runs or in neither; the
/// GPUs' shares stand alone.
fn comparable(kind: ShareKind, before: &Verdict, after: &Verdict) -> bool {
    let earlier: &[ShareKind] = match ATTRIBUTION_ORDER.iter().position(|k| *k == kind) {
        Some(at) => &ATTRIBUTION_ORDER[..at],
        None if kind == ShareKind::Idle => &ATTRIBUTION_ORDER,
        None => &[],
    };
    let measured = |v: &Verdict, k: ShareKind| v.shares.iter().any(|s| s.kind == k);
    earlier.iter().all(|k| measured(before, *k) == measured(after, *k))
}
