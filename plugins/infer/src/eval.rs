// SPDX-License-Identifier: MIT OR Apache-2.0
//! Accuracy against ground truth: mean average precision at one IoU threshold (per class) and
//! PCK for keypoints, the measures of the model cards. Small enough to write here rather than
//! pull a Python toolkit into a Rust evaluator; matching and interpolation follow COCO
//! (greedy matching per frame in score order, 101-point interpolated precision).

use std::collections::BTreeMap;

use crate::decode::iou;

/// One box: class label, score (1 for ground truth), corners (x1, y1, x2, y2) in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledBox {
    pub label: String,
    pub score: f32,
    pub bbox: [f32; 4],
}

#[derive(Debug, Default, Clone)]
struct ClassRecord {
    truths: usize,
    /// (score, true positive) of every prediction.
    preds: Vec<(f32, bool)>,
}

/// Average precision per class at one IoU threshold, accumulated frame by frame.
#[derive(Debug, Clone)]
pub struct DetectionEval {
    iou_threshold: f32,
    classes: BTreeMap<String, ClassRecord>,
}

/// The result for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassAp {
    pub label: String,
    /// Ground-truth objects and predictions seen.
    pub truths: usize,
    pub predictions: usize,
    /// Average precision; `None` without ground truth of this class.
    pub ap: Option<f64>,
    /// Recall over all predictions (at the lowest score kept).
    pub recall: f64,
}

impl DetectionEval {
    pub fn new(iou_threshold: f32) -> Self {
        DetectionEval {
            iou_threshold,
            classes: BTreeMap::new(),
        }
    }

    /// Adds one frame: each prediction, in descending score, takes the unmatched ground truth of
    /// its class with the highest IoU at or above the threshold (a true positive), or none.
    pub fn add_frame(&mut self, truth: &[LabelledBox], preds: &[LabelledBox]) {
        for t in truth {
            self.classes.entry(t.label.clone()).or_default().truths += 1;
        }
        let mut order: Vec<&LabelledBox> = preds.iter().collect();
        order.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut taken = vec![false; truth.len()];
        for p in order {
            let best = truth
                .iter()
                .enumerate()
                .filter(|(i, t)| !taken[*i] && t.label == p.label)
                .map(|(i, t)| (i, iou(&t.bbox, &p.bbox)))
                .filter(|&(_, v)| v >= self.iou_threshold)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                taken[i] = true;
            }
            let rec = self.classes.entry(p.label.clone()).or_default();
            rec.preds.push((p.score, best.is_some()));
        }
    }

    /// Per class, in label order.
    pub fn results(&self) -> Vec<ClassAp> {
        self.classes
            .iter()
            .map(|(label, rec)| {
                let (ap, recall) = average_precision(rec);
                ClassAp {
                    label: label.clone(),
                    truths: rec.truths,
                    predictions: rec.preds.len(),
                    ap,
                    recall,
                }
            })
            .collect()
    }

    /// Mean of the per-class APs over classes that have ground truth.
    pub fn map(&self) -> Option<f64> {
        let aps: Vec<f64> = self.results().iter().filter_map(|c| c.ap).collect();
        (!aps.is_empty()).then(|| aps.iter().sum::<f64>() / aps.len() as f64)
    }
}

/// COCO's 101-point interpolated AP: the mean, over recall levels 0, 0.01 … 1, of the best
/// precision reached at that recall or beyond.
fn average_precision(rec: &ClassRecord) -> (Option<f64>, f64) {
    if rec.truths == 0 {
        return (None, 0.0);
    }
    let mut preds = rec.preds.clone();
    preds.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut tp = 0usize;
    let mut curve = Vec::with_capacity(preds.len());
    for (i, &(_, hit)) in preds.iter().enumerate() {
        tp += hit as usize;
        curve.push((tp as f64 / rec.truths as f64, tp as f64 / (i + 1) as f64));
    }
    // Precision envelope: best precision at this recall or any higher one.
    for i in (0..curve.len().saturating_sub(1)).rev() {
        curve[i].1 = curve[i].1.max(curve[i + 1].1);
    }
    let mut sum = 0.0;
    let mut j = 0;
    for r in 0..=100 {
        let level = r as f64 / 100.0;
        while j < curve.len() && curve[j].0 < level - 1e-12 {
            j += 1;
        }
        if j < curve.len() {
            sum += curve[j].1;
        }
    }
    let recall = curve.last().map_or(0.0, |c| c.0);
    (Some(sum / 101.0), recall)
}

