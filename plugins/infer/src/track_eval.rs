// SPDX-License-Identifier: MIT OR Apache-2.0
//! Tracking accuracy against ground truth: the CLEAR MOT measures (MOTA, ID switches), the
//! identity measures (IDF1; Ristani et al., 2016) and HOTA (Luiten et al., 2021), on boxes
//! matched at IoU, as py-motmetrics and TrackEval compute them (a test checks the figures
//! against both on the same data); and the position of a single small ball, frame by frame.
//!
//! Written here rather than called from Python so `cveval` stays one Rust program; the
//! optimal assignments come from `pathfinding`.

use std::collections::HashMap;

use pathfinding::prelude::{kuhn_munkres, Matrix};

use crate::decode::iou;

/// A tracked box: identity and corners (x1, y1, x2, y2), pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackedBox {
    pub id: u64,
    pub bbox: [f32; 4],
}

/// The figures of one class over a set of sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MotResults {
    pub frames: usize,
    /// Ground-truth boxes, predicted boxes, identities of each.
    pub gt_dets: usize,
    pub pred_dets: usize,
    pub gt_ids: usize,
    pub pred_ids: usize,
    pub matches: usize,
    pub false_negatives: usize,
    pub false_positives: usize,
    pub id_switches: usize,
    pub mota: f64,
    pub idtp: usize,
    pub idf1: f64,
    pub hota: f64,
    pub deta: f64,
    pub assa: f64,
}

/// One sequence's frames: ground truth and predictions.
type Sequence = Vec<(Vec<TrackedBox>, Vec<TrackedBox>)>;

/// Tracking accuracy of one class, sequence by sequence (identities are per sequence).
#[derive(Debug, Clone, Default)]
pub struct MotEval {
    sequences: Vec<Sequence>,
}

/// IoU at which a prediction matches a ground-truth box (CLEAR MOT and IDF1).
const MATCH_IOU: f64 = 0.5;
const EPS: f64 = 1e-9;

/// An optimal assignment maximising `score` (at most a few units a pair) over rows and
/// columns; pairs scoring `None` are never taken; with `most_pairs`, as many pairs as possible
/// first (as an assignment that minimises distances over a full matrix does, py-motmetrics' and
/// TrackEval's CLEAR matching), else the largest total alone (TrackEval's HOTA, the identity
/// measures). (row, column) pairs. The Hungarian method of `pathfinding`, on scores in
/// millionths.
pub fn best_assignment(
    rows: usize,
    cols: usize,
    most_pairs: bool,
    score: impl Fn(usize, usize) -> Option<f64>,
) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let transpose = rows > cols;
    let (r, c) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    // Scores are at most 1 (overlaps, alignment) or whole counts of frames.
    const SCALE: f64 = 1e6;
    let pair = if most_pairs {
        (r as i64 + 1) * SCALE as i64 * 1000
    } else {
        0
    };
    let mut weights = Matrix::new(r, c, 0i64);
    let mut allowed = Matrix::new(r, c, false);
    for i in 0..r {
        for j in 0..c {
            let (row, col) = if transpose { (j, i) } else { (i, j) };
            if let Some(v) = score(row, col) {
                weights[(i, j)] = pair + (v * SCALE).round() as i64;
                allowed[(i, j)] = true;
            }
        }
    }
    let (_, assigned) = kuhn_munkres(&weights);
    assigned
        .into_iter()
        .enumerate()
        .filter(|&(i, j)| allowed[(i, j)])
        .map(|(i, j)| if transpose { (j, i) } else { (i, j) })
        .collect()
}

fn overlap(a: &TrackedBox, b: &TrackedBox) -> f64 {
    iou(&a.bbox, &b.bbox) as f64
}

impl MotEval {
    pub fn new() -> MotEval {
        MotEval::default()
    }

    /// Starts a new sequence (a clip): identities of different sequences are different objects.
    pub fn new_sequence(&mut self) {
        self.sequences.push(Vec::new());
    }

    /// Adds a frame of the current sequence.
    pub fn add_frame(&mut self, truth: &[TrackedBox], preds: &[TrackedBox]) {
        if self.sequences.is_empty() {
            self.new_sequence();
        }
        let seq = self.sequences.last_mut().expect("a sequence");
        seq.push((truth.to_vec(), preds.to_vec()));
    }

