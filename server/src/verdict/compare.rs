//! What moved from one run's verdict to the next: "IO stall 4 % → 37 %".

use shared::why::{Change, Share, Verdict};

use super::words::percent_words;

/// A share moved when its percent changed by at least this many percentage
/// points (PerfMon's own choice, in `docs/verdict.md`): a smaller move is not
/// named, so the list shows what changed rather than noise.
pub const CHANGE_POINTS: f64 = 5.0;

/// The shares (the bar's and the GPUs') that moved by at least
/// [`CHANGE_POINTS`] from `before` to `after`, biggest move first (ties in the
/// bar's order). Empty when either run is not judged; a share only one of them
/// measured is not compared (a figure that was not measured is not 0).
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