/// A person with keypoints: box, score, and per keypoint (x, y, labelled). For predictions
/// `labelled` is ignored: every predicted keypoint has a position.
#[derive(Debug, Clone, PartialEq)]
pub struct Pose {
    pub bbox: [f32; 4],
    pub score: f32,
    pub keypoints: Vec<(f32, f32, bool)>,
}

/// PCK@α: the share of labelled ground-truth keypoints whose predicted position lies within
/// α·max(box width, box height) of the truth. People are matched one to one by IoU (greedy in
/// score order); every labelled keypoint of an unmatched person counts as missed.
#[derive(Debug, Clone)]
pub struct PckEval {
    alpha: f32,
    iou_threshold: f32,
    /// Correct and labelled keypoints, per keypoint index.
    correct: Vec<u64>,
    labelled: Vec<u64>,
    people: u64,
    matched: u64,
}

impl PckEval {
    pub fn new(alpha: f32, iou_threshold: f32) -> Self {
        PckEval {
            alpha,
            iou_threshold,
            correct: Vec::new(),
            labelled: Vec::new(),
            people: 0,
            matched: 0,
        }
    }

    pub fn add_frame(&mut self, truth: &[Pose], preds: &[Pose]) {
        let mut order: Vec<&Pose> = preds.iter().collect();
        order.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut owner: Vec<Option<&Pose>> = vec![None; truth.len()];
        for p in order {
            let best = truth
                .iter()
                .enumerate()
                .filter(|(i, _)| owner[*i].is_none())
                .map(|(i, t)| (i, iou(&t.bbox, &p.bbox)))
                .filter(|&(_, v)| v >= self.iou_threshold)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((i, _)) = best {
                owner[i] = Some(p);
            }
        }
        for (t, p) in truth.iter().zip(owner) {
            self.people += 1;
            self.matched += p.is_some() as u64;
            if self.labelled.len() < t.keypoints.len() {
                self.labelled.resize(t.keypoints.len(), 0);
                self.correct.resize(t.keypoints.len(), 0);
            }
            let size = (t.bbox[2] - t.bbox[0]).max(t.bbox[3] - t.bbox[1]);
            let reach = self.alpha * size;
            for (k, &(x, y, labelled)) in t.keypoints.iter().enumerate() {
                if !labelled {
                    continue;
                }
                self.labelled[k] += 1;
                let hit = p
                    .and_then(|p| p.keypoints.get(k))
                    .is_some_and(|&(px, py, _)| (px - x).hypot(py - y) <= reach);
                self.correct[k] += hit as u64;
            }
        }
    }

    /// PCK over all labelled keypoints; `None` before any.
    pub fn pck(&self) -> Option<f64> {
        let total: u64 = self.labelled.iter().sum();
        (total > 0).then(|| self.correct.iter().sum::<u64>() as f64 / total as f64)
    }

    /// PCK per keypoint index (`None` where none was labelled).
    pub fn per_keypoint(&self) -> Vec<Option<f64>> {
        self.correct
            .iter()
            .zip(&self.labelled)
            .map(|(&c, &n)| (n > 0).then(|| c as f64 / n as f64))
            .collect()
    }