    /// Every sequence's frames, for tests and exports.
    pub fn sequences(&self) -> &[Sequence] {
        &self.sequences
    }

    pub fn results(&self) -> MotResults {
        let mut r = MotResults::default();
        let mut hota_tp = [0f64; 19];
        let mut hota_fn = [0f64; 19];
        let mut hota_fp = [0f64; 19];
        let mut hota_ass = [0f64; 19];
        for seq in &self.sequences {
            clear(seq, &mut r);
            let (idtp, gt_ids, pred_ids) = identity(seq);
            r.idtp += idtp;
            r.gt_ids += gt_ids;
            r.pred_ids += pred_ids;
            hota(seq, &mut hota_tp, &mut hota_fn, &mut hota_fp, &mut hota_ass);
        }
        let gt = r.gt_dets as f64;
        r.mota = if gt > 0.0 {
            1.0 - (r.false_negatives + r.false_positives + r.id_switches) as f64 / gt
        } else {
            0.0
        };
        let all = (r.gt_dets + r.pred_dets) as f64;
        r.idf1 = if all > 0.0 {
            2.0 * r.idtp as f64 / all
        } else {
            0.0
        };
        let (mut h, mut d, mut a) = (0.0, 0.0, 0.0);
        for k in 0..19 {
            let deta = hota_tp[k] / (hota_tp[k] + hota_fn[k] + hota_fp[k]).max(1.0);
            let assa = hota_ass[k] / hota_tp[k].max(1.0);
            h += (deta * assa).sqrt();
            d += deta;
            a += assa;
        }
        r.hota = h / 19.0;
        r.deta = d / 19.0;
        r.assa = a / 19.0;
        r
    }
}

/// CLEAR MOT over one sequence: a ground-truth object keeps the prediction it matched last
/// while they still overlap enough; the rest are matched optimally on IoU; a match with another
/// prediction than the object's last is an identity switch.
fn clear(seq: &Sequence, r: &mut MotResults) {
    let mut last: HashMap<u64, u64> = HashMap::new();
    for (truth, preds) in seq {
        r.frames += 1;
        r.gt_dets += truth.len();
        r.pred_dets += preds.len();
        let mut gt_used = vec![false; truth.len()];
        let mut pred_used = vec![false; preds.len()];
        let mut pairs = Vec::new();
        for (g, t) in truth.iter().enumerate() {
            let Some(&h) = last.get(&t.id) else { continue };
            if let Some(p) = preds.iter().position(|p| p.id == h) {
                if !pred_used[p] && overlap(t, &preds[p]) >= MATCH_IOU - EPS {
                    gt_used[g] = true;
                    pred_used[p] = true;
                    pairs.push((g, p));
                }
            }
        }
        let free_g: Vec<usize> = (0..truth.len()).filter(|&g| !gt_used[g]).collect();
        let free_p: Vec<usize> = (0..preds.len()).filter(|&p| !pred_used[p]).collect();
        for (i, j) in best_assignment(free_g.len(), free_p.len(), true, |i, j| {
            let o = overlap(&truth[free_g[i]], &preds[free_p[j]]);
            (o >= MATCH_IOU - EPS).then_some(o)
        }) {
            let (g, p) = (free_g[i], free_p[j]);
            if last.get(&truth[g].id).is_some_and(|&h| h != preds[p].id) {
                r.id_switches += 1;
            }
            pairs.push((g, p));
        }
        for &(g, p) in &pairs {
            last.insert(truth[g].id, preds[p].id);
        }
        r.matches += pairs.len();
        r.false_negatives += truth.len() - pairs.len();
        r.false_positives += preds.len() - pairs.len();
    }
}

/// The identity measures of one sequence: each ground-truth trajectory paired with at most
/// one predicted trajectory, maximising the frames in which the pair overlaps at IoU ≥ 0.5.
/// Returns (IDTP, ground-truth identities, predicted identities).
fn identity(seq: &Sequence) -> (usize, usize, usize) {
    let mut gt_ids: HashMap<u64, usize> = HashMap::new();
    let mut pred_ids: HashMap<u64, usize> = HashMap::new();
    for (truth, preds) in seq {
        for t in truth {
            let n = gt_ids.len();
            gt_ids.entry(t.id).or_insert(n);
        }
        for p in preds {
            let n = pred_ids.len();
            pred_ids.entry(p.id).or_insert(n);
        }
    }
    let mut together = vec![vec![0usize; pred_ids.len()]; gt_ids.len()];
    for (truth, preds) in seq {
        for t in truth {
            for p in preds {
                if overlap(t, p) >= MATCH_IOU - EPS {
                    together[gt_ids[&t.id]][pred_ids[&p.id]] += 1;
                }
            }
        }
    }
    let idtp = best_assignment(gt_ids.len(), pred_ids.len(), false, |g, p| {
        (together[g][p] > 0).then_some(together[g][p] as f64)
    })
    .into_iter()
    .map(|(g, p)| together[g][p])
    .sum();
    (idtp, gt_ids.len(), pred_ids.len())
}

/// HOTA's sums over one sequence, for α = 0.05 … 0.95: true positives, misses, false
/// positives, and the association score summed over true positives.
fn hota(
    seq: &Sequence,
    tp: &mut [f64; 19],
    fneg: &mut [f64; 19],
    fpos: &mut [f64; 19],
    ass: &mut [f64; 19],
) {
    let index = |ids: &mut HashMap<u64, usize>, id: u64| {
        let n = ids.len();
        *ids.entry(id).or_insert(n)
    };
    let mut gid: HashMap<u64, usize> = HashMap::new();
    let mut pid: HashMap<u64, usize> = HashMap::new();
    for (truth, preds) in seq {
        truth.iter().for_each(|t| {
            index(&mut gid, t.id);
        });
        preds.iter().for_each(|p| {
            index(&mut pid, p.id);
        });
    }
    let (ng, np) = (gid.len(), pid.len());
    // Global alignment: how much each pair of trajectories could match, over the sequence.
    let mut potential = vec![vec![0f64; np]; ng];
    let mut gt_count = vec![0f64; ng];
    let mut pred_count = vec![0f64; np];
    let sims: Vec<Vec<Vec<f64>>> = seq
        .iter()
        .map(|(truth, preds)| {
            truth
                .iter()
                .map(|t| preds.iter().map(|p| overlap(t, p)).collect())
                .collect()
        })
        .collect();
    for ((truth, preds), sim) in seq.iter().zip(&sims) {
        let row: Vec<f64> = sim.iter().map(|r| r.iter().sum()).collect();
        let col: Vec<f64> = (0..preds.len())
            .map(|j| sim.iter().map(|r| r[j]).sum())
            .collect();
        for (i, t) in truth.iter().enumerate() {
            for (j, p) in preds.iter().enumerate() {
                let denom = row[i] + col[j] - sim[i][j];
                if denom > EPS {
                    potential[gid[&t.id]][pid[&p.id]] += sim[i][j] / denom;
                }
            }
            gt_count[gid[&t.id]] += 1.0;
        }
        for p in preds {
            pred_count[pid[&p.id]] += 1.0;
        }
    }
    let align: Vec<Vec<f64>> = (0..ng)
        .map(|g| {
            (0..np)
                .map(|p| {
                    let d = gt_count[g] + pred_count[p] - potential[g][p];
                    if d > EPS {
                        potential[g][p] / d
                    } else {
                        0.0
                    }
                })
                .collect()
        })
        .collect();
    let mut matches = vec![vec![vec![0f64; np]; ng]; 19];
    for ((truth, preds), sim) in seq.iter().zip(&sims) {
        let pairs = best_assignment(truth.len(), preds.len(), false, |i, j| {
            Some(align[gid[&truth[i].id]][pid[&preds[j].id]] * sim[i][j])
        });
        for (k, m) in matches.iter_mut().enumerate() {
            let alpha = 0.05 * (k + 1) as f64;
            let mut n = 0.0;
            for &(i, j) in &pairs {
                if sim[i][j] >= alpha - EPS {
                    n += 1.0;
                    m[gid[&truth[i].id]][pid[&preds[j].id]] += 1.0;
                }
            }
            tp[k] += n;
            fneg[k] += truth.len() as f64 - n;
            fpos[k] += preds.len() as f64 - n;
        }
    }
    for (k, m) in matches.iter().enumerate() {
        for g in 0..ng {
            for p in 0..np {
                if m[g][p] > 0.0 {
                    let a = m[g][p] / (gt_count[g] + pred_count[p] - m[g][p]);
                    ass[k] += m[g][p] * a;
                }
            }
        }
    }
}