    /// Ground-truth people seen and how many a prediction matched.
    pub fn people(&self) -> (u64, u64) {
        (self.people, self.matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(label: &str, score: f32, bbox: [f32; 4]) -> LabelledBox {
        LabelledBox {
            label: label.into(),
            score,
            bbox,
        }
    }

    #[test]
    fn perfect_predictions_give_ap_one() {
        let mut e = DetectionEval::new(0.5);
        for f in 0..5 {
            let o = f as f32 * 10.0;
            let truth = [
                lb("player", 1.0, [o, 0.0, o + 50.0, 100.0]),
                lb("shuttle", 1.0, [200.0, 200.0, 210.0, 210.0]),
            ];
            let preds = [
                lb("player", 0.9, [o + 1.0, 1.0, o + 51.0, 99.0]),
                lb("shuttle", 0.6, [201.0, 200.0, 211.0, 210.0]),
            ];
            e.add_frame(&truth, &preds);
        }
        let r = e.results();
        assert_eq!(r.len(), 2);
        for c in &r {
            assert_eq!(c.truths, 5);
            assert!((c.ap.unwrap() - 1.0).abs() < 1e-9, "{c:?}");
            assert_eq!(c.recall, 1.0);
        }
        assert!((e.map().unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn misses_duplicates_and_wrong_classes_lower_ap() {
        let mut e = DetectionEval::new(0.5);
        let truth = [
            lb("player", 1.0, [0.0, 0.0, 10.0, 10.0]),
            lb("player", 1.0, [100.0, 0.0, 110.0, 10.0]),
        ];
        // One hit (0.9), a duplicate of it (0.8, false positive: the truth is taken), a box of the
        // wrong class on the second player, nothing else: recall 1/2.
        let preds = [
            lb("player", 0.9, [0.0, 0.0, 10.0, 10.0]),
            lb("player", 0.8, [0.5, 0.0, 10.0, 10.0]),
            lb("shuttle", 0.95, [100.0, 0.0, 110.0, 10.0]),
        ];
        e.add_frame(&truth, &preds);
        let r = e.results();
        let player = r.iter().find(|c| c.label == "player").unwrap();
        assert_eq!(player.predictions, 2);
        assert_eq!(player.recall, 0.5);
        // Precision 1 up to recall 0.5 (51 of 101 levels), nothing beyond.
        assert!((player.ap.unwrap() - 51.0 / 101.0).abs() < 1e-9);
        let shuttle = r.iter().find(|c| c.label == "shuttle").unwrap();
        assert_eq!(shuttle.ap, None, "no shuttle ground truth");
        assert_eq!(e.map(), player.ap);
    }

    #[test]
    fn high_scoring_false_positive_costs_precision() {
        let mut e = DetectionEval::new(0.5);
        let truth = [lb("player", 1.0, [0.0, 0.0, 10.0, 10.0])];
        // A confident box that misses (IoU 0.33 < 0.5), then the true one.
        let preds = [
            lb("player", 0.9, [5.0, 0.0, 15.0, 10.0]),
            lb("player", 0.5, [0.0, 0.0, 10.0, 10.0]),
        ];
        e.add_frame(&truth, &preds);
        let ap = e.results()[0].ap.unwrap();
        assert!(
            (ap - 0.5).abs() < 1e-9,
            "precision 1/2 at every recall level: {ap}"
        );
        // Ranked the other way round the same boxes give AP 1.
        let mut e = DetectionEval::new(0.5);
        let preds = [
            lb("player", 0.4, [5.0, 0.0, 15.0, 10.0]),
            lb("player", 0.5, [0.0, 0.0, 10.0, 10.0]),
        ];
        e.add_frame(&truth, &preds);
        assert!((e.results()[0].ap.unwrap() - 1.0).abs() < 1e-9);
    }

    fn pose(bbox: [f32; 4], score: f32, kpts: &[(f32, f32, bool)]) -> Pose {
        Pose {
            bbox,
            score,
            keypoints: kpts.to_vec(),
        }
    }

    #[test]
    fn pck_counts_keypoints_within_a_tenth_of_the_box() {
        let mut e = PckEval::new(0.1, 0.5);
        // Box 100 tall: reach 10 px. Keypoint 0 off by 6 (hit), 1 off by 12 (miss), 2 unlabelled.
        let truth = [pose(
            [0.0, 0.0, 50.0, 100.0],
            1.0,
            &[(10.0, 10.0, true), (20.0, 20.0, true), (0.0, 0.0, false)],
        )];
        let preds = [pose(
            [1.0, 0.0, 50.0, 100.0],
            0.8,
            &[(16.0, 10.0, true), (20.0, 32.0, true), (90.0, 90.0, true)],
        )];
        e.add_frame(&truth, &preds);
        assert_eq!(e.pck(), Some(0.5));
        assert_eq!(e.per_keypoint(), vec![Some(1.0), Some(0.0), None]);
        assert_eq!(e.people(), (1, 1));
    }

    #[test]
    fn pck_matches_people_one_to_one_and_misses_the_unmatched() {
        let mut e = PckEval::new(0.1, 0.5);
        let a = [(10.0, 10.0, true)];
        let b = [(110.0, 10.0, true)];
        let truth = [
            pose([0.0, 0.0, 20.0, 20.0], 1.0, &a),
            pose([100.0, 0.0, 120.0, 20.0], 1.0, &b),
        ];
        // Two predictions on the first person (the better scored one takes it) and none on the
        // second: the second's keypoint is missed even though the extra prediction is nearby.
        let preds = [
            pose([0.0, 0.0, 20.0, 20.0], 0.9, &[(10.0, 10.0, true)]),
            pose([0.0, 0.0, 20.0, 21.0], 0.5, &[(110.0, 10.0, true)]),
        ];
        e.add_frame(&truth, &preds);
        assert_eq!(e.people(), (2, 1));
        assert_eq!(e.pck(), Some(0.5));
        assert_eq!(PckEval::new(0.1, 0.5).pck(), None);
    }
}