/// Precision, recall and F1 of a single ball's position: a frame's prediction is right when it
/// lies within `tolerance` pixels of the true centre.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointEval {
    pub truths: usize,
    pub predictions: usize,
    pub hits: usize,
}

impl PointEval {
    pub fn add_frame(
        &mut self,
        truth: Option<(f32, f32)>,
        pred: Option<(f32, f32)>,
        tolerance: f32,
    ) {
        self.truths += usize::from(truth.is_some());
        self.predictions += usize::from(pred.is_some());
        if let (Some(t), Some(p)) = (truth, pred) {
            if (t.0 - p.0).hypot(t.1 - p.1) <= tolerance {
                self.hits += 1;
            }
        }
    }

    pub fn precision(&self) -> f64 {
        self.hits as f64 / self.predictions.max(1) as f64
    }

    pub fn recall(&self) -> f64 {
        self.hits as f64 / self.truths.max(1) as f64
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(id: u64, x: f32) -> TrackedBox {
        TrackedBox {
            id,
            bbox: [x, 0.0, x + 10.0, 20.0],
        }
    }

    #[test]
    fn perfect_tracks_score_one() {
        let mut e = MotEval::new();
        for f in 0..10 {
            let truth = [b(1, f as f32), b(2, 100.0 + f as f32)];
            let preds = [b(7, f as f32), b(9, 100.0 + f as f32)];
            e.add_frame(&truth, &preds);
        }
        let r = e.results();
        assert_eq!((r.mota, r.idf1, r.id_switches), (1.0, 1.0, 0));
        assert!((r.hota - 1.0).abs() < 1e-9, "{}", r.hota);
    }

    #[test]
    fn a_swap_is_one_switch_per_object_and_halves_the_identity_score() {
        let mut e = MotEval::new();
        for f in 0..10 {
            let truth = [b(1, 0.0), b(2, 100.0)];
            // The predicted identities swap after frame 4.
            let (x, y) = if f < 5 { (7, 9) } else { (9, 7) };
            e.add_frame(&truth, &[b(x, 0.0), b(y, 100.0)]);
        }
        let r = e.results();
        assert_eq!(r.id_switches, 2);
        assert!((r.mota - (1.0 - 2.0 / 20.0)).abs() < 1e-9);
        assert!((r.idf1 - 0.5).abs() < 1e-9, "{}", r.idf1);
        // Each object shares half its frames with each prediction: AssA 5 / (10 + 10 - 5).
        assert!((r.hota - (1.0f64 / 3.0).sqrt()).abs() < 1e-9, "{}", r.hota);
    }

    #[test]
    fn misses_and_false_positives_count() {
        let mut e = MotEval::new();
        e.add_frame(&[b(1, 0.0), b(2, 100.0)], &[b(5, 0.0), b(6, 300.0)]);
        let r = e.results();
        assert_eq!((r.false_negatives, r.false_positives, r.matches), (1, 1, 1));
        assert!((r.mota - 0.0).abs() < 1e-9);
    }

    #[test]
    fn ball_points_hit_within_the_tolerance() {
        let mut e = PointEval::default();
        e.add_frame(Some((10.0, 10.0)), Some((12.0, 10.0)), 3.0);
        e.add_frame(Some((10.0, 10.0)), Some((20.0, 10.0)), 3.0);
        e.add_frame(Some((10.0, 10.0)), None, 3.0);
        e.add_frame(None, Some((1.0, 1.0)), 3.0);
        assert_eq!((e.truths, e.predictions, e.hits), (3, 3, 1));
        assert!((e.f1() - 1.0 / 3.0).abs() < 1e-9);
    }
}
